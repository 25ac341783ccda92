/*
 * test-cuda-rows.c — test-tool cuda-rows: the row-wise CUDA kernels
 * (embedding, LayerNorm, RMSNorm, fused cross-entropy) against their CPU
 * twins in share/model, on the same bf16-exact random inputs, for t7000.
 *
 *   test-tool cuda-rows [SEED]    every check below; one line a check
 *   test-tool cuda-rows buckets   embedding_buckets against a brute force
 *                                 (host code only: runs without a GPU)
 *   test-tool cuda-rows bench     each kernel timed at GPT-2 124M's shapes
 *                                 (B*T = 65536), with its memory traffic in
 *                                 GB/s; no checks, for a person to read
 *
 * Exit 0 when every check passes, 1 when one fails, 2 when built without
 * CUDA. Each check prints "ok" or "FAIL", what it compared and its
 * normalized error ||got - want|| / ||want||; a NaN never passes.
 *
 * Thresholds, and why:
 *   - bf16 outputs (embedding and norm outputs, dinp, the logits'
 *     gradient): 1e-2. Rounding a value to bf16 moves it by at most 2^-9
 *     (2e-3) of itself, about 1e-3 in norm; 1e-2 leaves room for the
 *     fp32 reassociation before the rounding and nothing for a wrong
 *     formula or index.
 *   - fp32 statistics (mean, rstd): 1e-4. Both sides sum the same
 *     bf16-exact values in fp32 in different orders; the CPU's serial sum
 *     over C drifts by about 6e-8 * sqrt(C) and more (1.4e-5 measured at
 *     C = 40000, 1e-6 at C <= 8192).
 *   - the per-row losses: 1e-5. The CPU takes the log-sum-exp in double,
 *     the kernel in fp32 from a tree of partial sums: ~1e-7 relative
 *     (5e-8 measured at V = 128256).
 *   - fp32 parameter gradients of the norms (dweight, dbias): 1e-5. A sum
 *     over N rows in a different order (blocks, then partials) than the
 *     CPU's, again ~1e-7 * sqrt(N) relative; a wrong row or channel moves
 *     it by far more than 1e-5.
 *   - the embedding's fp32 gradients: 1e-6. dwpe adds in the CPU twin's
 *     own order (exact); dwte sums a token's positions in 4 fixed slices,
 *     which moves the CPU's serial sum by fp32 rounding only (3e-8
 *     measured with 5 distinct tokens in 256 rows).
 * Determinism: every backward runs twice on the same inputs and every
 * output (fp32 gradients, bf16 dinp, losses) must match bit for bit.
 */
#ifdef LMPIPE_CUDA
#include "model/crossentropy.h"
#include "model/cuda/bf16.h"
#include "model/cuda/kernels.h"
#include "model/embedding.h"
#include "model/layernorm.h"
#include "model/rmsnorm.h"
#include "model/rng.h"
#include "util/error.h"

#include "cuda-check.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef LMPIPE_CUDA

#define TOL_BF16 1e-2
#define TOL_STAT 1e-4
#define TOL_LOSS 1e-5
#define TOL_GRAD 1e-5
#define TOL_EMB 1e-6

/* ---- small helpers ---------------------------------------------------------- */

static int *rand_tokens(lm_rng *r, size_t n, int V)
{
	int *t = calloc(n ? n : 1, sizeof *t);
	for (size_t i = 0; i < n; i++)
		t[i] = (int)(rng_u64(r) % (uint64_t)V);
	return t;
}

/* fp32 values (not bf16-rounded): the old contents of fp32 gradients. */
static float *rand_floats(lm_rng *r, size_t n, double scale)
{
	float *x = malloc(n * sizeof *x);
	for (size_t i = 0; i < n; i++)
		x[i] = (float)(scale * rng_normal(r));
	return x;
}

static float *copy_floats(const float *x, size_t n)
{
	float *y = malloc(n * sizeof *y);
	memcpy(y, x, n * sizeof *y);
	return y;
}

static void *copy_device(const void *d, size_t bytes)
{
	void *h = malloc(bytes ? bytes : 1);
	cudaDeviceSynchronize();
	cudaMemcpy(h, d, bytes, cudaMemcpyDeviceToHost);
	return h;
}

/* A device copy of a device array (to rerun a backward from its inputs). */
static void *dup_device(const void *d, size_t bytes)
{
	void *c = dev_alloc(bytes);
	cudaMemcpy(c, d, bytes, cudaMemcpyDeviceToDevice);
	return c;
}

