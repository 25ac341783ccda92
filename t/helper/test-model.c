/*
 * test-model.c — test-tool model: run the CPU model on a deterministic batch
 * and dump everything the PyTorch oracle (t/py/model_ref.py) compares.
 *
 *   test-tool model CONFIG SEED B T STEPS LR EPS OUTDIR
 *
 * Writes OUTDIR/init.safetensors (every parameter under our tensor names,
 * padding rows included, plus "inputs" and "targets" as floats; metadata:
 * config, padded_vocab, seed), OUTDIR/forward.safetensors ("logits" (B, T,
 * Vp) and "loss"), OUTDIR/grads.safetensors (the gradient of every
 * parameter after one backward), and OUTDIR/after.safetensors (the
 * parameters after STEPS training steps on the same batch: forward, backward,
 * clip at 1.0, AdamW with lm-train(1)'s betas and decay, constant LR, epsilon EPS; with
 * "losses" (STEPS) and "grad_norms" (STEPS)).
 *
 *   test-tool model stages CONFIG
 *
 * The backward's grad stages (model/grad_stages.h): one line a stage with
 * its tensors and spans; exits 1 unless the spans cover every parameter
 * exactly once and every tensor lies in a span of its own stage.
 *
 *   test-tool model accum CONFIG SEED B T
 *
 * Gradient accumulation: the gradients of one backward over a (B, T) batch
 * against B backwards over its rows (B = 1 each, dloss = 1/B), accumulated;
 * prints max|a - b| / max|b| over all gradients.
 */
#include "ckpt/ckpt.h"
#include "ckpt/safetensors.h"
#include "model/config.h"
#include "model/device_model.h"
#include "model/gpt.h"
#include "model/grad_stages.h"
#include "model/rng.h"
#include "optim/adamw.h"
#include "util/error.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Every parameter tensor (data from BASE: params or grads) as st_tensors. */
static st_tensor *model_tensors(const gpt_model *m, const float *base, int extra)
{
	st_tensor *ts = calloc((size_t)(m->num_tensors + extra), sizeof *ts);
	for (int i = 0; i < m->num_tensors; i++) {
		const gpt_tensor *t = &m->tensors[i];
		ts[i].name = t->name;
		ts[i].ndim = t->ndim;
		ts[i].shape[0] = t->shape[0];
		ts[i].shape[1] = t->shape[1];
		ts[i].data = base + t->offset;
	}
	return ts;
}

static int dump(const char *dir, const char *file, const st_tensor *ts, int n,
		const char *const *meta, int nmeta)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", dir, file);
	return st_write(path, ts, n, meta, nmeta, true);
}

static int accum_main(char **argv)
{
	lm_config cfg;
	gpt_model m;
	if (ckpt_load_config(&cfg, argv[0]) != 0 || config_finish(&cfg) != 0 ||
	    gpt_init(&m, &cfg, strtoull(argv[1], NULL, 10)) != 0) {
		fprintf(stderr, "error: %s\n", lm_last_error());
		return 1;
	}
	int B = atoi(argv[2]), T = atoi(argv[3]), BT = B * T;
	int *tok = malloc(sizeof(int) * (size_t)(BT + 1));
	float *whole = malloc(sizeof(float) * m.num_params);
	lm_rng rng;
	rng_seed(&rng, 5);
	for (int i = 0; i <= BT; i++)
		tok[i] = (int)(rng_u64(&rng) % (uint64_t)cfg.vocab_size);
	int rc = 1;
	if (gpt_forward(&m, tok, tok + 1, B, T, NULL) != 0 || gpt_zero_grad(&m) != 0 ||
	    gpt_backward(&m, 1.0f) != 0)
		goto out;
	memcpy(whole, m.grads, sizeof(float) * m.num_params);
	gpt_zero_grad(&m);
	for (int b = 0; b < B; b++)
		if (gpt_forward(&m, tok + b * T, tok + b * T + 1, 1, T, NULL) != 0 ||
		    gpt_backward(&m, 1.0f / B) != 0)
			goto out;
	double err = 0.0, scale = 0.0;
	for (size_t i = 0; i < m.num_params; i++) {
		double d = fabs((double)m.grads[i] - whole[i]);
		err = d > err ? d : err;
		scale = fabs(whole[i]) > scale ? fabs(whole[i]) : scale;
	}
	printf("accumulated vs whole batch: rel %.2e\n", err / scale);
	rc = 0;
out:
	if (rc)
		fprintf(stderr, "error: %s\n", lm_last_error());
	free(tok);
	free(whole);
	gpt_free(&m);
	return rc;
}

