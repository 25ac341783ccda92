/*
 * matmul.c — a packed GEMM after the BLIS/GotoBLAS scheme, and the linear
 * layer built on it.
 *
 * C is cut into MC x NC tiles, each computed by one thread: for each block of
 * KC steps of the shared dimension the thread packs its block of B into
 * panels of NR columns and its block of A into panels of MR rows (both
 * zero-padded), and an MR x NR micro-kernel keeps its piece of C in vector
 * registers while it walks the K block. Packing makes the
 * kernel's loads contiguous whatever the strides, so the same kernel serves
 * x W^T, dY W and dY^T X. Vectors are GCC's vector extension (8 floats = one
 * AVX register), so the code compiles everywhere and vectorizes where the
 * machine allows.
 */
#include "model/matmul.h"
#include "model/vec.h"
#include "model/par.h"

#include <stdlib.h>
#include <string.h>

#define MR 6     /* rows of the micro-tile */
#define NR 16    /* columns of the micro-tile: two vectors of 8 */
#define KC 256   /* depth of a packed block (A and B panels stay in L1/L2) */
#define MC 96    /* rows of a tile of C (a multiple of MR): A block in L2 */
#define NC 256   /* columns of a tile of C (a multiple of NR): B block in L2 */


/* ---- packing --------------------------------------------------------- */

/* Panel p of B: kc rows of NR floats, columns j0 .. j0+NR, zero beyond N.
 * Read along whichever stride is 1, so the source is walked contiguously. */
static void pack_b(float *dst, const float *B, long rsb, long csb, int k0, int kc, int j0, int N)
{
	int nj = N - j0 < NR ? N - j0 : NR;
	if (csb == 1) {
		for (int k = 0; k < kc; k++) {
			const float *row = B + (long)(k0 + k) * rsb + j0;
			float *d = dst + (long)k * NR;
			if (nj == NR) {  /* a fixed size: inlined vector moves, no call */
				memcpy(d, row, NR * sizeof(float));
				continue;
			}
			int j = 0;
			for (; j < nj; j++)
				d[j] = row[j];
			for (; j < NR; j++)
				d[j] = 0.0f;
		}
		return;
	}
	for (int j = 0; j < NR; j++) {
		if (j >= nj) {
			for (int k = 0; k < kc; k++)
				dst[(long)k * NR + j] = 0.0f;
			continue;
		}
		const float *col = B + (long)(j0 + j) * csb + (long)k0 * rsb;
		for (int k = 0; k < kc; k++)
			dst[(long)k * NR + j] = col[(long)k * rsb];
	}
}

/* Panel of A: kc columns of MR floats, rows i0 .. i0+MR, zero beyond M.
 * Read along whichever stride is 1. */