/* Bit-identical device arrays; prints the check's line. */
static int same_bits(const char *what, const void *a, const void *b, size_t bytes)
{
	void *ha = copy_device(a, bytes), *hb = copy_device(b, bytes);
	int bad = memcmp(ha, hb, bytes) != 0;
	printf("%s %s: two runs %s\n", bad ? "FAIL" : "ok", what,
	       bad ? "differ" : "give the same bits");
	free(ha);
	free(hb);
	return bad;
}

static int launched(const char *what, int rc)
{
	if (rc != 0) {
		printf("FAIL %s: %s\n", what, lm_last_error());
		return 0;
	}
	return cuda_ok(what);
}

/* ---- embedding_buckets, on the host ---------------------------------------- */

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	return (x > y) - (x < y);
}

/* The distinct tokens by sorting a copy, each one's positions by a scan. */
static int buckets_brute_equal(const int *tokens, int n, const int *ids, const int *starts,
			       const int *pos, int got)
{
	int *u = malloc(sizeof(int) * (size_t)(n ? n : 1));
	memcpy(u, tokens, sizeof(int) * (size_t)n);
	qsort(u, (size_t)n, sizeof *u, cmp_int);
	int distinct = 0;
	for (int i = 0; i < n; i++)
		if (i == 0 || u[i] != u[distinct - 1])
			u[distinct++] = u[i];
	int ok = got == distinct && starts[0] == 0 && starts[distinct] == n;
	for (int k = 0; ok && k < distinct; k++) {
		ok = ids[k] == u[k];
		int p = starts[k];
		for (int i = 0; ok && i < n; i++)
			if (tokens[i] == u[k])
				ok = p < starts[k + 1] && pos[p++] == i;
		ok = ok && p == starts[k + 1];
	}
	free(u);
	return ok;
}

/* Linear checks for large n: every position once, ids ascending, each
 * run non-empty with ascending positions of its own token. */
static int buckets_invariants_hold(const int *tokens, int n, const int *ids, const int *starts,
				   const int *pos, int got)
{
	if (got < 0 || starts[0] != 0 || starts[got] != n)
		return 0;
	char *seen = calloc((size_t)(n ? n : 1), 1);
	int ok = 1;
	for (int k = 0; ok && k < got; k++) {
		ok = starts[k] < starts[k + 1] && (k == 0 || ids[k - 1] < ids[k]);
		for (int p = starts[k]; ok && p < starts[k + 1]; p++) {
			int i = pos[p];
			ok = i >= 0 && i < n && !seen[i] && tokens[i] == ids[k] &&
			     (p == starts[k] || pos[p - 1] < i);
			if (ok)
				seen[i] = 1;
		}
	}
	free(seen);
	return ok;
}

static int check_buckets_case(lm_rng *r, int n, int V, int big, bool brute)
{
	int *tokens = rand_tokens(r, (size_t)n, V);
	for (int i = 0; i < big && n > 0; i++)  /* a few ids past 2^16 and near 2^31 */
		tokens[rng_u64(r) % (uint64_t)n] = i % 2 ? 0x7ffffffe - i : 65536 + i;
	size_t m = (size_t)n + 1;
	int *ids = malloc(sizeof(int) * m), *starts = malloc(sizeof(int) * m);
	int *pos = malloc(sizeof(int) * m);
	int got = embedding_buckets(tokens, n, ids, starts, pos);
	int ok = brute ? buckets_brute_equal(tokens, n, ids, starts, pos, got)
		       : buckets_invariants_hold(tokens, n, ids, starts, pos, got);
	printf("%s embedding buckets n=%d V=%d%s (%s): %d distinct\n", ok ? "ok" : "FAIL", n, V,
	       big ? " with ids >= 2^16" : "", brute ? "brute force" : "invariants", got);
	free(tokens);
	free(ids);
	free(starts);
	free(pos);
	return !ok;
}

static int check_buckets(lm_rng *r)
{
	int fail = 0;
	fail |= check_buckets_case(r, 0, 5, 0, true);
	fail |= check_buckets_case(r, 1, 5, 0, true);
	fail |= check_buckets_case(r, 7, 3, 0, true);
	fail |= check_buckets_case(r, 2000, 5, 0, true);
	fail |= check_buckets_case(r, 3000, 50257, 0, true);
	fail |= check_buckets_case(r, 3000, 1000, 40, true);
	fail |= check_buckets_case(r, 1 << 20, 5, 0, false);
	fail |= check_buckets_case(r, 1 << 20, 128256, 0, false);
	fail |= check_buckets_case(r, 1 << 20, 50257, 1000, false);
	int neg[] = {3, -1, 2}, ids[3], starts[4], pos[3];
	int rc = embedding_buckets(neg, 3, ids, starts, pos);
	printf("%s embedding buckets refuse a negative id: %s\n", rc == -1 ? "ok" : "FAIL",
	       rc == -1 ? lm_last_error() : "accepted");
	return fail | (rc != -1);
}

