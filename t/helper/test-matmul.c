/*
 * test-tool matmul — the packed GEMM's linear layer (matmul_forward,
 * matmul_backward) and the few-rows one (matvec_forward) against the
 * triple loops of matmul.c (matmul_forward_naive, matmul_backward_naive).
 *
 *   test-tool matmul check N IC OC SEED
 *       random inp (N, IC), weight (OC, IC), bias (OC), dout (N, OC) and
 *       nonzero starting gradients (the backward accumulates), with and
 *       without the bias. One line a product: "ok forward NxICxOC bias",
 *       or "FAIL ..." with the worst element; exit 1 on a failure.
 *   test-tool matmul drop N IC OC SEED
 *       check, with the packed products given inp with its first element
 *       zeroed: one product missing from some sums, which the check must
 *       see (it fails: exit 1)
 *   test-tool matmul bits N IC OC SEED
 *       the packed results' bits as one FNV-1a hash (the same for any
 *       number of threads, as matmul.h promises)
 *
 * The bound: a sum of n products computed in float in any order is within
 * gamma_n * sum |terms| of the exact sum, gamma_n = n u / (1 - n u), u =
 * 2^-24 (Higham, Accuracy and Stability of Numerical Algorithms, 3.1); the
 * reference sums in double and rounds once (u |ref| more). n counts the
 * products, the bias and the starting value of an accumulated gradient.
 * A packing or tiling mistake (a wrong or missing panel, a stale
 * accumulator) gives errors of the size of the terms, far above it.
 */
#include "model/matmul.h"
#include "model/rng.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define U 0x1p-24

typedef struct {
	int N, IC, OC;
	float *inp, *w, *b, *dout;  /* (N, IC), (OC, IC), (OC), (N, OC) */
	float *pinp;                /* the packed products' inp: inp, or a damaged copy */
	float *dinp0, *dw0, *db0;   /* starting gradients */
} problem;

static float *randn(lm_rng *r, size_t n)
{
	float *p = malloc((n ? n : 1) * sizeof *p);
	if (!p) {
		fprintf(stderr, "test-tool: out of memory\n");
		exit(1);
	}
	for (size_t i = 0; i < n; i++)
		p[i] = (float)rng_normal(r);
	return p;
}

static float *copy(const float *src, size_t n)
{
	float *p = malloc((n ? n : 1) * sizeof *p);
	if (!p) {
		fprintf(stderr, "test-tool: out of memory\n");
		exit(1);
	}
	memcpy(p, src, n * sizeof *p);
	return p;
}

static void problem_init(problem *p, int N, int IC, int OC, uint64_t seed)
{
	lm_rng r;
	rng_seed(&r, seed);
	*p = (problem){.N = N, .IC = IC, .OC = OC};
	p->inp = randn(&r, (size_t)N * IC);
	p->w = randn(&r, (size_t)OC * IC);
	p->b = randn(&r, (size_t)OC);
	p->dout = randn(&r, (size_t)N * OC);
	p->dinp0 = randn(&r, (size_t)N * IC);
	p->dw0 = randn(&r, (size_t)OC * IC);
	p->db0 = randn(&r, (size_t)OC);
	p->pinp = p->inp;
}

static void problem_free(problem *p)
{
	if (p->pinp != p->inp)
		free(p->pinp);
	free(p->inp), free(p->w), free(p->b), free(p->dout);
	free(p->dinp0), free(p->dw0), free(p->db0);
}

/* The bound for element (i, j) of a product X Y (X (rows, n) at X[i*xr +
 * k*xc], Y (n, cols) at Y[k*yr + j*yc]) plus start: sum |terms| gamma. */
static double bound(const float *X, long xr, long xc, const float *Y, long yr, long yc, int n,
		    int i, int j, double start, double ref)
{
	double s = fabs(start);
	for (int k = 0; k < n; k++)
		s += fabs((double)X[i * xr + k * xc] * Y[k * yr + j * yc]);
	double terms = n + (start != 0.0);
	return terms * U / (1 - terms * U) * s + U * fabs(ref);
}

/* Compare got with ref (rows, cols), element (i, j) the product above. */
static int compare(const char *what, const problem *p, const float *got, const float *ref,
		   int rows, int cols, const float *X, long xr, long xc, const float *Y, long yr,
		   long yc, int n, const float *start_rows, const float *start_cols)
{
	double worst = 0;
	int wi = 0, wj = 0;
	for (int i = 0; i < rows; i++)
		for (int j = 0; j < cols; j++) {
			double start = start_rows ? start_rows[(long)i * cols + j]
				       : start_cols ? start_cols[j] : 0.0;
			double err = fabs((double)got[(long)i * cols + j] - ref[(long)i * cols + j]);
			double r = err / bound(X, xr, xc, Y, yr, yc, n, i, j, start,
					       ref[(long)i * cols + j]);
			if (!(r <= worst))  /* a NaN counts as the worst */
				worst = r, wi = i, wj = j;
		}
	int ok = worst <= 1.0;
	if (ok)
		printf("ok %s %dx%dx%d\n", what, p->N, p->IC, p->OC);
	else
		printf("FAIL %s %dx%dx%d: element (%d, %d) off by %.3g times its bound\n", what, p->N,
		       p->IC, p->OC, wi, wj, worst);
	return !ok;
}

