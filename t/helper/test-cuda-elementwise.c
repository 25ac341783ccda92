/*
 * test-cuda-elementwise.c — test-tool cuda-elementwise: the elementwise,
 * RoPE and optimizer kernels (model/cuda/elementwise.cu, rope.cu, optim.cu)
 * against their CPU twins on the same bf16-rounded random inputs, for
 * t7001.
 *
 *   test-tool cuda-elementwise [SEED]   every GPU check, one verdict a line
 *   test-tool cuda-elementwise runs     cu_decay_runs_from_spans (CPU only)
 *
 * Sizes: odd n (scalar tails), a pointer one element off (the unaligned
 * path), and ~3M elements (many blocks, the grid-stride loops). Thresholds
 * (normalized error): 1e-2 for bf16 outputs (one rounding, ~4e-3), 0 (bit
 * equality) for the conversions, 1e-6 for AdamW's fp32 state (fp32 both
 * sides, same formula; only FMA contraction differs), 1e-6 for the sum of
 * squares (double both sides), 1e-5 for the bias gradient (fp32 partial
 * sums of bf16 values against a double sum). Reductions run twice and must
 * give the same bits. Exit 1 if any check fails, 2 without CUDA.
 */
#ifdef LMPIPE_CUDA

#include "cuda-check.h"
#include "model/cuda/kernels.h"
#include "model/gelu.h"
#include "model/rope.h"
#include "model/swiglu.h"
#include "optim/adamw.h"
#include "util/error.h"

#include <stdint.h>
#include <string.h>

#define BF16_TOL 1e-2
#define ADAMW_TOL 1e-6
#define SUMSQ_TOL 1e-6
#define BIAS_TOL 1e-5
#define BIG_N (3L * 1024 * 1024 + 5)

static int failed;

static void check(const char *what, double err, double threshold)
{
	failed += verdict(what, err, threshold);
}

/* A bit-for-bit check: bad of n elements differ. */
static void check_exact(const char *what, size_t bad, size_t n)
{
	printf("%s %s: %zu of %zu differ\n", bad ? "FAIL" : "ok", what, bad, n);
	failed += bad != 0;
}

/* A yes-or-no check; returns 1 when it fails. */
static int say(const char *what, int ok)
{
	printf("%s %s\n", ok ? "ok" : "FAIL", what);
	return !ok;
}

/* A launcher's status, then the device's: both must be clean. */
static int launched(int rc, const char *what)
{
	if (rc != 0) {
		printf("FAIL %s: %s\n", what, lm_last_error());
		failed++;
		return 0;
	}
	if (!cuda_ok(what)) {
		failed++;
		return 0;
	}
	return 1;
}

/* ---- elementwise: one output from two inputs ------------------------------- */

typedef int (*gpu_map)(bf16 *out, const bf16 *a, const bf16 *b, long n, cudaStream_t s);
typedef void (*cpu_map)(float *out, const float *a, const float *b, long n);

static int gpu_gelu_forward(bf16 *out, const bf16 *a, const bf16 *b, long n, cudaStream_t s)
{
	return cu_gelu_forward(out, a, n, s);
}
static int gpu_silu_forward(bf16 *out, const bf16 *a, const bf16 *b, long n, cudaStream_t s)
{
	return cu_silu_forward(out, a, n, s);
}
static void cpu_gelu_forward(float *out, const float *a, const float *b, long n)
{
	gelu_forward(out, a, n);
}
static void cpu_silu_forward(float *out, const float *a, const float *b, long n)
{
	silu_forward(out, a, n);
}
/* The CPU backwards accumulate; the kernels overwrite. */
static void cpu_gelu_backward(float *out, const float *a, const float *b, long n)
{
	memset(out, 0, (size_t)n * sizeof *out);
	gelu_backward(out, a, b, n);
}
static void cpu_silu_backward(float *out, const float *a, const float *b, long n)
{
	memset(out, 0, (size_t)n * sizeof *out);
	silu_backward(out, a, b, n);
}

static const struct map_case {
	const char *name;
	gpu_map gpu;
	cpu_map cpu;
} map_cases[] = {
	{"gelu forward", gpu_gelu_forward, cpu_gelu_forward},
	{"gelu backward", cu_gelu_backward, cpu_gelu_backward},
	{"silu forward", gpu_silu_forward, cpu_silu_forward},
	{"silu backward", cu_silu_backward, cpu_silu_backward},
	{"swiglu forward", cu_swiglu_forward, swiglu_forward},
};

