/*
 * test-cuda-attention.c — test-tool cuda-attention: the flash-attention
 * kernels (share/model/cuda/attention.cu) against the CPU twin
 * (share/model/attention.c), and their timing.
 *
 *   test-tool cuda-attention [SEED]            parity, one line a check
 *   test-tool cuda-attention bench B T NH HS   forward and backward: ms, TFLOP/s
 *
 * Parity, for head sizes 32, 64, 128 over shapes from T = 1 to 1024 (odd T
 * too, so the tiles' edges are crossed): random bf16 qkv, the CPU forward on
 * the same values; out (bf16) within 1e-2, lse (fp32, against the
 * log-sum-exp of the scores in double) within 1e-3; then a random dout,
 * the CPU backward, and dq, dk, dv within 2e-2: looser than out because
 * the kernels round P and dS to bf16 for the tensor-core products (and
 * take D from the bf16 out), and dS = P (dP - D) loses relative precision
 * where dP and D nearly cancel. That cancellation is worst with few keys a
 * row: for T of 2 to 6, D from the rounded out alone moves dq and dk by up
 * to 3e-2 against the fp32 twin (an emulation on the CPU, with no other
 * rounding), so the shapes skip from T = 1 (exact) to T = 7. Last, the
 * backward run twice gives the same bits. Exit 1 on any failure, 2
 * without CUDA.
 */
#include "model/attention.h"
#include "model/rng.h"

#include <stdio.h>
#include <stdlib.h>

#ifdef LMPIPE_CUDA
#include "cuda-check.h"
#include "util/error.h"

#include <math.h>
#include <string.h>

#define OUT_THRESHOLD 1e-2
#define LSE_THRESHOLD 1e-3
#define GRAD_THRESHOLD 2e-2
#define SHORT_T 7                /* below it: few keys a row, see above */
#define SHORT_GRAD_THRESHOLD 6e-2
#define BENCH_WARMUP 3
#define BENCH_RUNS 20

/* ---- CPU references ------------------------------------------------------ */

/* lse (B, NH, T): log sum_{t2 <= t} exp(q_t . k_t2 / sqrt(HS)), in double. */
static void lse_reference(float *lse, const float *qkv, int B, int T, int C, int NH)
{
	int HS = C / NH;
	double scale = 1.0 / sqrt((double)HS);
	double *s = malloc(sizeof *s * (size_t)T);
	for (int b = 0; b < B; b++)
		for (int h = 0; h < NH; h++)
			for (int t = 0; t < T; t++) {
				const float *q = qkv + ((long)b * T + t) * 3 * C + h * HS;
				double mx = -INFINITY, sum = 0;
				for (int t2 = 0; t2 <= t; t2++) {
					const float *k = qkv + ((long)b * T + t2) * 3 * C + C + h * HS;
					double d = 0;
					for (int i = 0; i < HS; i++)
						d += (double)q[i] * k[i];
					s[t2] = d * scale;
					mx = fmax(mx, s[t2]);
				}
				for (int t2 = 0; t2 <= t; t2++)
					sum += exp(s[t2] - mx);
				lse[((long)b * NH + h) * T + t] = (float)(mx + log(sum));
			}
	free(s);
}

/* One third (0 q, 1 k, 2 v) of a (B*T, 3C) tensor, as (B*T, C). */
static float *third(const float *x, long rows, int C, int which)
{
	float *y = malloc(sizeof *y * (size_t)rows * C);
	for (long r = 0; r < rows; r++)
		memcpy(y + r * C, x + r * 3 * C + (long)which * C, sizeof *y * C);
	return y;
}

/* ---- parity -------------------------------------------------------------------- */

static int check_grads(const char *shape, const float *got, const float *want, long rows, int C,
		       double threshold)
{
	static const char *names[] = {"dq", "dk", "dv"};
	int bad = 0;
	for (int w = 0; w < 3; w++) {
		float *g = third(got, rows, C, w), *x = third(want, rows, C, w);
		char what[160];
		snprintf(what, sizeof what, "attention backward %s %s", names[w], shape);
		bad |= verdict(what, rel_err(g, x, (size_t)rows * C), threshold);
		free(g);
		free(x);
	}
	return bad;
}

/* The backward's bits on the host, dqkv poisoned before the run. */
static bf16 *backward_bits(bf16 *d_dqkv, float *d_scratch, const bf16 *d_dout,
			   const bf16 *d_qkv, const bf16 *d_out, const float *d_lse, int B, int T,
			   int C, int NH, size_t n)
{
	cudaMemset(d_dqkv, 0xff, n * sizeof(bf16));
	if (cu_attention_backward(d_dqkv, d_scratch, d_dout, d_qkv, d_out, d_lse, B, T, C, NH, 0)) {
		printf("FAIL cu_attention_backward: %s\n", lm_last_error());
		return NULL;
	}
	if (!cuda_ok("cu_attention_backward"))
		return NULL;
	bf16 *h = malloc(n * sizeof *h);
	cudaMemcpy(h, d_dqkv, n * sizeof *h, cudaMemcpyDeviceToHost);
	return h;
}

