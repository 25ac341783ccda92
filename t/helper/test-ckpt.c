/*
 * test-ckpt.c — test-tool ckpt: checkpoints for t3002.
 *
 *   test-tool ckpt save CONFIG SEED PATH       init from SEED, save (step=0)
 *   test-tool ckpt export CONFIG SEED DIR      init, write a transformers dir
 *   test-tool ckpt roundtrip CONFIG SEED PATH  init, save, load: bit-identical?
 *   test-tool ckpt convert MODEL DIR           load MODEL, write a transformers dir
 *   test-tool ckpt logits MODEL B T OUT        load MODEL (checkpoint or
 *        transformers dir), forward a deterministic batch, write "inputs"
 *        (B, T) and "logits" (B, T, V) (the real vocabulary) to OUT
 *   test-tool ckpt logits MODEL B T OUT warm   the same after a forward of a
 *        larger batch (B + 1, T), whose activations the model then reuses
 *   test-tool ckpt tensors FILE        open a safetensors file: one line a
 *        tensor, "NAME ndim=N sum=S" (S the sum of its values as floats)
 */
#include "ckpt/ckpt.h"
#include "ckpt/hf_dir.h"
#include "ckpt/safetensors.h"
#include "model/rng.h"
#include "util/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int init_model(gpt_model *m, const char *config, const char *seed)
{
	lm_config cfg;
	if (ckpt_load_config(&cfg, config) != 0 || config_finish(&cfg) != 0)
		return -1;
	return gpt_init(m, &cfg, strtoull(seed, NULL, 10));
}

static int logits_main(const char *model, int B, int T, const char *out, int warm)
{
	gpt_model m;
	if (ckpt_open_model(&m, model) != 0)
		return -1;
	int V = m.cfg.vocab_size, Vp = m.cfg.padded_vocab, BT = B * T, rc = -1;
	int *tok = malloc(sizeof(int) * (size_t)BT);
	float *ftok = malloc(sizeof(float) * (size_t)BT);
	float *logits = malloc(sizeof(float) * (size_t)BT * (size_t)V);
	lm_rng rng;
	rng_seed(&rng, 1);
	for (int i = 0; i < BT; i++)
		ftok[i] = (float)(tok[i] = (int)(rng_u64(&rng) % (uint64_t)V));
	if (warm) {
		int *big = calloc((size_t)(B + 1) * (size_t)T, sizeof(int));
		int bad = !big || gpt_forward(&m, big, NULL, B + 1, T, NULL) != 0;
		free(big);
		if (bad)
			goto out;
	}
	if (gpt_forward(&m, tok, NULL, B, T, NULL) == 0) {
		for (int i = 0; i < BT; i++)
			memcpy(logits + (size_t)i * V, m.acts.logits + (size_t)i * Vp, sizeof(float) * (size_t)V);
		st_tensor ts[2] = {
			{.name = "inputs", .ndim = 2, .shape = {B, T}, .data = ftok},
			{.name = "logits", .ndim = 3, .shape = {B, T, V}, .data = logits},
		};
		rc = st_write(out, ts, 2, NULL, 0, true);
	}
out:
	free(tok);
	free(ftok);
	free(logits);
	gpt_free(&m);
	return rc;
}

static int roundtrip_main(gpt_model *m, const char *path)
{
	gpt_model back;
	if (ckpt_save(m, path, NULL, 0, true) != 0 || ckpt_open_model(&back, path) != 0)
		return -1;
	int same = back.num_params == m->num_params &&
		   memcmp(back.params, m->params, m->num_params * sizeof(float)) == 0 &&
		   memcmp(&back.cfg.family, &m->cfg.family, sizeof(lm_config) - sizeof m->cfg.name) == 0;
	printf("%s\n", same ? "identical" : "different");
	gpt_free(&back);
	return 0;
}

static int tensors_main(const char *path)
{
	st_file *f = st_open(path);
	if (!f)
		return -1;
	int rc = 0;
	for (int i = 0; rc == 0 && i < st_count(f); i++) {
		int nd;
		int64_t shape[ST_MAX_DIMS], numel = 1;
		st_shape(f, st_name(f, i), &nd, shape);
		for (int d = 0; d < nd; d++)
			numel *= shape[d];
		float *v = malloc(sizeof(float) * (size_t)(numel ? numel : 1));
		rc = v ? st_read(f, st_name(f, i), nd, shape, v) : lm_fail("out of memory");
		double sum = 0;
		for (int64_t j = 0; rc == 0 && j < numel; j++)
			sum += v[j];
		if (rc == 0)
			printf("%s ndim=%d sum=%g\n", st_name(f, i), nd, sum);
		free(v);
	}
	st_close(f);
	return rc;
}

int cmd__ckpt(int argc, char **argv)
{
	gpt_model m;
	int rc = -1;
	memset(&m, 0, sizeof m);
	if (argc == 3 && strcmp(argv[1], "tensors") == 0) {
		rc = tensors_main(argv[2]);
	} else if (argc == 4 && strcmp(argv[1], "convert") == 0) {
		if (ckpt_open_model(&m, argv[2]) == 0)
			rc = hf_dir_export(&m, NULL, argv[3], true);
	} else if ((argc == 6 || argc == 7) && strcmp(argv[1], "logits") == 0) {
		rc = logits_main(argv[2], atoi(argv[3]), atoi(argv[4]), argv[5], argc == 7);
	} else if (argc == 5 && init_model(&m, argv[2], argv[3]) == 0) {
		const char *meta[] = {"step", "0"};
		if (strcmp(argv[1], "save") == 0)
			rc = ckpt_save(&m, argv[4], meta, 1, true);
		else if (strcmp(argv[1], "export") == 0)
			rc = hf_dir_export(&m, NULL, argv[4], true);
		else if (strcmp(argv[1], "roundtrip") == 0)
			rc = roundtrip_main(&m, argv[4]);
		else
			lm_fail("unknown subcommand '%s'", argv[1]);
	} else if (argc < 4 || argc > 7) {
		fprintf(stderr, "usage: test-tool ckpt save|export|roundtrip CONFIG SEED PATH\n"
				"       test-tool ckpt convert MODEL DIR\n"
				"       test-tool ckpt logits MODEL B T OUT\n"
				"       test-tool ckpt tensors FILE\n");
		return 2;
	}
	if (rc != 0)
		fprintf(stderr, "error: %s\n", lm_last_error());
	gpt_free(&m);
	return rc != 0;
}