/* Does tensor T lie inside one of stage S's spans? */
static bool in_stage(const grad_stages *p, int s, const gpt_tensor *t)
{
	for (int k = p->first[s]; k < p->first[s + 1]; k++)
		if (t->offset >= p->offset[k] && t->offset + t->numel <= p->offset[k] + p->count[k])
			return true;
	return false;
}

/* How many times the spans cover each parameter: 1 everywhere, or the
 * first parameter covered otherwise. */
static long first_miscovered(const grad_stages *p, size_t n)
{
	unsigned char *times = calloc(n ? n : 1, 1);
	for (int k = 0; k < p->num_spans; k++)
		for (size_t i = p->offset[k]; i < p->offset[k] + p->count[k] && i < n; i++)
			times[i]++;
	long bad = -1;
	for (size_t i = 0; i < n && bad < 0; i++)
		if (times[i] != 1)
			bad = (long)i;
	free(times);
	return bad;
}

static int stages_main(const char *config)
{
	lm_config cfg;
	gpt_model m;
	grad_stages p;
	if (ckpt_load_config(&cfg, config) != 0 || config_finish(&cfg) != 0 ||
	    gpt_init(&m, &cfg, 1) != 0 || grad_stages_plan(&p, &m) != 0) {
		fprintf(stderr, "error: %s\n", lm_last_error());
		return 1;
	}
	int bad = 0;
	for (int s = 0; s < p.num_stages; s++) {
		printf("stage %d:", s);
		for (int i = 0; i < m.num_tensors; i++)
			if (grad_stage_of(&m, &m.tensors[i]) == s) {
				printf(" %s", m.tensors[i].name);
				bad += !in_stage(&p, s, &m.tensors[i]);
			}
		printf(" (%d spans)\n", p.first[s + 1] - p.first[s]);
	}
	long miss = first_miscovered(&p, m.num_params);
	if (miss >= 0)
		printf("FAIL: parameter %ld is not covered exactly once\n", miss);
	if (bad)
		printf("FAIL: %d tensors outside their stage's spans\n", bad);
	grad_stages_free(&p);
	gpt_free(&m);
	return miss >= 0 || bad ? 1 : 0;
}

