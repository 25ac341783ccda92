/*
 * matmul.c — a packed GEMM after the BLIS/GotoBLAS scheme, and the linear
 * layer built on it.
 *
 * For each block of KC steps of the shared dimension, B is packed into
 * panels of NR columns (zero-padded), and each thread packs MC-row blocks of
 * A into panels of MR rows; an MR x NR micro-kernel then keeps its whole
 * tile of C in vector registers while it walks the K block. Packing makes the
 * kernel's loads contiguous whatever the strides, so the same kernel serves
 * x W^T, dY W and dY^T X. Vectors are GCC's vector extension (8 floats = one
 * AVX register), so the code compiles everywhere and vectorizes where the
 * machine allows.
 */
#include "model/matmul.h"
#include "model/par.h"

#include <stdlib.h>
#include <string.h>

#define MR 6     /* rows of the micro-tile */
#define NR 16    /* columns of the micro-tile: two vectors of 8 */
#define KC 256   /* depth of a packed block (A and B panels stay in L1/L2) */
#define MC 96    /* rows of A a thread packs at a time (a multiple of MR) */

typedef float v8 __attribute__((vector_size(32)));

/* ---- packing --------------------------------------------------------- */

/* Panel p of B: kc rows of NR floats, columns j0 .. j0+NR, zero beyond N. */
static void pack_b(float *dst, const float *B, long rsb, long csb, int k0, int kc, int j0, int N)
{
	int nj = N - j0 < NR ? N - j0 : NR;
	for (int k = 0; k < kc; k++) {
		const float *row = B + (long)(k0 + k) * rsb + (long)j0 * csb;
		float *d = dst + (long)k * NR;
		int j = 0;
		if (csb == 1)
			for (; j < nj; j++)
				d[j] = row[j];
		else
			for (; j < nj; j++)
				d[j] = row[(long)j * csb];
		for (; j < NR; j++)
			d[j] = 0.0f;
	}
}

/* Panel of A: kc columns of MR floats, rows i0 .. i0+MR, zero beyond M. */
static void pack_a(float *dst, const float *A, long rsa, long csa, int i0, int M, int k0, int kc)
{
	int ni = M - i0 < MR ? M - i0 : MR;
	for (int r = 0; r < MR; r++) {
		if (r >= ni) {
			for (int k = 0; k < kc; k++)
				dst[(long)k * MR + r] = 0.0f;
			continue;
		}
		const float *row = A + (long)(i0 + r) * rsa + (long)k0 * csa;
		if (csa == 1)
			for (int k = 0; k < kc; k++)
				dst[(long)k * MR + r] = row[k];
		else
			for (int k = 0; k < kc; k++)
				dst[(long)k * MR + r] = row[(long)k * csa];
	}
}

/* ---- the micro-kernel -------------------------------------------------- */

/* The tile C[0..mr, 0..nr) (+)= a (kc x MR panel) * b (kc x NR panel). */
__attribute__((optimize("fp-contract=fast")))
static void micro_kernel(int kc, const float *restrict a, const float *restrict b,
			 float *restrict c, long ldc, int mr, int nr, int accumulate)
{
	v8 acc[MR][2];
	memset(acc, 0, sizeof acc);
	for (int k = 0; k < kc; k++) {
		v8 b0, b1;
		memcpy(&b0, b + (long)k * NR, sizeof b0);
		memcpy(&b1, b + (long)k * NR + 8, sizeof b1);
		const float *ak = a + (long)k * MR;
		for (int r = 0; r < MR; r++) {
			v8 ar = {ak[r], ak[r], ak[r], ak[r], ak[r], ak[r], ak[r], ak[r]};
			acc[r][0] += ar * b0;
			acc[r][1] += ar * b1;
		}
	}
	float tile[MR][NR];
	memcpy(tile, acc, sizeof tile);
	for (int r = 0; r < mr; r++) {
		float *crow = c + (long)r * ldc;
		if (accumulate)
			for (int j = 0; j < nr; j++)
				crow[j] += tile[r][j];
		else
			for (int j = 0; j < nr; j++)
				crow[j] = tile[r][j];
	}
}