/* ---- embedding ---------------------------------------------------------------- */

static int check_embedding(lm_rng *r, int B, int T, int C, int V, bool with_wpe)
{
	char what[128];
	size_t n = (size_t)B * T, nc = n * C;
	int fail = 0;
	int *tokens = rand_tokens(r, n, V);
	float *wte = rand_bf16_floats(r, (size_t)V * C, 0.5, 0.0);
	float *wpe = with_wpe ? rand_bf16_floats(r, (size_t)T * C, 0.5, 0.0) : NULL;
	float *out = malloc(nc * sizeof *out);
	embedding_forward(out, tokens, wte, wpe, B, T, C);

	int *d_tokens = dev_i32(tokens, n);
	bf16 *d_wte = dev_bf16(wte, (size_t)V * C);
	bf16 *d_wpe = with_wpe ? dev_bf16(wpe, (size_t)T * C) : NULL;
	bf16 *d_out = dev_alloc(nc * sizeof(bf16));
	snprintf(what, sizeof what, "embedding forward B=%d T=%d C=%d V=%d%s", B, T, C, V,
		 with_wpe ? " +wpe" : "");
	if (!launched(what, cu_embedding_forward(d_out, d_tokens, d_wte, d_wpe, B, T, C, 0)))
		return 1;
	float *got = host_from_bf16(d_out, nc);
	fail |= verdict(what, rel_err(got, out, nc), TOL_BF16);
	free(got);

	/* backward: old gradients random, to see the += */
	float *dout = rand_bf16_floats(r, nc, 1.0, 0.0);
	float *dwte0 = rand_floats(r, (size_t)V * C, 0.1);
	float *dwpe0 = with_wpe ? rand_floats(r, (size_t)T * C, 0.1) : NULL;
	float *dwte = copy_floats(dwte0, (size_t)V * C);
	float *dwpe = with_wpe ? copy_floats(dwpe0, (size_t)T * C) : NULL;
	embedding_backward(dwte, dwpe, dout, tokens, B, T, C);

	int *ids = malloc(sizeof(int) * (n + 1)), *starts = malloc(sizeof(int) * (n + 1));
	int *pos = malloc(sizeof(int) * (n + 1));
	int num = embedding_buckets(tokens, (int)n, ids, starts, pos);
	int *d_ids = dev_i32(ids, n + 1), *d_starts = dev_i32(starts, n + 1);
	int *d_pos = dev_i32(pos, n + 1);
	bf16 *d_dout = dev_bf16(dout, nc);
	float *d_dwte[2], *d_dwpe[2] = {NULL, NULL};
	snprintf(what, sizeof what, "embedding backward B=%d T=%d C=%d V=%d (%d distinct)%s", B,
		 T, C, V, num, with_wpe ? " +wpe" : "");
	for (int run = 0; run < 2; run++) {
		d_dwte[run] = dev_f32(dwte0, (size_t)V * C);
		if (with_wpe)
			d_dwpe[run] = dev_f32(dwpe0, (size_t)T * C);
		if (!launched(what, cu_embedding_backward(d_dwte[run], d_dwpe[run], d_dout, d_ids,
							  d_starts, d_pos, num, B, T, C, 0)))
			return 1;
	}
	got = host_from_f32(d_dwte[0], (size_t)V * C);
	char sub[160];
	snprintf(sub, sizeof sub, "%s dwte", what);
	fail |= verdict(sub, rel_err(got, dwte, (size_t)V * C), TOL_EMB);
	fail |= same_bits(sub, d_dwte[0], d_dwte[1], (size_t)V * C * sizeof(float));
	free(got);
	if (with_wpe) {
		got = host_from_f32(d_dwpe[0], (size_t)T * C);
		snprintf(sub, sizeof sub, "%s dwpe", what);
		fail |= verdict(sub, rel_err(got, dwpe, (size_t)T * C), TOL_EMB);
		fail |= same_bits(sub, d_dwpe[0], d_dwpe[1], (size_t)T * C * sizeof(float));
		free(got);
	}
	for (int run = 0; run < 2; run++) {
		cudaFree(d_dwte[run]);
		cudaFree(d_dwpe[run]);
	}
	cudaFree(d_tokens), cudaFree(d_wte), cudaFree(d_wpe), cudaFree(d_out), cudaFree(d_dout);
	cudaFree(d_ids), cudaFree(d_starts), cudaFree(d_pos);
	free(tokens), free(wte), free(wpe), free(out), free(dout), free(dwte0), free(dwpe0);
	free(dwte), free(dwpe), free(ids), free(starts), free(pos);
	return fail;
}

/* ---- LayerNorm and RMSNorm ------------------------------------------------------ */