static void check_map(lm_rng *r, const struct map_case *c, long n, size_t off)
{
	float *a = rand_bf16_floats(r, (size_t)n + off, 2.0, 0.0);
	float *b = rand_bf16_floats(r, (size_t)n + off, 1.0, 0.0);
	float *want = malloc((size_t)n * sizeof *want);
	bf16 *da = dev_bf16(a, (size_t)n + off), *db = dev_bf16(b, (size_t)n + off);
	bf16 *dout = dev_alloc(((size_t)n + off) * sizeof *dout);
	char what[96];
	snprintf(what, sizeof what, "%s n=%ld%s", c->name, n, off ? " unaligned" : "");
	c->cpu(want, a + off, b + off, n);
	if (launched(c->gpu(dout + off, da + off, db + off, n, 0), what)) {
		float *got = host_from_bf16(dout + off, (size_t)n);
		check(what, rel_err(got, want, (size_t)n), BF16_TOL);
		free(got);
	}
	cudaFree(da), cudaFree(db), cudaFree(dout);
	free(a), free(b), free(want);
}

static void check_swiglu_backward(lm_rng *r, long n, size_t off)
{
	float *a = rand_bf16_floats(r, (size_t)n + off, 2.0, 0.0);
	float *b = rand_bf16_floats(r, (size_t)n + off, 1.0, 0.0);
	float *d = rand_bf16_floats(r, (size_t)n + off, 1.0, 0.0);
	float *wa = calloc((size_t)n, sizeof *wa), *wb = calloc((size_t)n, sizeof *wb);
	bf16 *da = dev_bf16(a, (size_t)n + off), *db = dev_bf16(b, (size_t)n + off);
	bf16 *dd = dev_bf16(d, (size_t)n + off);
	bf16 *ga = dev_alloc(((size_t)n + off) * sizeof *ga);
	bf16 *gb = dev_alloc(((size_t)n + off) * sizeof *gb);
	char what[96];
	snprintf(what, sizeof what, "swiglu backward n=%ld%s", n, off ? " unaligned" : "");
	swiglu_backward(wa, wb, d + off, a + off, b + off, n);
	if (launched(cu_swiglu_backward(ga + off, gb + off, dd + off, da + off, db + off, n, 0),
		     what)) {
		float *got_a = host_from_bf16(ga + off, (size_t)n);
		float *got_b = host_from_bf16(gb + off, (size_t)n);
		double ea = rel_err(got_a, wa, (size_t)n), eb = rel_err(got_b, wb, (size_t)n);
		check(what, ea > eb ? ea : eb, BF16_TOL);
		free(got_a), free(got_b);
	}
	cudaFree(da), cudaFree(db), cudaFree(dd), cudaFree(ga), cudaFree(gb);
	free(a), free(b), free(d), free(wa), free(wb);
}

/* ---- conversions: bit-exact -------------------------------------------------- */

static void check_conversions(lm_rng *r, long n, size_t off)
{
	size_t m = (size_t)n + off;
	float *x = malloc(m * sizeof *x);
	for (size_t i = 0; i < m; i++)  /* full fp32 precision, wide range */
		x[i] = (float)(rng_normal(r) * pow(10.0, 6.0 * rng_uniform(r) - 3.0));
	float *dx = dev_f32(x, m);
	bf16 *dh = dev_alloc(m * sizeof *dh);
	float *dback = dev_alloc(m * sizeof *dback);
	char what[96];
	snprintf(what, sizeof what, "float_to_bf16, bf16_to_float n=%ld%s (bit-exact)", n,
		 off ? " unaligned" : "");
	if (launched(cu_float_to_bf16(dh + off, dx + off, (size_t)n, 0), what) &&
	    launched(cu_bf16_to_float(dback + off, dh + off, (size_t)n, 0), what)) {
		bf16 *h = malloc(m * sizeof *h);
		float *back = host_from_f32(dback, m);
		cudaMemcpy(h, dh, m * sizeof *h, cudaMemcpyDeviceToHost);
		size_t bad = 0;
		for (size_t i = off; i < m; i++) {
			float want = bf16_round(x[i]);
			bad += h[i] != bf16_from_float(x[i]) || memcmp(&back[i], &want, sizeof want);
		}
		check_exact(what, bad, (size_t)n);
		free(h), free(back);
	}
	cudaFree(dx), cudaFree(dh), cudaFree(dback);
	free(x);
}