static void pack_a(float *dst, const float *A, long rsa, long csa, int i0, int M, int k0, int kc)
{
	int ni = M - i0 < MR ? M - i0 : MR;
	if (rsa == 1) {
		for (int k = 0; k < kc; k++) {
			const float *col = A + (long)(k0 + k) * csa + i0;
			float *d = dst + (long)k * MR;
			if (ni == MR) {
				memcpy(d, col, MR * sizeof(float));
				continue;
			}
			int r = 0;
			for (; r < ni; r++)
				d[r] = col[r];
			for (; r < MR; r++)
				d[r] = 0.0f;
		}
		return;
	}
	for (int r = 0; r < MR; r++) {
		if (r >= ni) {
			for (int k = 0; k < kc; k++)
				dst[(long)k * MR + r] = 0.0f;
			continue;
		}
		const float *row = A + (long)(i0 + r) * rsa + (long)k0 * csa;
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
	for (int r = 0; r < MR; r++)
		acc[r][0] = acc[r][1] = (v8){0};
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
	if (mr == MR && nr == NR) {  /* the common case: whole vectors */
		for (int r = 0; r < MR; r++) {
			float *crow = c + (long)r * ldc;
			for (int v = 0; v < 2; v++) {
				v8 cv = acc[r][v];
				if (accumulate) {
					v8 old;
					memcpy(&old, crow + 8 * v, sizeof old);
					cv += old;
				}
				memcpy(crow + 8 * v, &cv, sizeof cv);
			}
		}
		return;
	}
	for (int r = 0; r < mr; r++) {
		float *crow = c + (long)r * ldc;
		for (int j = 0; j < nr; j++) {
			float x = acc[r][j / 8][j % 8];
			crow[j] = accumulate ? crow[j] + x : x;
		}
	}
}

/* ---- GEMM ---------------------------------------------------------------- */

/* C's tile (i0, j0, mc, nc) with one A and one B panel at a time packed on
 * the stack: the micro-kernel's arithmetic in gemm's order, so the same
 * bits, only slower (B is packed again for every panel of A). For a thread
 * whose packing buffers could not be allocated. */
static void gemm_tile_unbuffered(int M, int N, int K, const float *A, long rsa, long csa,
				 const float *B, long rsb, long csb, float *C, long ldc,
				 int accumulate, int i0, int j0, int mc, int nc)
{
	float ap[KC * MR] __attribute__((aligned(64)));
	float bp[KC * NR] __attribute__((aligned(64)));
	for (int k0 = 0; k0 < K; k0 += KC) {
		int kc = K - k0 < KC ? K - k0 : KC;
		int acc = accumulate || k0 > 0;
		for (int jp = 0; jp < nc; jp += NR) {
			int nr = nc - jp < NR ? nc - jp : NR;
			pack_b(bp, B, rsb, csb, k0, kc, j0 + jp, N);
			for (int ip = 0; ip < mc; ip += MR) {
				int mr = mc - ip < MR ? mc - ip : MR;
				pack_a(ap, A, rsa, csa, i0 + ip, M, k0, kc);
				micro_kernel(kc, ap, bp, C + (long)(i0 + ip) * ldc + j0 + jp, ldc, mr, nr, acc);
			}
		}
	}
}

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
	/* Tiles of MC x NC of C, dealt out to the threads once, column block
	 * by column block: each thread packs its own blocks and walks all of
	 * K, so there is no barrier until the end (barriers cost dearly on a
	 * busy machine). A thread packs a column block of B (all of K) once
	 * and keeps it for the consecutive tiles that share it. */
	int mblocks = (M + MC - 1) / MC, nblocks = (N + NC - 1) / NC;
	int kblocks = (K + KC - 1) / KC;
	long tiles = (long)mblocks * nblocks;
#pragma omp parallel if ((long)M * N * K >= PAR_MIN_WORK)
	{
		float *apack = aligned_alloc(64, sizeof(float) * KC * MC);
		float *bpack = aligned_alloc(64, sizeof(float) * KC * NC * (size_t)kblocks);
		int packed_nb = -1, buffered = apack && bpack;
#pragma omp for schedule(static)
		for (long tile = 0; tile < tiles; tile++) {
			int nb = (int)(tile / mblocks);
			int i0 = (int)(tile % mblocks) * MC, j0 = nb * NC;
			int mc = M - i0 < MC ? M - i0 : MC, nc = N - j0 < NC ? N - j0 : NC;
			if (!buffered) {
				gemm_tile_unbuffered(M, N, K, A, rsa, csa, B, rsb, csb, C, ldc,
						     accumulate, i0, j0, mc, nc);
				continue;
			}
			if (nb != packed_nb) {
				for (int k0 = 0; k0 < K; k0 += KC) {
					int kc = K - k0 < KC ? K - k0 : KC;
					float *bk = bpack + (size_t)(k0 / KC) * KC * NC;
					for (int jp = 0; jp < nc; jp += NR)
						pack_b(bk + (long)jp * kc, B, rsb, csb, k0, kc, j0 + jp, N);
				}
				packed_nb = nb;
			}
			for (int k0 = 0; k0 < K; k0 += KC) {
				int kc = K - k0 < KC ? K - k0 : KC;
				int acc = accumulate || k0 > 0;
				const float *bk = bpack + (size_t)(k0 / KC) * KC * NC;
				for (int ip = 0; ip < mc; ip += MR)
					pack_a(apack + (long)ip * kc, A, rsa, csa, i0 + ip, M, k0, kc);
				for (int jp = 0; jp < nc; jp += NR) {
					int nr = nc - jp < NR ? nc - jp : NR;
					for (int ip = 0; ip < mc; ip += MR) {
						int mr = mc - ip < MR ? mc - ip : MR;
						micro_kernel(kc, apack + (long)ip * kc, bk + (long)jp * kc,
							     C + (long)(i0 + ip) * ldc + j0 + jp, ldc, mr, nr, acc);
					}
				}
			}
		}
		free(apack);
		free(bpack);
	}
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

/* ---- a few rows ---------------------------------------------------------- */

/* A matrix-vector product this large (multiply-adds) or larger is split over
 * threads; a smaller one costs less than waking them (on a busy machine far
 * less). */
#define MATVEC_PAR_MIN (1L << 22)

void matvec_forward(float *out, const float *inp, const float *weight, const float *bias,
		    int N, int IC, int OC)
{
#pragma omp parallel for schedule(static) if ((long)OC * IC >= MATVEC_PAR_MIN)
	for (int o = 0; o < OC; o++)
		for (int n = 0; n < N; n++)
			out[(long)n * OC + o] = vec_dot(inp + (long)n * IC, weight + (long)o * IC, IC) +
						(bias ? bias[o] : 0.0f);
}

/* ---- the reference: triple loops ------------------------------------------ */

void matmul_forward_naive(float *out, const float *inp, const float *weight, const float *bias,
			  int N, int IC, int OC)
{
	for (int n = 0; n < N; n++)
		for (int o = 0; o < OC; o++) {
			double s = bias ? bias[o] : 0.0;
			for (int i = 0; i < IC; i++)
				s += (double)inp[(long)n * IC + i] * weight[(long)o * IC + i];
			out[(long)n * OC + o] = (float)s;
		}
}

void matmul_backward_naive(float *dinp, float *dweight, float *dbias, const float *dout,
			   const float *inp, const float *weight, int N, int IC, int OC)
{
	for (int n = 0; dinp && n < N; n++)      /* dinp[n][i] += sum_o dout[n][o] weight[o][i] */
		for (int i = 0; i < IC; i++) {
			double s = dinp[(long)n * IC + i];
			for (int o = 0; o < OC; o++)
				s += (double)dout[(long)n * OC + o] * weight[(long)o * IC + i];
			dinp[(long)n * IC + i] = (float)s;
		}
	for (int o = 0; o < OC; o++)             /* dweight[o][i] += sum_n dout[n][o] inp[n][i] */
		for (int i = 0; i < IC; i++) {
			double s = dweight[(long)o * IC + i];
			for (int n = 0; n < N; n++)
				s += (double)dout[(long)n * OC + o] * inp[(long)n * IC + i];
			dweight[(long)o * IC + i] = (float)s;
		}
	for (int o = 0; dbias && o < OC; o++) {  /* dbias[o] += sum_n dout[n][o] */
		double s = dbias[o];
		for (int n = 0; n < N; n++)
			s += dout[(long)n * OC + o];
		dbias[o] = (float)s;
	}
}