enum norm_kind { LAYERNORM, LAYERNORM_NO_BIAS, RMSNORM };

static const char *norm_name(enum norm_kind k)
{
	return k == RMSNORM ? "rmsnorm" : k == LAYERNORM ? "layernorm" : "layernorm (no bias)";
}

/* The CPU twin's forward and backward; mean unused for RMSNorm. */
static void norm_cpu(enum norm_kind k, float *out, float *mean, float *rstd, float *dinp,
		     float *dweight, float *dbias, const float *dout, const float *inp,
		     const float *weight, const float *bias, int N, int C, float eps)
{
	if (k == RMSNORM) {
		rmsnorm_forward(out, rstd, inp, weight, N, C, eps);
		rmsnorm_backward(dinp, dweight, dout, inp, weight, rstd, N, C);
	} else {
		layernorm_forward(out, mean, rstd, inp, weight, bias, N, C, eps);
		layernorm_backward(dinp, dweight, dbias, dout, inp, weight, mean, rstd, N, C);
	}
}

static int norm_forward_gpu(enum norm_kind k, bf16 *out, float *mean, float *rstd,
			    const bf16 *inp, const bf16 *weight, const bf16 *bias, int N, int C,
			    float eps)
{
	if (k == RMSNORM)
		return cu_rmsnorm_forward(out, rstd, inp, weight, N, C, eps, 0);
	return cu_layernorm_forward(out, mean, rstd, inp, weight, bias, N, C, eps, 0);
}

static int norm_backward_gpu(enum norm_kind k, bf16 *dinp, float *dweight, float *dbias,
			     float *scratch, const bf16 *dout, const bf16 *inp,
			     const bf16 *weight, const float *mean, const float *rstd, int N, int C)
{
	if (k == RMSNORM)
		return cu_rmsnorm_backward(dinp, dweight, scratch, dout, inp, weight, rstd, N, C,
					   0);
	return cu_layernorm_backward(dinp, dweight, dbias, scratch, dout, inp, weight, mean, rstd,
				     N, C, 0);
}