static void check_elementwise(lm_rng *r)
{
	const long sizes[] = {1, 7, 1001, 4096, BIG_N};
	for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
		for (size_t c = 0; c < sizeof map_cases / sizeof map_cases[0]; c++)
			check_map(r, &map_cases[c], sizes[k], 0);
		check_swiglu_backward(r, sizes[k], 0);
		check_conversions(r, sizes[k], 0);
	}
	for (size_t c = 0; c < sizeof map_cases / sizeof map_cases[0]; c++)
		check_map(r, &map_cases[c], 1001, 1);
	check_swiglu_backward(r, 1001, 1);
	check_conversions(r, 1001, 1);
	check_conversions(r, 4096, 1);
	/* n = 0 launches nothing and succeeds */
	int rc = cu_gelu_forward(NULL, NULL, 0, 0) |
		 cu_float_to_bf16(NULL, NULL, 0, 0);
	if (launched(rc, "n=0 is a no-op"))
		say("n=0 is a no-op", 1);
}

/* ---- RoPE ------------------------------------------------------------------------ */

static void check_rope(lm_rng *r, int B, int T, int C, int NH)
{
	int HS = C / NH;
	size_t n = (size_t)B * T * 3 * C, tab = (size_t)T * (HS / 2);
	float *cos_t = malloc(tab * sizeof *cos_t), *sin_t = malloc(tab * sizeof *sin_t);
	rope_table(cos_t, sin_t, T, HS, 10000.0);
	float *x = rand_bf16_floats(r, n, 1.0, 0.0);
	float *want = malloc(n * sizeof *want), *want_b = calloc(n, sizeof *want_b);
	rope_forward(want, x, cos_t, sin_t, B, T, C, NH);
	rope_backward(want_b, x, cos_t, sin_t, B, T, C, NH);
	float *dcos = dev_f32(cos_t, tab), *dsin = dev_f32(sin_t, tab);
	bf16 *dx = dev_bf16(x, n), *dout = dev_alloc(n * sizeof *dout);
	char what[96];
	snprintf(what, sizeof what, "rope forward B=%d T=%d C=%d NH=%d", B, T, C, NH);
	if (launched(cu_rope_forward(dout, dx, dcos, dsin, B, T, C, NH, 0), what)) {
		float *got = host_from_bf16(dout, n);
		check(what, rel_err(got, want, n), BF16_TOL);
		free(got);
	}
	snprintf(what, sizeof what, "rope backward B=%d T=%d C=%d NH=%d", B, T, C, NH);
	cudaMemset(dout, 0xff, n * sizeof *dout);
	if (launched(cu_rope_backward(dout, dx, dcos, dsin, B, T, C, NH, 0), what)) {
		float *got = host_from_bf16(dout, n);
		check(what, rel_err(got, want_b, n), BF16_TOL);
		free(got);
	}
	cudaFree(dcos), cudaFree(dsin), cudaFree(dx), cudaFree(dout);
	free(cos_t), free(sin_t), free(x), free(want), free(want_b);
}

static void check_ropes(lm_rng *r)
{
	check_rope(r, 2, 5, 12, 3);      /* C % 8 != 0: pair at a time */
	check_rope(r, 1, 7, 6, 3);       /* HS 2 */
	check_rope(r, 3, 9, 24, 6);      /* HS 4: a 16-byte unit spans two heads */
	check_rope(r, 2, 64, 768, 12);   /* GPT-2 small's heads */
	check_rope(r, 1, 33, 2048, 16);  /* HS 128 */
	check_rope(r, 2, 128, 1600, 25); /* GPT-2 XL's width */
}

/* ---- AdamW ------------------------------------------------------------------------ */

#define ADAMW_STEPS 3

/* Spans over n alternating decay 1, 0, 1, ... in uneven pieces (so runs
 * end inside 16-byte groups), two adjacent spans sharing a flag. */
