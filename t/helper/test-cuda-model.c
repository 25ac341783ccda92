/*
 * test-cuda-model.c — test-tool cuda-model: the whole model on the GPU
 * (model/cuda/gpt_cuda.c) against the CPU reference (model/gpt.c) on one
 * batch: loss, logits and every parameter's gradient, and the GPU's
 * backward run twice giving the same bits.
 *
 *   test-tool cuda-model CONFIG SEED B T
 *   test-tool cuda-model probe     exit 0 in a CUDA build (2 without), printing
 *                                  "gpu", or "emulated" when the CUDA layer
 *                                  is the host emulation (make CUDA=emu)
 *
 * Both start from the same weights, rounded to bf16 (the GPU's matmuls read
 * bf16 weights; rounding the CPU's too leaves only the activations'
 * precision between them). Thresholds (normalized error): logits 2e-2 and
 * gradients 5e-2 — bf16 activations through every layer, each rounding
 * about 4e-3 relative, compound over the layers and the backward's longer
 * chain; a wrong kernel or a wrong wiring gives errors near 1. The mean
 * loss within 1e-2 absolute. Prints one line per check, exits 1 on any
 * failure, 2 without CUDA.
 */
#include "ckpt/ckpt.h"
#include "model/config.h"
#include "model/gpt.h"
#include "model/rng.h"
#include "util/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef LMPIPE_CUDA
#include "cuda-check.h"
#include "model/cuda/gpt_cuda.h"

#define LOGITS_THRESHOLD 2e-2
#define GRADS_THRESHOLD 5e-2
#define LOSS_THRESHOLD 1e-2

static void random_tokens(lm_rng *r, int *x, long n, int V)
{
	for (long i = 0; i < n; i++)
		x[i] = (int)(rng_u64(r) % (uint64_t)V);
}

/* Every logit of the last forward (B*T rows of Vp), via the host. */
static float *gpu_logits(gpt_cuda *g, long rows, int Vp)
{
	float *out = malloc((size_t)rows * Vp * sizeof *out);
	for (long r = 0; r < rows; r++)
		if (gpt_cuda_logits_row(g, r, out + r * Vp) != 0)
			lm_die_last();
	return out;
}

static float *gpu_grads(gpt_cuda *g)
{
	float *out = malloc(g->n * sizeof *out);
	cudaDeviceSynchronize();
	cudaMemcpy(out, g->grads, g->n * sizeof *out, cudaMemcpyDeviceToHost);
	return out;
}

/* Forward with targets and backward from zero gradients; the loss. */
static float gpu_train_pass(gpt_cuda *g, const int *x, const int *y, int B, int T)
{
	float loss = 0;
	if (gpt_cuda_zero_grad(g) != 0 ||
	    gpt_cuda_forward(g, x, y, B, T, 1.0f / (float)(B * T), &loss) != 0 ||
	    gpt_cuda_backward(g) != 0)
		lm_die_last();
	return loss;
}

/* The normalized error of every tensor's gradient; failures counted. */
static int compare_grads(const gpt_model *m, const float *got)
{
	int bad = 0;
	double worst = 0;
	const char *worst_name = "";
	for (int i = 0; i < m->num_tensors; i++) {
		const gpt_tensor *t = &m->tensors[i];
		double e = rel_err(got + t->offset, m->grads + t->offset, t->numel);
		if (!(e <= worst)) {
			worst = e;
			worst_name = t->name;
		}
		if (!(e <= GRADS_THRESHOLD)) {
			char what[96];
			snprintf(what, sizeof what, "gradient of %s", t->name);
			bad += verdict(what, e, GRADS_THRESHOLD);
		}
	}
	char what[96];
	snprintf(what, sizeof what, "gradients, worst tensor %s", worst_name);
	return bad + verdict(what, worst, GRADS_THRESHOLD);
}

static int check_model(const char *config, uint64_t seed, int B, int T)
{
	lm_config cfg;
	gpt_model m;
	if (ckpt_load_config(&cfg, config) != 0 || config_finish(&cfg) != 0 ||
	    gpt_init(&m, &cfg, seed) != 0)
		lm_die_last();
	for (size_t i = 0; i < m.num_params; i++)
		m.params[i] = bf16_round(m.params[i]);
	long BT = (long)B * T;
	int *x = malloc((size_t)BT * sizeof *x), *y = malloc((size_t)BT * sizeof *y);
	lm_rng r;
	rng_seed(&r, seed + 1);
	random_tokens(&r, x, BT, cfg.vocab_size);
	random_tokens(&r, y, BT, cfg.vocab_size);

	float cpu_loss;
	if (gpt_forward(&m, x, y, B, T, &cpu_loss) != 0)
		lm_die_last();
	size_t nlogits = (size_t)BT * cfg.padded_vocab;
	float *cpu_logits = malloc(nlogits * sizeof *cpu_logits);
	memcpy(cpu_logits, m.acts.logits, nlogits * sizeof *cpu_logits);
	if (gpt_zero_grad(&m) != 0 || gpt_backward(&m, 1.0f) != 0)
		lm_die_last();

	gpt_cuda g;
	if (gpt_cuda_open(&g, &m) != 0 || gpt_cuda_forward(&g, x, NULL, B, T, 0, NULL) != 0)
		lm_die_last();
	float *logits = gpu_logits(&g, BT, cfg.padded_vocab);
	int bad = verdict("logits", rel_err(logits, cpu_logits, nlogits), LOGITS_THRESHOLD);
	float loss = gpu_train_pass(&g, x, y, B, T);
	double dl = loss > cpu_loss ? loss - cpu_loss : cpu_loss - loss;
	printf("%s loss: %.6f on the GPU, %.6f on the CPU (|diff| %.2g, threshold %.0e)\n",
	       dl <= LOSS_THRESHOLD ? "ok" : "FAIL", loss, cpu_loss, dl, LOSS_THRESHOLD);
	bad += !(dl <= LOSS_THRESHOLD);
	float *grads = gpu_grads(&g);
	bad += compare_grads(&m, grads);

	gpu_train_pass(&g, x, y, B, T);
	float *again = gpu_grads(&g);
	int same = memcmp(grads, again, g.n * sizeof *grads) == 0;
	printf("%s the backward again gives the same bits\n", same ? "ok" : "FAIL");
	bad += !same;
	bad += !cuda_ok("the model on the GPU");

	gpt_cuda_close(&g);
	gpt_free(&m);
	free(x), free(y), free(cpu_logits), free(logits), free(grads), free(again);
	return bad ? 1 : 0;
}

int cmd__cuda_model(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "probe") == 0) {
#ifdef LMPIPE_CUDA_EMU
		puts("emulated");  /* t/cuda-emu's cuda_runtime_api.h defines it */
#else
		puts("gpu");
#endif
		return 0;
	}
	if (argc != 5) {
		fprintf(stderr, "usage: test-tool cuda-model CONFIG SEED B T\n");
		return 2;
	}
	return check_model(argv[1], strtoull(argv[2], NULL, 10), atoi(argv[3]), atoi(argv[4]));
}

#else

int cmd__cuda_model(int argc, char **argv)
{
	fprintf(stderr, "test-tool: built without CUDA\n");
	return 2;
}

#endif