static int check_norm(lm_rng *r, enum norm_kind k, int N, int C)
{
	char what[128], sub[160];
	size_t nc = (size_t)N * C;
	bool layer = k != RMSNORM, with_bias = k == LAYERNORM;
	float eps = 1e-5f;
	int fail = 0;
	float *inp = rand_bf16_floats(r, nc, 1.0, 0.3);
	float *weight = rand_bf16_floats(r, (size_t)C, 0.1, 1.0);
	float *bias = with_bias ? rand_bf16_floats(r, (size_t)C, 0.1, 0.0) : NULL;
	float *dout = rand_bf16_floats(r, nc, 1.0, 0.0);
	float *dinp0 = rand_bf16_floats(r, nc, 0.5, 0.0);
	float *dweight0 = rand_floats(r, (size_t)C, 0.1), *dbias0 = rand_floats(r, (size_t)C, 0.1);
	float *out = malloc(nc * sizeof *out), *mean = malloc((size_t)N * sizeof *mean);
	float *rstd = malloc((size_t)N * sizeof *rstd);
	float *dinp = copy_floats(dinp0, nc), *dweight = copy_floats(dweight0, (size_t)C);
	float *dbias = with_bias ? copy_floats(dbias0, (size_t)C) : NULL;
	norm_cpu(k, out, mean, rstd, dinp, dweight, dbias, dout, inp, weight, bias, N, C, eps);

	bf16 *d_inp = dev_bf16(inp, nc), *d_weight = dev_bf16(weight, (size_t)C);
	bf16 *d_bias = with_bias ? dev_bf16(bias, (size_t)C) : NULL;
	bf16 *d_out = dev_alloc(nc * sizeof(bf16));
	float *d_mean = dev_alloc((size_t)N * sizeof(float));
	float *d_rstd = dev_alloc((size_t)N * sizeof(float));
	snprintf(what, sizeof what, "%s forward N=%d C=%d", norm_name(k), N, C);
	if (!launched(what, norm_forward_gpu(k, d_out, d_mean, d_rstd, d_inp, d_weight, d_bias, N,
					     C, eps)))
		return 1;
	float *got = host_from_bf16(d_out, nc);
	snprintf(sub, sizeof sub, "%s out", what);
	fail |= verdict(sub, rel_err(got, out, nc), TOL_BF16);
	free(got);
	if (layer) {
		got = host_from_f32(d_mean, (size_t)N);
		snprintf(sub, sizeof sub, "%s mean", what);
		fail |= verdict(sub, rel_err(got, mean, (size_t)N), TOL_STAT);
		free(got);
	}
	got = host_from_f32(d_rstd, (size_t)N);
	snprintf(sub, sizeof sub, "%s rstd", what);
	fail |= verdict(sub, rel_err(got, rstd, (size_t)N), TOL_STAT);
	free(got);

	/* backward from the CPU's statistics, so only the backward differs */
	float *c_mean = dev_f32(mean, (size_t)N), *c_rstd = dev_f32(rstd, (size_t)N);
	bf16 *d_dout = dev_bf16(dout, nc);
	size_t scratch_n = cu_norm_backward_scratch(N, C);
	float *d_scratch = dev_alloc(scratch_n * sizeof(float));
	bf16 *d_dinp[2];
	float *d_dweight[2], *d_dbias[2] = {NULL, NULL};
	snprintf(what, sizeof what, "%s backward N=%d C=%d", norm_name(k), N, C);
	for (int run = 0; run < 2; run++) {
		d_dinp[run] = dev_bf16(dinp0, nc);
		d_dweight[run] = dev_f32(dweight0, (size_t)C);
		if (with_bias)
			d_dbias[run] = dev_f32(dbias0, (size_t)C);
		if (!launched(what, norm_backward_gpu(k, d_dinp[run], d_dweight[run], d_dbias[run],
						      d_scratch, d_dout, d_inp, d_weight, c_mean,
						      c_rstd, N, C)))
			return 1;
	}
	got = host_from_bf16(d_dinp[0], nc);
	snprintf(sub, sizeof sub, "%s dinp", what);
	fail |= verdict(sub, rel_err(got, dinp, nc), TOL_BF16);
	fail |= same_bits(sub, d_dinp[0], d_dinp[1], nc * sizeof(bf16));
	free(got);
	got = host_from_f32(d_dweight[0], (size_t)C);
	snprintf(sub, sizeof sub, "%s dweight", what);
	fail |= verdict(sub, rel_err(got, dweight, (size_t)C), TOL_GRAD);
	fail |= same_bits(sub, d_dweight[0], d_dweight[1], (size_t)C * sizeof(float));
	free(got);
	if (with_bias) {
		got = host_from_f32(d_dbias[0], (size_t)C);
		snprintf(sub, sizeof sub, "%s dbias", what);
		fail |= verdict(sub, rel_err(got, dbias, (size_t)C), TOL_GRAD);
		fail |= same_bits(sub, d_dbias[0], d_dbias[1], (size_t)C * sizeof(float));
		free(got);
	}
	for (int run = 0; run < 2; run++) {
		cudaFree(d_dinp[run]);
		cudaFree(d_dweight[run]);
		cudaFree(d_dbias[run]);
	}
	cudaFree(d_inp), cudaFree(d_weight), cudaFree(d_bias), cudaFree(d_out), cudaFree(d_mean);
	cudaFree(d_rstd), cudaFree(c_mean), cudaFree(c_rstd), cudaFree(d_dout), cudaFree(d_scratch);
	free(inp), free(weight), free(bias), free(dout), free(dinp0), free(dweight0), free(dbias0);
	free(out), free(mean), free(rstd), free(dinp), free(dweight), free(dbias);
	return fail;
}

/* ---- cross-entropy -------------------------------------------------------------- */

/* The padded columns of the gradient: exactly zero. */
static int padding_is_zero(const float *g, int N, int V, int Vp)
{
	for (int i = 0; i < N; i++)
		for (int v = V; v < Vp; v++)
			if (g[(size_t)i * Vp + v] != 0.0f)
				return 0;
	return 1;
}