static int make_spans(adamw_span *spans, size_t n)
{
	const double cut[] = {0.3, 0.31, 0.5, 0.77, 0.771, 1.0};
	const int decay[] = {1, 0, 0, 1, 0, 1};
	size_t at = 0;
	int k = 0;
	for (int i = 0; i < 6; i++) {
		size_t end = i == 5 ? n : (size_t)(cut[i] * (double)n) | 1;
		if (end <= at)
			continue;
		spans[k++] = (adamw_span){at, end - at, decay[i]};
		at = end;
	}
	return k;
}

static void check_adamw(lm_rng *r, size_t n, size_t off)
{
	const float lr = 1e-2f, b1 = 0.9f, b2 = 0.95f, eps = 1e-8f, wd = 0.1f, scale = 0.37f;
	size_t m = n + off;
	adamw_span spans[8];
	int nspans = make_spans(spans, n);
	cu_decay_runs runs;
	adamw opt;
	adamw_hparams hp = {b1, b2, eps, wd};  /* the floats the kernel gets, as doubles */
	char what[96];
	snprintf(what, sizeof what, "adamw n=%zu%s, %d steps (params, m, v)", n,
		 off ? " unaligned" : "", ADAMW_STEPS);
	if (cu_decay_runs_from_spans(&runs, spans, nspans) != 0 ||
	    adamw_init(&opt, n, spans, nspans, hp) != 0) {
		printf("FAIL %s: %s\n", what, lm_last_error());
		failed++;
		return;
	}
	float *p = rand_bf16_floats(r, m, 0.5, 0.0), *g = malloc(m * sizeof *g);
	float *gs = malloc(n * sizeof *gs);
	for (size_t i = 0; i < m; i++)  /* fp32 masters, not bf16 values */
		p[i] += (float)(1e-3 * rng_normal(r));
	float *dp = dev_f32(p, m), *dg = dev_alloc(m * sizeof *dg);
	float *dm = dev_alloc(m * sizeof *dm), *dv = dev_alloc(m * sizeof *dv);
	bf16 *dpb = dev_alloc(m * sizeof *dpb);
	cudaMemset(dm, 0, m * sizeof *dm);
	cudaMemset(dv, 0, m * sizeof *dv);
	int ok = 1;
	for (long t = 1; t <= ADAMW_STEPS && ok; t++) {
		for (size_t i = 0; i < m; i++)
			g[i] = (float)(rng_normal(r) * pow(10.0, -4.0 * rng_uniform(r)));
		for (size_t i = 0; i < n; i++)  /* what grad_clip would have done */
			gs[i] = g[off + i] * scale;
		adamw_step(&opt, p + off, gs, lr);
		cudaMemcpy(dg, g, m * sizeof *g, cudaMemcpyHostToDevice);
		ok = launched(cu_adamw(dp + off, dpb + off, dg + off, dm + off, dv + off, n, &runs, lr,
				       b1, b2, eps, wd, t, scale, 0),
			      what);
	}
	if (ok) {
		float *got_p = host_from_f32(dp + off, n), *got_m = host_from_f32(dm + off, n);
		float *got_v = host_from_f32(dv + off, n);
		double e = rel_err(got_p, p + off, n), em = rel_err(got_m, opt.m, n);
		double ev = rel_err(got_v, opt.v, n);
		e = em > e ? em : e;
		check(what, ev > e ? ev : e, ADAMW_TOL);
		bf16 *pb = malloc(n * sizeof *pb);
		cudaMemcpy(pb, dpb + off, n * sizeof *pb, cudaMemcpyDeviceToHost);
		size_t bad = 0;
		for (size_t i = 0; i < n; i++)
			bad += pb[i] != bf16_from_float(got_p[i]);
		snprintf(what, sizeof what, "adamw n=%zu%s: the bf16 copy (bit-exact)", n,
			 off ? " unaligned" : "");
		check_exact(what, bad, n);
		free(got_p), free(got_m), free(got_v), free(pb);
	}
	adamw_free(&opt);
	cudaFree(dp), cudaFree(dg), cudaFree(dm), cudaFree(dv), cudaFree(dpb);
	free(p), free(g), free(gs);
}

/* ---- sum of squares ---------------------------------------------------------------- */