static int check_forward(const problem *p, int with_bias)
{
	int N = p->N, IC = p->IC, OC = p->OC;
	const float *b = with_bias ? p->b : NULL;
	float *got = malloc((size_t)N * OC * sizeof *got + 1), *ref = malloc((size_t)N * OC * sizeof *ref + 1);
	float *vec = malloc((size_t)N * OC * sizeof *vec + 1);
	matmul_forward(got, p->pinp, p->w, b, N, IC, OC);
	matvec_forward(vec, p->pinp, p->w, b, N, IC, OC);
	matmul_forward_naive(ref, p->inp, p->w, b, N, IC, OC);
	const char *name = with_bias ? "forward bias" : "forward";
	int bad = compare(name, p, got, ref, N, OC, p->inp, IC, 1, p->w, 1, IC, IC, NULL, b);
	bad += compare(with_bias ? "matvec bias" : "matvec", p, vec, ref, N, OC, p->inp, IC, 1,
		       p->w, 1, IC, IC, NULL, b);
	free(got), free(ref), free(vec);
	return bad;
}

static int check_backward(const problem *p, int with_bias)
{
	int N = p->N, IC = p->IC, OC = p->OC;
	size_t ni = (size_t)N * IC, wi = (size_t)OC * IC;
	float *dinp = copy(p->dinp0, ni), *dw = copy(p->dw0, wi), *db = copy(p->db0, OC);
	float *rinp = copy(p->dinp0, ni), *rw = copy(p->dw0, wi), *rb = copy(p->db0, OC);
	matmul_backward(dinp, dw, with_bias ? db : NULL, p->dout, p->pinp, p->w, N, IC, OC);
	matmul_backward_naive(rinp, rw, with_bias ? rb : NULL, p->dout, p->inp, p->w, N, IC, OC);
	int bad = 0;
	/* dinp (N, IC) += dout (N, OC) weight (OC, IC) */
	bad += compare(with_bias ? "backward-dinp bias" : "backward-dinp", p, dinp, rinp, N, IC,
		       p->dout, OC, 1, p->w, IC, 1, OC, p->dinp0, NULL);
	/* dweight (OC, IC) += dout^T (OC, N) inp (N, IC) */
	bad += compare(with_bias ? "backward-dweight bias" : "backward-dweight", p, dw, rw, OC, IC,
		       p->dout, 1, OC, p->inp, IC, 1, N, p->dw0, NULL);
	if (with_bias) {  /* dbias (1, OC) += ones (1, N) dout (N, OC) */
		float *ones = malloc((size_t)N * sizeof *ones + 1);
		for (int n = 0; n < N; n++)
			ones[n] = 1.0f;
		bad += compare("backward-dbias bias", p, db, rb, 1, OC, ones, 0, 1, p->dout, OC, 1,
			       N, p->db0, NULL);
		free(ones);
	} else {
		int same = memcmp(db, p->db0, (size_t)OC * sizeof *db) == 0;
		printf("%s backward-dbias %dx%dx%d untouched without a bias\n", same ? "ok" : "FAIL",
		       N, IC, OC);
		bad += !same;
	}
	free(dinp), free(dw), free(db), free(rinp), free(rw), free(rb);
	return bad;
}

static uint64_t fnv(uint64_t h, const float *p, size_t n)
{
	const unsigned char *c = (const unsigned char *)p;
	for (size_t i = 0; i < n * sizeof *p; i++)
		h = (h ^ c[i]) * 0x100000001b3ULL;
	return h;
}

static void print_bits(const problem *p)
{
	int N = p->N, IC = p->IC, OC = p->OC;
	size_t ni = (size_t)N * IC, wi = (size_t)OC * IC;
	float *out = malloc((size_t)N * OC * sizeof *out + 1);
	float *dinp = copy(p->dinp0, ni), *dw = copy(p->dw0, wi), *db = copy(p->db0, OC);
	matmul_forward(out, p->inp, p->w, p->b, N, IC, OC);
	matmul_backward(dinp, dw, db, p->dout, p->inp, p->w, N, IC, OC);
	uint64_t h = 0xcbf29ce484222325ULL;
	h = fnv(h, out, (size_t)N * OC);
	h = fnv(h, dinp, ni);
	h = fnv(h, dw, wi);
	h = fnv(h, db, (size_t)OC);
	printf("%016llx\n", (unsigned long long)h);
	free(out), free(dinp), free(dw), free(db);
}

int cmd__matmul(int argc, char **argv)
{
	const char *mode = argc == 6 ? argv[1] : "";
	if (strcmp(mode, "check") != 0 && strcmp(mode, "drop") != 0 && strcmp(mode, "bits") != 0) {
		fprintf(stderr, "usage: test-tool matmul check|drop|bits N IC OC SEED\n");
		return 2;
	}
	int N = atoi(argv[2]), IC = atoi(argv[3]), OC = atoi(argv[4]);
	if (N < 1 || IC < 1 || OC < 1) {
		fprintf(stderr, "test-tool: matmul: sizes must be positive\n");
		return 2;
	}
	problem p;
	problem_init(&p, N, IC, OC, strtoull(argv[5], NULL, 10));
	if (strcmp(mode, "drop") == 0) {
		p.pinp = copy(p.inp, (size_t)N * IC);
		p.pinp[0] = 0.0f;
	}
	int bad = 0;
	if (strcmp(mode, "bits") == 0) {
		print_bits(&p);
	} else {
		for (int with_bias = 0; with_bias <= 1; with_bias++)
			bad += check_forward(&p, with_bias) + check_backward(&p, with_bias);
	}
	problem_free(&p);
	return bad ? 1 : 0;
}