static int check_crossentropy(lm_rng *r, int N, int V, int Vp)
{
	char what[128], sub[160];
	size_t n = (size_t)N * Vp;
	int fail = 0;
	float *logits = rand_bf16_floats(r, n, 2.0, 0.0);  /* padding random too */
	int *targets = rand_tokens(r, (size_t)N, V);
	float *losses = malloc((size_t)N * sizeof *losses), *lse = malloc((size_t)N * sizeof *lse);
	float *grad = copy_floats(logits, n);
	crossentropy_forward(losses, lse, logits, targets, N, V, Vp);
	crossentropy_backward(grad, lse, targets, N, V, Vp, 1.0f / N);

	int *d_targets = dev_i32(targets, (size_t)N);
	bf16 *d_logits = dev_bf16(logits, n);
	float *d_losses = dev_alloc((size_t)N * sizeof(float));
	snprintf(what, sizeof what, "crossentropy N=%d V=%d Vp=%d", N, V, Vp);

	/* evaluation: losses only, the logits left alone */
	bf16 *d_eval = dup_device(d_logits, n * sizeof(bf16));
	if (!launched(what, cu_crossentropy_fused(d_losses, d_eval, d_targets, N, V, Vp, 0.0f, 0)))
		return 1;
	float *got = host_from_f32(d_losses, (size_t)N);
	snprintf(sub, sizeof sub, "%s losses (eval)", what);
	fail |= verdict(sub, rel_err(got, losses, (size_t)N), TOL_LOSS);
	free(got);
	void *before = copy_device(d_logits, n * sizeof(bf16));
	void *after = copy_device(d_eval, n * sizeof(bf16));
	int touched = memcmp(before, after, n * sizeof(bf16)) != 0;
	printf("%s %s (eval): logits %s\n", touched ? "FAIL" : "ok", what,
	       touched ? "changed" : "untouched");
	fail |= touched;
	free(before), free(after);

	/* training: losses and the gradient in place, twice for the bits */
	bf16 *d_grad[2];
	float *d_loss2[2];
	for (int run = 0; run < 2; run++) {
		d_grad[run] = dup_device(d_logits, n * sizeof(bf16));
		d_loss2[run] = dev_alloc((size_t)N * sizeof(float));
		int rc = cu_crossentropy_fused(d_loss2[run], d_grad[run], d_targets, N, V, Vp,
					       1.0f / N, 0);
		if (!launched(what, rc))
			return 1;
	}
	got = host_from_f32(d_loss2[0], (size_t)N);
	snprintf(sub, sizeof sub, "%s losses", what);
	fail |= verdict(sub, rel_err(got, losses, (size_t)N), TOL_LOSS);
	fail |= same_bits(sub, d_loss2[0], d_loss2[1], (size_t)N * sizeof(float));
	free(got);
	got = host_from_bf16(d_grad[0], n);
	snprintf(sub, sizeof sub, "%s dlogits", what);
	fail |= verdict(sub, rel_err(got, grad, n), TOL_BF16);
	fail |= same_bits(sub, d_grad[0], d_grad[1], n * sizeof(bf16));
	int zero = padding_is_zero(got, N, V, Vp);
	printf("%s %s: padded columns %s\n", zero ? "ok" : "FAIL", sub, zero ? "zero" : "not zero");
	fail |= !zero;
	free(got);
	for (int run = 0; run < 2; run++) {
		cudaFree(d_grad[run]);
		cudaFree(d_loss2[run]);
	}
	cudaFree(d_targets), cudaFree(d_logits), cudaFree(d_losses), cudaFree(d_eval);
	free(logits), free(targets), free(losses), free(lse), free(grad);
	return fail;
}

/* ---- all of it -------------------------------------------------------------------- */

static int check_all(lm_rng *r)
{
	int fail = check_buckets(r);

	fail |= check_embedding(r, 1, 7, 37, 11, true);     /* odd: the plain path */
	fail |= check_embedding(r, 4, 64, 768, 5, true);    /* many repeats */
	fail |= check_embedding(r, 2, 33, 1600, 3000, false);
	fail |= check_embedding(r, 3, 17, 4096, 7, true);
	fail |= check_embedding(r, 8, 1024, 768, 50257, true);

	static const int shapes[][2] = {
		{7, 37}, {1, 8}, {64, 768}, {33, 1600}, {16, 4096}, {5, 8192},
		{3, 12288}, {9, 1001}, {4099, 768}, {8, 40000},
	};
	for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
		for (int k = LAYERNORM; k <= RMSNORM; k++)
			fail |= check_norm(r, (enum norm_kind)k, shapes[i][0], shapes[i][1]);

	fail |= check_crossentropy(r, 3, 37, 45);           /* odd: the plain path */
	fail |= check_crossentropy(r, 5, 1000, 1024);
	fail |= check_crossentropy(r, 7, 1003, 1008);       /* V not a multiple of 8 */
	fail |= check_crossentropy(r, 16, 50257, 50304);
	fail |= check_crossentropy(r, 4, 128256, 128256);
	return fail;
}

/* ---- timings ------------------------------------------------------------------ */

/* Milliseconds a call of the kernel behind fn(arg), over a few runs after
 * a warm-up, and the GB/s of bytes moved a call. */
static void bench_report(const char *what, void (*fn)(void *), void *arg, double bytes)
{
	cudaEvent_t t0, t1;
	cudaEventCreate(&t0);
	cudaEventCreate(&t1);
	fn(arg);
	cudaEventRecord(t0, 0);
	const int reps = 10;
	for (int i = 0; i < reps; i++)
		fn(arg);
	cudaEventRecord(t1, 0);
	cudaEventSynchronize(t1);
	float ms = 0.0f;
	cudaEventElapsedTime(&ms, t0, t1);
	ms /= reps;
	if (cuda_ok(what))
		printf("bench %-44s %8.3f ms %7.0f GB/s\n", what, ms, bytes / (ms * 1e6));
	cudaEventDestroy(t0);
	cudaEventDestroy(t1);
}