int cmd__model(int argc, char **argv)
{
	if (argc == 6 && strcmp(argv[1], "accum") == 0)
		return accum_main(argv + 2);
	if (argc == 3 && strcmp(argv[1], "stages") == 0)
		return stages_main(argv[2]);
	if (argc != 9) {
		fprintf(stderr, "usage: test-tool model CONFIG SEED B T STEPS LR EPS OUTDIR\n");
		return 2;
	}
	lm_config cfg;
	if (ckpt_load_config(&cfg, argv[1]) != 0 || config_finish(&cfg) != 0) {
		fprintf(stderr, "error: %s\n", lm_last_error());
		return 1;
	}
	unsigned long long seed = strtoull(argv[2], NULL, 10);
	int B = atoi(argv[3]), T = atoi(argv[4]), steps = atoi(argv[5]);
	double lr = atof(argv[6]);
	double eps = atof(argv[7]);
	const char *dir = argv[8];
	gpt_model m;
	if (gpt_init(&m, &cfg, seed) != 0) {
		fprintf(stderr, "error: %s\n", lm_last_error());
		return 1;
	}
	int BT = B * T, Vp = cfg.padded_vocab;
	int *inputs = malloc(sizeof(int) * (size_t)BT), *targets = malloc(sizeof(int) * (size_t)BT);
	float *fin = malloc(sizeof(float) * (size_t)BT), *ftg = malloc(sizeof(float) * (size_t)BT);
	lm_rng rng;
	rng_seed(&rng, seed + 1);
	for (int i = 0; i < BT; i++) {
		inputs[i] = (int)(rng_u64(&rng) % (uint64_t)cfg.vocab_size);
		targets[i] = (int)(rng_u64(&rng) % (uint64_t)cfg.vocab_size);
		fin[i] = (float)inputs[i];
		ftg[i] = (float)targets[i];
	}
	char *cfg_json = config_to_json(&cfg), pv[32];
	snprintf(pv, sizeof pv, "%d", Vp);
	const char *meta[] = {"config", cfg_json, "padded_vocab", pv};
	int rc = 1;

	st_tensor *ts = model_tensors(&m, m.params, 2);
	ts[m.num_tensors] = (st_tensor){.name = "inputs", .ndim = 2, .shape = {B, T}, .data = fin};
	ts[m.num_tensors + 1] = (st_tensor){.name = "targets", .ndim = 2, .shape = {B, T}, .data = ftg};
	if (dump(dir, "init.safetensors", ts, m.num_tensors + 2, meta, 2) != 0)
		goto out;
	free(ts);
	ts = NULL;

	float loss;
	if (gpt_forward(&m, inputs, targets, B, T, &loss) != 0)
		goto out;
	st_tensor fwd[2] = {
		{.name = "logits", .ndim = 3, .shape = {B, T, Vp}, .data = m.acts.logits},
		{.name = "loss", .ndim = 1, .shape = {1}, .data = &loss},
	};
	if (dump(dir, "forward.safetensors", fwd, 2, meta, 2) != 0)
		goto out;
	if (gpt_zero_grad(&m) != 0 || gpt_backward(&m, 1.0f) != 0)
		goto out;
	ts = model_tensors(&m, m.grads, 0);
	if (dump(dir, "grads.safetensors", ts, m.num_tensors, meta, 2) != 0)
		goto out;
	free(ts);
	ts = NULL;

	adamw opt;
	adamw_hparams hp = ADAMW_DEFAULTS;
	hp.eps = eps;
	if (device_model_adamw_init(&opt, &m, hp) != 0)
		goto out;
	float *losses = calloc((size_t)steps + 1, sizeof(float));
	float *norms = calloc((size_t)steps + 1, sizeof(float));
	for (int s = 0; s < steps; s++) {
		if (s > 0 && (gpt_forward(&m, inputs, targets, B, T, &loss) != 0 ||
			      gpt_zero_grad(&m) != 0 || gpt_backward(&m, 1.0f) != 0))
			break;
		losses[s] = loss;
		norms[s] = (float)grad_clip(m.grads, m.num_params, 1.0);
		adamw_step(&opt, m.params, m.grads, lr);
	}
	adamw_free(&opt);
	ts = model_tensors(&m, m.params, 2);
	ts[m.num_tensors] = (st_tensor){.name = "losses", .ndim = 1, .shape = {steps}, .data = losses};
	ts[m.num_tensors + 1] = (st_tensor){.name = "grad_norms", .ndim = 1, .shape = {steps}, .data = norms};
	rc = dump(dir, "after.safetensors", ts, m.num_tensors + 2, meta, 2) != 0;
	free(losses);
	free(norms);
out:
	if (rc)
		fprintf(stderr, "error: %s\n", lm_last_error());
	free(ts);
	free(cfg_json);
	free(inputs);
	free(targets);
	free(fin);
	free(ftg);
	gpt_free(&m);
	return rc;
}