/* The forward's out and lse against the CPU's; 1 on a failure. */
static int check_forward(const char *shape, const bf16 *d_out, const float *d_lse,
			 const float *out, const float *lse, size_t nout, size_t nlse)
{
	char what[160];
	float *got_out = host_from_bf16(d_out, nout), *got_lse = host_from_f32(d_lse, nlse);
	snprintf(what, sizeof what, "attention forward out %s", shape);
	int bad = verdict(what, rel_err(got_out, out, nout), OUT_THRESHOLD);
	snprintf(what, sizeof what, "attention forward lse %s", shape);
	bad |= verdict(what, rel_err(got_lse, lse, nlse), LSE_THRESHOLD);
	free(got_out);
	free(got_lse);
	return bad;
}

/* The backward against the CPU's, then again for the same bits. */
static int check_backward(lm_rng *rng, const char *shape, const float *qkv, const float *att,
			  const bf16 *d_qkv, const bf16 *d_out, const float *d_lse, int B, int T,
			  int C, int NH)
{
	long rows = (long)B * T;
	size_t nqkv = (size_t)rows * 3 * C, nout = (size_t)rows * C, nlse = (size_t)B * NH * T;
	float *dout = rand_bf16_floats(rng, nout, 1.0, 0.0);
	bf16 *d_dout = dev_bf16(dout, nout), *d_dqkv = dev_alloc(nqkv * sizeof(bf16));
	float *dqkv = calloc(nqkv, sizeof *dqkv);  /* the CPU backward accumulates */
	attention_backward(dqkv, dout, qkv, att, B, T, C, NH);
	float *d_scratch = dev_alloc(nlse * sizeof(float));
	int bad = 1;
	bf16 *once = backward_bits(d_dqkv, d_scratch, d_dout, d_qkv, d_out, d_lse, B, T, C, NH, nqkv);
	bf16 *twice = once ? backward_bits(d_dqkv, d_scratch, d_dout, d_qkv, d_out, d_lse, B, T, C,
					   NH, nqkv)
			   : NULL;
	if (twice) {
		float *got = malloc(sizeof *got * nqkv);
		for (size_t i = 0; i < nqkv; i++)
			got[i] = bf16_to_float(once[i]);
		bad = check_grads(shape, got, dqkv, rows, C,
				  T < SHORT_T ? SHORT_GRAD_THRESHOLD : GRAD_THRESHOLD);
		char what[160];
		snprintf(what, sizeof what, "attention backward deterministic %s", shape);
		bad |= verdict(what, memcmp(once, twice, nqkv * sizeof *once) ? INFINITY : 0.0, 0.0);
		free(got);
	}
	free(once);
	free(twice);
	free(dout);
	free(dqkv);
	cudaFree(d_dout);
	cudaFree(d_dqkv);
	cudaFree(d_scratch);
	return bad;
}

static int check_shape(lm_rng *rng, int B, int T, int NH, int HS)
{
	int C = NH * HS;
	size_t nqkv = (size_t)B * T * 3 * C, nout = (size_t)B * T * C, nlse = (size_t)B * NH * T;
	char shape[96];
	snprintf(shape, sizeof shape, "HS=%d B=%d T=%d NH=%d", HS, B, T, NH);

	/* scores of std ~2: a softmax neither flat nor one-hot */
	float *qkv = rand_bf16_floats(rng, nqkv, 1.4, 0.0);
	float *out = malloc(sizeof *out * nout), *lse = malloc(sizeof *lse * nlse);
	float *att = malloc(sizeof *att * nlse * T);
	attention_forward(out, att, qkv, B, T, C, NH);
	lse_reference(lse, qkv, B, T, C, NH);

	bf16 *d_qkv = dev_bf16(qkv, nqkv), *d_out = dev_alloc(nout * sizeof(bf16));
	float *d_lse = dev_alloc(nlse * sizeof(float));
	int bad = 1;
	if (cu_attention_forward(d_out, d_lse, d_qkv, B, T, C, NH, 0) != 0)
		printf("FAIL cu_attention_forward %s: %s\n", shape, lm_last_error());
	else if (cuda_ok("cu_attention_forward"))
		bad = check_forward(shape, d_out, d_lse, out, lse, nout, nlse) |
		      check_backward(rng, shape, qkv, att, d_qkv, d_out, d_lse, B, T, C, NH);
	cudaFree(d_qkv);
	cudaFree(d_out);
	cudaFree(d_lse);
	free(qkv);
	free(out);
	free(lse);
	free(att);
	return bad;
}