struct bench_args {
	int B, T, C, V, Vp, num_ids;
	bf16 *out, *inp, *weight, *bias, *dout, *dinp, *wte, *wpe, *logits;
	float *mean, *rstd, *dweight, *dbias, *scratch, *losses, *dwte, *dwpe;
	int *tokens, *ids, *starts, *pos, *targets;
};

static void bench_emb_fwd(void *p)
{
	struct bench_args *a = p;
	cu_embedding_forward(a->out, a->tokens, a->wte, a->wpe, a->B, a->T, a->C, 0);
}

static void bench_emb_bwd(void *p)
{
	struct bench_args *a = p;
	cu_embedding_backward(a->dwte, a->dwpe, a->dout, a->ids, a->starts, a->pos, a->num_ids,
			      a->B, a->T, a->C, 0);
}

static void bench_ln_fwd(void *p)
{
	struct bench_args *a = p;
	cu_layernorm_forward(a->out, a->mean, a->rstd, a->inp, a->weight, a->bias, a->B * a->T,
			     a->C, 1e-5f, 0);
}

static void bench_ln_bwd(void *p)
{
	struct bench_args *a = p;
	cu_layernorm_backward(a->dinp, a->dweight, a->dbias, a->scratch, a->dout, a->inp,
			      a->weight, a->mean, a->rstd, a->B * a->T, a->C, 0);
}

static void bench_rms_fwd(void *p)
{
	struct bench_args *a = p;
	cu_rmsnorm_forward(a->out, a->rstd, a->inp, a->weight, a->B * a->T, a->C, 1e-5f, 0);
}

static void bench_rms_bwd(void *p)
{
	struct bench_args *a = p;
	cu_rmsnorm_backward(a->dinp, a->dweight, a->scratch, a->dout, a->inp, a->weight, a->rstd,
			    a->B * a->T, a->C, 0);
}

static void bench_ce(void *p)
{
	struct bench_args *a = p;
	/* the gradient overwrites the logits: later calls see gradients,
	 * which cost the same */
	cu_crossentropy_fused(a->losses, a->logits, a->targets, a->B * a->T, a->V, a->Vp,
			      1.0f / (a->B * a->T), 0);
}

/* Embedding backward's inputs: the tokens' buckets on the device. */
static void bench_buckets(struct bench_args *a, const int *tokens, size_t n)
{
	int *ids = malloc(sizeof(int) * (n + 1)), *starts = malloc(sizeof(int) * (n + 1));
	int *pos = malloc(sizeof(int) * (n + 1));
	a->num_ids = embedding_buckets(tokens, (int)n, ids, starts, pos);
	a->ids = dev_i32(ids, n + 1);
	a->starts = dev_i32(starts, n + 1);
	a->pos = dev_i32(pos, n + 1);
	free(ids), free(starts), free(pos);
}

static void bench_norms(lm_rng *r, int B, int T, int C)
{
	char what[96];
	struct bench_args a = {.B = B, .T = T, .C = C};
	size_t n = (size_t)B * T, nc = n * C;
	float *x = rand_bf16_floats(r, nc, 1.0, 0.0), *w = rand_bf16_floats(r, (size_t)C, 0.1, 1.0);
	a.inp = dev_bf16(x, nc), a.dout = dev_bf16(x, nc), a.dinp = dev_bf16(x, nc);
	a.out = dev_alloc(nc * sizeof(bf16));
	a.weight = dev_bf16(w, (size_t)C), a.bias = dev_bf16(w, (size_t)C);
	a.mean = dev_alloc(n * sizeof(float)), a.rstd = dev_alloc(n * sizeof(float));
	a.dweight = dev_f32(w, (size_t)C), a.dbias = dev_f32(w, (size_t)C);
	a.scratch = dev_alloc(cu_norm_backward_scratch((int)n, C) * sizeof(float));
	double row_bytes = (double)nc * sizeof(bf16);
	snprintf(what, sizeof what, "layernorm forward N=%zu C=%d", n, C);
	bench_report(what, bench_ln_fwd, &a, 2 * row_bytes);
	snprintf(what, sizeof what, "layernorm backward N=%zu C=%d", n, C);
	bench_report(what, bench_ln_bwd, &a, 4 * row_bytes);
	snprintf(what, sizeof what, "rmsnorm forward N=%zu C=%d", n, C);
	bench_report(what, bench_rms_fwd, &a, 2 * row_bytes);
	snprintf(what, sizeof what, "rmsnorm backward N=%zu C=%d", n, C);
	bench_report(what, bench_rms_bwd, &a, 4 * row_bytes);
	cudaFree(a.inp), cudaFree(a.dout), cudaFree(a.dinp), cudaFree(a.out), cudaFree(a.weight);
	cudaFree(a.bias), cudaFree(a.mean), cudaFree(a.rstd), cudaFree(a.dweight);
	cudaFree(a.dbias), cudaFree(a.scratch);
	free(x), free(w);
}