static void check_sum_squares(lm_rng *r, size_t n, size_t off)
{
	size_t m = n + off;
	float *x = malloc(m * sizeof *x);
	for (size_t i = 0; i < m; i++)
		x[i] = (float)(rng_normal(r) * pow(10.0, -3.0 * rng_uniform(r)));
	double norm = grad_norm(x + off, n), want = norm * norm;
	float *dx = dev_f32(x, m);
	double *scratch = dev_alloc(cu_sum_squares_scratch() * sizeof(double));
	double *dout = dev_alloc(2 * sizeof(double));
	char what[96];
	snprintf(what, sizeof what, "sum_squares n=%zu%s", n, off ? " unaligned" : "");
	if (launched(cu_sum_squares(dout, dx + off, n, scratch, 0), what) &&
	    launched(cu_sum_squares(dout + 1, dx + off, n, scratch, 0), what)) {
		double got[2];
		cudaMemcpy(got, dout, sizeof got, cudaMemcpyDeviceToHost);
		double err = isfinite(got[0]) ? fabs(got[0] - want) / (want > 0 ? want : 1) : INFINITY;
		check(what, err, SUMSQ_TOL);
		snprintf(what, sizeof what, "sum_squares n=%zu%s twice: the same bits", n,
			 off ? " unaligned" : "");
		failed += say(what, memcmp(&got[0], &got[1], sizeof got[0]) == 0);
	}
	cudaFree(dx), cudaFree(scratch), cudaFree(dout);
	free(x);
}

/* ---- bias gradient -------------------------------------------------------------------- */

static void check_bias(lm_rng *r, int N, int OC)
{
	size_t n = (size_t)N * OC;
	float *d = rand_bf16_floats(r, n, 1.0, 0.1);
	float *b0 = rand_bf16_floats(r, (size_t)OC, 1.0, 0.0);
	float *want = malloc((size_t)OC * sizeof *want);
	for (int o = 0; o < OC; o++) {
		double s = b0[o];
		for (int i = 0; i < N; i++)
			s += d[(size_t)i * OC + o];
		want[o] = (float)s;
	}
	bf16 *dd = dev_bf16(d, n);
	float *scratch = dev_alloc(cu_bias_backward_scratch(N, OC) * sizeof(float));
	float *db1 = dev_f32(b0, (size_t)OC), *db2 = dev_f32(b0, (size_t)OC);
	char what[96];
	snprintf(what, sizeof what, "bias_backward N=%d OC=%d", N, OC);
	if (launched(cu_bias_backward(db1, dd, scratch, N, OC, 0), what) &&
	    launched(cu_bias_backward(db2, dd, scratch, N, OC, 0), what)) {
		float *g1 = host_from_f32(db1, (size_t)OC), *g2 = host_from_f32(db2, (size_t)OC);
		check(what, rel_err(g1, want, (size_t)OC), BIAS_TOL);
		snprintf(what, sizeof what, "bias_backward N=%d OC=%d twice: the same bits", N, OC);
		failed += say(what, memcmp(g1, g2, (size_t)OC * sizeof *g1) == 0);
		free(g1), free(g2);
	}
	cudaFree(dd), cudaFree(scratch), cudaFree(db1), cudaFree(db2);
	free(d), free(b0), free(want);
}

static void check_optim(lm_rng *r)
{
	check_adamw(r, 1001, 0);
	check_adamw(r, 1001, 1);
	check_adamw(r, 64, 0);
	check_adamw(r, (size_t)BIG_N, 0);
	check_sum_squares(r, 1, 0);
	check_sum_squares(r, 1001, 0);
	check_sum_squares(r, 1001, 1);
	check_sum_squares(r, (size_t)BIG_N, 0);
	check_bias(r, 7, 37);
	check_bias(r, 1, 8);
	check_bias(r, 1001, 24);
	check_bias(r, 100, 3000);
	check_bias(r, 8192, 768);
	check_bias(r, 2048, 4800);
	check_bias(r, 140000, 16);  /* more rows than 1024 chunks of 128 hold */
}

/* ---- decay runs, on the CPU -------------------------------------------------------- */