static int parity(unsigned long seed)
{
	static const int shapes[][3] = {  /* B, T, NH for every head size */
		{1, 1, 1}, {2, 3, 2}, {2, 7, 2}, {1, 15, 2}, {2, 37, 3}, {1, 64, 2}, {1, 65, 2},
		{1, 127, 1}, {1, 130, 2}, {2, 256, 4},
	};
	static const int heads[] = {32, 64, 128};
	lm_rng rng;
	rng_seed(&rng, seed);
	int bad = 0;
	for (size_t h = 0; h < sizeof heads / sizeof *heads; h++)
		for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++)
			bad |= check_shape(&rng, shapes[i][0], shapes[i][1], shapes[i][2], heads[h]);
	bad |= check_shape(&rng, 1, 1024, 12, 64);  /* GPT-2 small's heads at full context */
	bad |= check_shape(&rng, 1, 300, 4, 128);
	return bad;
}

/* ---- timing ------------------------------------------------------------------- */

static int cmp_float(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;
	return (x > y) - (x < y);
}

/* The median ms of BENCH_RUNS runs of the forward (which 0) or backward (1). */
static float time_pass(int which, bf16 *d_out, float *d_lse, bf16 *d_dqkv, float *d_scratch,
		       const bf16 *d_dout, const bf16 *d_qkv, int B, int T, int C, int NH)
{
	cudaEvent_t start, stop;
	cudaEventCreate(&start);
	cudaEventCreate(&stop);
	float ms[BENCH_RUNS];
	for (int i = -BENCH_WARMUP; i < BENCH_RUNS; i++) {
		cudaEventRecord(start, 0);
		int rc = which == 0 ? cu_attention_forward(d_out, d_lse, d_qkv, B, T, C, NH, 0)
				    : cu_attention_backward(d_dqkv, d_scratch, d_dout, d_qkv, d_out,
							    d_lse, B, T, C, NH, 0);
		cudaEventRecord(stop, 0);
		cudaEventSynchronize(stop);
		if (rc != 0 || !cuda_ok(which == 0 ? "forward" : "backward"))
			return -1;
		if (i >= 0)
			cudaEventElapsedTime(&ms[i], start, stop);
	}
	cudaEventDestroy(start);
	cudaEventDestroy(stop);
	qsort(ms, BENCH_RUNS, sizeof *ms, cmp_float);
	return ms[BENCH_RUNS / 2];
}

static int bench(int B, int T, int NH, int HS)
{
	int C = NH * HS;
	size_t nqkv = (size_t)B * T * 3 * C, nout = (size_t)B * T * C, nlse = (size_t)B * NH * T;
	lm_rng rng;
	rng_seed(&rng, 1);
	float *qkv = rand_bf16_floats(&rng, nqkv, 1.0, 0.0), *dout = rand_bf16_floats(&rng, nout, 1.0, 0.0);
	bf16 *d_qkv = dev_bf16(qkv, nqkv), *d_dout = dev_bf16(dout, nout);
	bf16 *d_out = dev_alloc(nout * sizeof(bf16)), *d_dqkv = dev_alloc(nqkv * sizeof(bf16));
	float *d_lse = dev_alloc(nlse * sizeof(float)), *d_scratch = dev_alloc(nlse * sizeof(float));
	/* causal: half of the 4 B NH T^2 HS of the two products; backward 2.5x */
	double flops = 2.0 * B * NH * (double)T * T * HS;
	int bad = 0;
	for (int which = 0; which < 2 && !bad; which++) {
		float ms = time_pass(which, d_out, d_lse, d_dqkv, d_scratch, d_dout, d_qkv, B, T, C, NH);
		double f = which == 0 ? flops : 2.5 * flops;
		if (ms < 0) {
			printf("FAIL %s: %s\n", which == 0 ? "forward" : "backward", lm_last_error());
			bad = 1;
		} else {
			printf("%s B=%d T=%d NH=%d HS=%d: %.3f ms, %.1f TFLOP/s\n",
			       which == 0 ? "forward" : "backward", B, T, NH, HS, ms,
			       f / (ms * 1e-3) / 1e12);
		}
	}
	free(qkv);
	free(dout);
	cudaFree(d_qkv);
	cudaFree(d_dout);
	cudaFree(d_out);
	cudaFree(d_dqkv);
	cudaFree(d_lse);
	cudaFree(d_scratch);
	return bad;
}
#endif

int cmd__cuda_attention(int argc, char **argv)
{
#ifdef LMPIPE_CUDA
	if (argc == 6 && strcmp(argv[1], "bench") == 0) {
		int B = atoi(argv[2]), T = atoi(argv[3]), NH = atoi(argv[4]), HS = atoi(argv[5]);
		if (B <= 0 || T <= 0 || NH <= 0 || !cu_attention_supports(HS)) {
			fprintf(stderr, "test-tool: cuda-attention bench B T NH HS (HS 32, 64 or 128)\n");
			return 2;
		}
		return bench(B, T, NH, HS);
	}
	if (argc > 2) {
		fprintf(stderr, "usage: test-tool cuda-attention [SEED] | bench B T NH HS\n");
		return 2;
	}
	return parity(argc == 2 ? strtoul(argv[1], NULL, 10) : 1);
#else
	(void)argc;
	(void)argv;
	fprintf(stderr, "test-tool: built without CUDA\n");
	return 2;
#endif
}