static void bench_embedding(lm_rng *r, int B, int T, int C, int V, double skew)
{
	char what[96];
	struct bench_args a = {.B = B, .T = T, .C = C};
	size_t n = (size_t)B * T, nc = n * C;
	int *tokens = rand_tokens(r, n, V);
	for (size_t i = 0; i < n; i++)  /* a share of the rows one frequent token */
		if (rng_uniform(r) < skew)
			tokens[i] = 13;
	float *x = rand_bf16_floats(r, nc, 1.0, 0.0);
	float *e = rand_bf16_floats(r, (size_t)V * C, 1.0, 0.0);
	a.tokens = dev_i32(tokens, n);
	a.wte = dev_bf16(e, (size_t)V * C), a.wpe = dev_bf16(x, (size_t)T * C);
	a.out = dev_alloc(nc * sizeof(bf16)), a.dout = dev_bf16(x, nc);
	a.dwte = dev_f32(e, (size_t)V * C), a.dwpe = dev_f32(x, (size_t)T * C);
	bench_buckets(&a, tokens, n);
	double row_bytes = (double)nc * sizeof(bf16);
	snprintf(what, sizeof what, "embedding forward N=%zu C=%d", n, C);
	bench_report(what, bench_emb_fwd, &a, 2 * row_bytes);
	snprintf(what, sizeof what, "embedding backward N=%zu C=%d (%.0f%% one id)", n, C,
		 100 * skew);
	/* dout read twice (tokens, positions), the touched dwte rows r/w */
	bench_report(what, bench_emb_bwd, &a,
		     2 * row_bytes + 2.0 * a.num_ids * C * sizeof(float));
	cudaFree(a.tokens), cudaFree(a.wte), cudaFree(a.wpe), cudaFree(a.out), cudaFree(a.dout);
	cudaFree(a.dwte), cudaFree(a.dwpe), cudaFree(a.ids), cudaFree(a.starts), cudaFree(a.pos);
	free(tokens), free(x), free(e);
}

static void bench_crossentropy(lm_rng *r, int N, int V, int Vp)
{
	char what[96];
	struct bench_args a = {.B = 1, .T = N, .V = V, .Vp = Vp};
	size_t n = (size_t)N * Vp;
	float *z = rand_bf16_floats(r, n, 2.0, 0.0);
	int *targets = rand_tokens(r, (size_t)N, V);
	a.logits = dev_bf16(z, n), a.targets = dev_i32(targets, (size_t)N);
	a.losses = dev_alloc((size_t)N * sizeof(float));
	snprintf(what, sizeof what, "crossentropy N=%d V=%d Vp=%d", N, V, Vp);
	bench_report(what, bench_ce, &a, 3.0 * n * sizeof(bf16));  /* read twice, write */
	cudaFree(a.logits), cudaFree(a.targets), cudaFree(a.losses);
	free(z), free(targets);
}

static int bench_all(lm_rng *r)
{
	bench_embedding(r, 64, 1024, 768, 50304, 0.0);
	bench_embedding(r, 64, 1024, 768, 50304, 0.05);
	bench_norms(r, 64, 1024, 768);
	bench_norms(r, 8, 1024, 1600);
	bench_norms(r, 8, 1024, 4096);
	bench_crossentropy(r, 8192, 50257, 50304);
	bench_crossentropy(r, 4096, 128256, 128256);
	return 0;
}

#endif /* LMPIPE_CUDA */

int cmd__cuda_rows(int argc, char **argv)
{
#ifdef LMPIPE_CUDA
	lm_rng rng;
	if (argc == 2 && strcmp(argv[1], "buckets") == 0) {
		rng_seed(&rng, 1);
		return check_buckets(&rng) ? 1 : 0;
	}
	if (argc == 2 && strcmp(argv[1], "bench") == 0) {
		rng_seed(&rng, 1);
		return bench_all(&rng);
	}
	if (argc > 2) {
		fprintf(stderr, "usage: test-tool cuda-rows [SEED | buckets | bench]\n");
		return 2;
	}
	rng_seed(&rng, argc == 2 ? strtoull(argv[1], NULL, 10) : 1);
	int fail = check_all(&rng);
	printf("%s\n", fail ? "some checks FAILED" : "all checks passed");
	return fail ? 1 : 0;
#else
	(void)argc;
	(void)argv;
	fprintf(stderr, "test-tool: built without CUDA\n");
	return 2;
#endif
}