/* The runs' per-element flags equal the spans', and count runs were made. */
static int runs_match(const adamw_span *spans, int nspans, size_t n, int count)
{
	cu_decay_runs runs;
	if (cu_decay_runs_from_spans(&runs, spans, nspans) != 0 || runs.count != count)
		return 0;
	size_t at = 0;
	int r = 0;
	for (int i = 0; i < nspans; i++)
		for (size_t j = 0; j < spans[i].numel; j++, at++) {
			while (r < runs.count && runs.end[r] <= at)
				r++;
			if (r == runs.count || runs.decay[r] != (spans[i].decay != 0))
				return 0;
		}
	return at == n && (count == 0 || runs.end[count - 1] == n);
}

static int runs_fail(const adamw_span *spans, int nspans)
{
	cu_decay_runs runs;
	return cu_decay_runs_from_spans(&runs, spans, nspans) != 0 && *lm_last_error();
}

/* A GPT-2 of L layers in the model's storage order: every tensor kind's
 * layers together (model/gpt.c). */
static int gpt2_spans(adamw_span *spans, int L, size_t *n)
{
	const int kind_decay[] = {0, 0, 1, 0, 1, 0, 0, 0, 1, 0, 1, 0};  /* ln1w .. fcprojb */
	const size_t kind_numel[] = {8, 8, 192, 24, 64, 8, 8, 8, 256, 32, 256, 8};
	int k = 0;
	size_t at = 0;
	spans[k++] = (adamw_span){at, 800, 1}, at += 800;  /* wte */
	spans[k++] = (adamw_span){at, 128, 1}, at += 128;  /* wpe */
	for (int kind = 0; kind < 12; kind++)
		for (int l = 0; l < L; l++) {
			spans[k++] = (adamw_span){at, kind_numel[kind], kind_decay[kind]};
			at += kind_numel[kind];
		}
	spans[k++] = (adamw_span){at, 8, 0}, at += 8;  /* lnfw */
	spans[k++] = (adamw_span){at, 8, 0}, at += 8;  /* lnfb */
	*n = at;
	return k;
}

static int check_runs(void)
{
	static adamw_span spans[1024];
	size_t n;
	int bad = 0;
	adamw_span merged[] = {{0, 10, 1}, {10, 5, 1}, {15, 3, 0}, {18, 2, 0}, {20, 7, 1}};
	bad += say("runs: adjacent spans with one flag merge (5 spans, 3 runs)",
		   runs_match(merged, 5, 27, 3));
	adamw_span empty[] = {{0, 4, 0}, {4, 0, 1}, {4, 4, 0}};
	bad += say("runs: an empty span is skipped", runs_match(empty, 3, 8, 1));
	bad += say("runs: no spans, no runs", runs_match(NULL, 0, 0, 0));
	int k = gpt2_spans(spans, 48, &n);
	bad += say("runs: a 48-layer GPT-2 (580 tensors) is 10 runs",
		   runs_match(spans, k, n, 10));
	for (int i = 0; i < CU_ADAMW_MAX_RUNS + 1; i++)
		spans[i] = (adamw_span){(size_t)i * 3, 3, i % 2};
	bad += say("runs: 64 alternating spans fit", runs_match(spans, 64, 192, 64));
	bad += say("runs: 65 alternating spans are an error", runs_fail(spans, 65));
	adamw_span gap[] = {{0, 10, 1}, {11, 5, 0}};
	bad += say("runs: a gap is an error", runs_fail(gap, 2));
	adamw_span overlap[] = {{0, 10, 1}, {9, 5, 0}};
	bad += say("runs: an overlap is an error", runs_fail(overlap, 2));
	adamw_span late[] = {{4, 10, 1}};
	bad += say("runs: spans not from 0 are an error", runs_fail(late, 1));
	return bad ? 1 : 0;
}

int cmd__cuda_elementwise(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "runs") == 0)
		return check_runs();
	if (argc > 2)
		return 2;
	lm_rng rng;
	rng_seed(&rng, argc == 2 ? strtoull(argv[1], NULL, 10) : 7001);
	int count = 0;
	if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
		fprintf(stderr, "test-tool: no CUDA device\n");
		return 1;
	}
	check_elementwise(&rng);
	check_ropes(&rng);
	check_optim(&rng);
	return failed ? 1 : 0;
}

#else

#include <stdio.h>

int cmd__cuda_elementwise(int argc, char **argv)
{
	fprintf(stderr, "test-tool: built without CUDA\n");
	return 2;
}

#endif
