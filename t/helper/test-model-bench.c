/*
 * test-model-bench.c — test-tool model-bench: time training steps of the CPU
 * model, for bench/model-cpu.sh.
 *
 *   test-tool model-bench MODEL B T STEPS
 *
 * MODEL is a preset or config. One warm-up step, then STEPS timed steps of
 * forward + backward + clip + AdamW on a fixed random batch; prints
 * "ms_per_step=... tok_per_s=... loss=..." (the median step).
 *
 *   test-tool model-bench --gemm M N K REPS
 *
 * times matmul_forward (M, K) x (N, K)^T alone: best of REPS, in GFLOP/s.
 */
#include "ckpt/ckpt.h"
#include "model/device_model.h"
#include "model/gpt.h"
#include "model/matmul.h"
#include "model/rng.h"
#include "optim/adamw.h"
#include "util/error.h"
#include "util/timer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static int gemm_bench(int M, int N, int K, int reps)
{
	float *a = malloc(sizeof(float) * (size_t)M * K), *w = malloc(sizeof(float) * (size_t)N * K);
	float *c = malloc(sizeof(float) * (size_t)M * N);
	lm_rng rng;
	rng_seed(&rng, 3);
	for (long i = 0; i < (long)M * K; i++)
		a[i] = (float)rng_uniform(&rng);
	for (long i = 0; i < (long)N * K; i++)
		w[i] = (float)rng_uniform(&rng);
	double best = 1e30;
	for (int r = 0; r < reps; r++) {
		double t0 = timer_now();
		matmul_forward(c, a, w, NULL, M, K, N);
		double t = 1e3 * timer_since(t0);
		best = t < best ? t : best;
	}
	printf("gemm %dx%dx%d: %.2f ms, %.1f GFLOP/s\n", M, N, K, best, 2.0 * M * N * K / best / 1e6);
	free(a);
	free(w);
	free(c);
	return 0;
}

int cmd__model_bench(int argc, char **argv)
{
	if (argc == 6 && strcmp(argv[1], "--gemm") == 0)
		return gemm_bench(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]), atoi(argv[5]));
	if (argc != 5) {
		fprintf(stderr, "usage: test-tool model-bench MODEL B T STEPS\n");
		return 2;
	}
	lm_config cfg;
	gpt_model m;
	adamw opt;
	int B = atoi(argv[2]), T = atoi(argv[3]), steps = atoi(argv[4]);
	if (ckpt_load_config(&cfg, argv[1]) != 0 || config_finish(&cfg) != 0 ||
	    gpt_init(&m, &cfg, 1) != 0 || device_model_adamw_init(&opt, &m, ADAMW_DEFAULTS) != 0) {
		fprintf(stderr, "error: %s\n", lm_last_error());
		return 1;
	}
	int *inp = malloc(sizeof(int) * (size_t)(B * T + 1));
	lm_rng rng;
	rng_seed(&rng, 2);
	for (int i = 0; i <= B * T; i++)
		inp[i] = (int)(rng_u64(&rng) % (uint64_t)cfg.vocab_size);
	double *ms = calloc((size_t)steps + 1, sizeof(double));
	float loss = 0.0f;
	for (int s = 0; s <= steps; s++) {
		double t0 = timer_now();
		if (gpt_forward(&m, inp, inp + 1, B, T, &loss) != 0 || gpt_zero_grad(&m) != 0 ||
		    gpt_backward(&m, 1.0f) != 0) {
			fprintf(stderr, "error: %s\n", lm_last_error());
			return 1;
		}
		grad_clip(m.grads, m.num_params, 1.0);
		adamw_step(&opt, m.params, m.grads, 1e-4);
		ms[s] = 1e3 * timer_since(t0);
	}
	qsort(ms + 1, (size_t)steps, sizeof(double), cmp_double);  /* ms[0]: warm-up */
	double med = ms[1 + steps / 2];
	printf("params=%zu ms_per_step=%.1f tok_per_s=%.0f loss=%.4f\n", m.num_params, med,
	       B * T / (med / 1e3), loss);
	free(ms);
	free(inp);
	adamw_free(&opt);
	gpt_free(&m);
	return 0;
}