/* ---- GEMM ---------------------------------------------------------------- */

void gemm(int M, int N, int K, const float *A, long rsa, long csa,
	  const float *B, long rsb, long csb, float *C, long ldc, int accumulate)
{
	if (M <= 0 || N <= 0)
		return;
	if (K <= 0) {
		if (!accumulate)
			for (int i = 0; i < M; i++)
				memset(C + (long)i * ldc, 0, sizeof(float) * (size_t)N);
		return;
	}
	int npanels = (N + NR - 1) / NR;
	int mblocks = (M + MC - 1) / MC;
	float *bpack = aligned_alloc(64, sizeof(float) * (size_t)KC * NR * (size_t)npanels);
	for (int k0 = 0; k0 < K; k0 += KC) {
		int kc = K - k0 < KC ? K - k0 : KC;
		int acc = accumulate || k0 > 0;
#pragma omp parallel if ((long)M * N * kc >= PAR_MIN_WORK)
		{
			float *apack = aligned_alloc(64, sizeof(float) * KC * MC);
#pragma omp for schedule(static)
			for (int p = 0; p < npanels; p++)
				pack_b(bpack + (long)p * kc * NR, B, rsb, csb, k0, kc, p * NR, N);
#pragma omp for schedule(static)
			for (int mb = 0; mb < mblocks; mb++) {
				int i0 = mb * MC;
				int mc = M - i0 < MC ? M - i0 : MC;
				for (int ip = 0; ip < mc; ip += MR)
					pack_a(apack + (long)ip * kc, A, rsa, csa, i0 + ip, M, k0, kc);
				for (int p = 0; p < npanels; p++) {
					int j0 = p * NR;
					int nr = N - j0 < NR ? N - j0 : NR;
					for (int ip = 0; ip < mc; ip += MR) {
						int mr = mc - ip < MR ? mc - ip : MR;
						micro_kernel(kc, apack + (long)ip * kc, bpack + (long)p * kc * NR,
							     C + (long)(i0 + ip) * ldc + j0, ldc, mr, nr, acc);
					}
				}
			}
			free(apack);
		}
	}
	free(bpack);
}

/* ---- the linear layer ------------------------------------------------- */

void matmul_forward(float *out, const float *inp, const float *weight, const float *bias,
		    int N, int IC, int OC)
{
	/* out = inp (N, IC) @ weight^T: B(k, j) = weight[j*IC + k] */
	gemm(N, OC, IC, inp, IC, 1, weight, 1, IC, out, OC, 0);
	if (bias) {
#pragma omp parallel for schedule(static) if ((long)N * OC >= PAR_MIN_WORK)
		for (int n = 0; n < N; n++)
			for (int o = 0; o < OC; o++)
				out[(long)n * OC + o] += bias[o];
	}
}

void matmul_backward(float *dinp, float *dweight, float *dbias, const float *dout,
		     const float *inp, const float *weight, int N, int IC, int OC)
{
	if (dinp)  /* dinp (N, IC) += dout (N, OC) @ weight (OC, IC) */
		gemm(N, IC, OC, dout, OC, 1, weight, IC, 1, dinp, IC, 1);
	/* dweight (OC, IC) += dout^T (OC, N) @ inp (N, IC) */
	gemm(OC, IC, N, dout, 1, OC, inp, IC, 1, dweight, IC, 1);
	if (dbias) {
		/* column sums, a block of columns a thread, rows read in order */
#pragma omp parallel for schedule(static) if ((long)N * OC >= PAR_MIN_WORK)
		for (int o0 = 0; o0 < OC; o0 += 64) {
			int o1 = OC - o0 < 64 ? OC : o0 + 64;
			float s[64] = {0};
			for (int n = 0; n < N; n++)
				for (int o = o0; o < o1; o++)
					s[o - o0] += dout[(long)n * OC + o];
			for (int o = o0; o < o1; o++)
				dbias[o] += s[o - o0];
		}
	}
}
