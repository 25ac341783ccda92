/*
 * attention.cu — causal flash attention on tensor cores, forward and
 * backward (FlashAttention-2's algorithm: Dao, 2023, arXiv:2307.08691).
 * CPU twin: share/model/attention.c — per head, softmax(q k^T / sqrt(HS)
 * with the causal mask) v, from qkv (B, T, 3C) laid out q | k | v with head
 * h at columns h*HS of each third.
 *
 * Every product is an mma.sync m16n8k16 (bf16 in, fp32 accumulate) on
 * 16-row slices a warp owns; the operands come from shared memory through
 * ldmatrix, or, for P and dS, straight from the accumulator registers
 * (the m16n8 accumulator pair of two n-tiles is the A fragment of the next
 * product, once rounded to bf16). Softmax statistics and every sum are fp32.
 *
 *   forward    a block per (query tile, head, batch), a warp per 16 queries;
 *              key tiles up to the diagonal, double-buffered with cp.async;
 *              S = q k^T, the online softmax (running max m and sum l a row),
 *              P (bf16) v; out = acc / l, lse = m * scale + log l.
 *   backward   (1) D = rowsum(dout * out) a query, into the scratch;
 *              (2) dk, dv: a block per (key tile, head, batch), a warp per 16
 *              keys, over the query tiles at and after it, recomputing
 *              P = exp(S * scale - lse): dv += P^T dout, dP = dout v^T,
 *              dS = P (dP - D), dk += dS^T q * scale;
 *              (3) dq: a block per (query tile, head, batch), a warp per 16
 *              queries, over the key tiles up to the diagonal: dq += dS k *
 *              scale. Every gradient element is summed by one thread in a
 *              fixed order: no atomics, the same bits every run.
 *
 * D comes from the bf16 out, as in FlashAttention-2: out's rounding moves
 * D by ~2^-9 |dout| |out|, which dS = P (dP - D) feels most where a row
 * has few keys (T < 7: up to 3e-2 normalized error in dq and dk against the
 * fp32 twin; ~3e-3 at T >= 15). Needs sm_80 or later (mma.sync on bf16,
 * ldmatrix, cp.async).
 *
 * Rows past T are zero-filled on load and masked, and never stored, so any T
 * works. Head sizes 32, 64 and 128 (templates); the row pointers need
 * 16-byte alignment, which C = NH * HS (a multiple of 32) gives any
 * cudaMalloc'd tensor. Shared-memory rows are padded by 8 bf16 so the eight
 * rows an ldmatrix reads fall in distinct bank groups.
 */
#include "model/cuda/common.cuh"
extern "C" {
#include "util/error.h"
}

#include <math.h>
#include <stdint.h>

#define ATT_PAD 8        /* bf16 of padding at the end of a shared-memory row */
#define LOG2E 1.4426950408889634f

/* ---- PTX: asynchronous copies, ldmatrix, mma ------------------------------- */

static __device__ __forceinline__ uint32_t smem_addr(const void *p)
{
	return (uint32_t)__cvta_generic_to_shared(p);
}

/* 16 bytes global -> shared, zeros when !valid (src must still be mapped). */
static __device__ __forceinline__ void cp_async16(uint32_t dst, const void *src, bool valid)
{
	asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src),
		     "r"(valid ? 16 : 0));
}

static __device__ __forceinline__ void cp_async4(uint32_t dst, const void *src, bool valid)
{
	asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;\n" ::"r"(dst), "l"(src),
		     "r"(valid ? 4 : 0));
}

static __device__ __forceinline__ void cp_async_commit(void)
{
	asm volatile("cp.async.commit_group;\n" ::: "memory");
}

/* Wait until at most N committed groups are still in flight. */
template <int N>
static __device__ __forceinline__ void cp_async_wait(void)
{
	asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
}

/* Four 8x8 bf16 matrices; lane i gives the address of row i % 8 of matrix
 * i / 8, register j receives matrix j (transposed with _t). */
static __device__ __forceinline__ void ldsm_x4(uint32_t r[4], uint32_t addr)
{
	asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
		     : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
		     : "r"(addr));
}

static __device__ __forceinline__ void ldsm_x4_t(uint32_t r[4], uint32_t addr)
{
	asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
		     : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
		     : "r"(addr));
}

/* c (16x8, fp32) += a (16x16, bf16, row) b (16x8, bf16, col). Fragments, with
 * g = lane / 4 and q = lane % 4: c[0..1] row g, columns 2q, 2q+1; c[2..3]
 * row g+8; a[0] (g, 2q..), a[1] (g+8, 2q..), a[2] (g, 2q+8..), a[3] (g+8,
 * 2q+8..); b[0] (k 2q.., n g), b[1] (k 2q+8.., n g). */
static __device__ __forceinline__ void mma16816(float c[4], const uint32_t a[4], uint32_t b0,
						uint32_t b1)
{
	asm("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
	    "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
	    : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
	    : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

static __device__ __forceinline__ uint32_t pack_bf16(float lo, float hi)
{
	__nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
	return *reinterpret_cast<uint32_t *>(&v);
}

/* 2^x; ex2.approx gives 0 for -inf. */
static __device__ __forceinline__ float exp2_approx(float x)
{
	float y;
	asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
	return y;
}

/* ---- warp-level tile products ---------------------------------------------
 * A warp multiplies a 16-row slice. Tiles in shared memory are row-major
 * with a row stride of HS + ATT_PAD, passed as 32-bit shared addresses
 * (fewer registers than generic pointers). Accumulators are acc[n / 8][4],
 * n the product's columns; element e of acc[j] sits at row g + 8 * (e / 2),
 * column 8 j + 2 q + e % 2. */

/* The shared address of element (row, col) of a tile at address base. */
template <int HS>
static __device__ __forceinline__ uint32_t at(uint32_t base, int row, int col)
{
	return base + (uint32_t)((row * (HS + ATT_PAD) + col) * sizeof(bf16_t));
}

/* The A fragment of rows 0..15, columns kcol..kcol+15 of a shared tile. */
template <int HS>
static __device__ __forceinline__ void frag_a(uint32_t a[4], uint32_t rows, int kcol, int lane)
{
	ldsm_x4(a, at<HS>(rows, lane & 15, kcol + (lane >> 4) * 8));
}

/* The A fragment (16 x 16, bf16) of two adjacent accumulator n-tiles. */
static __device__ __forceinline__ void frag_a_from_acc(uint32_t a[4], const float c0[4],
						       const float c1[4])
{
	a[0] = pack_bf16(c0[0], c0[1]);
	a[1] = pack_bf16(c0[2], c0[3]);
	a[2] = pack_bf16(c1[0], c1[1]);
	a[3] = pack_bf16(c1[2], c1[3]);
}

/* acc (16 x N) += a (the k-slice kcol..kcol+15) times bt^T, bt a shared
 * tile of N rows (the product's columns) whose columns are k. */
template <int N, int HS>
static __device__ __forceinline__ void mma_a_bt(float acc[][4], const uint32_t a[4], uint32_t bt,
						int kcol, int lane)
{
#pragma unroll
	for (int np = 0; np < N / 16; np++) {
		uint32_t b[4];
		ldsm_x4(b, at<HS>(bt, np * 16 + (lane & 7) + (lane >> 4) * 8,
				  kcol + ((lane >> 3) & 1) * 8));
		mma16816(acc[2 * np], a, b[0], b[1]);
		mma16816(acc[2 * np + 1], a, b[2], b[3]);
	}
}

/* acc (16 x HS) += a (16 x 16) times rows krow..krow+15 of bk, a shared
 * tile whose rows are k and columns the HS outputs. */
template <int HS>
static __device__ __forceinline__ void mma_a_b(float acc[][4], const uint32_t a[4], uint32_t bk,
					       int krow, int lane)
{
#pragma unroll
	for (int dp = 0; dp < HS / 16; dp++) {
		uint32_t b[4];
		ldsm_x4_t(b, at<HS>(bk, krow + (lane & 15), dp * 16 + (lane >> 4) * 8));
		mma16816(acc[2 * dp], a, b[0], b[1]);
		mma16816(acc[2 * dp + 1], a, b[2], b[3]);
	}
}

template <int N>
static __device__ __forceinline__ void acc_zero(float acc[][4])
{
#pragma unroll
	for (int j = 0; j < N / 8; j++)
#pragma unroll
		for (int e = 0; e < 4; e++)
			acc[j][e] = 0.0f;
}

/* ---- moving tiles ----------------------------------------------------------- */

/* Rows r0..r0+ROWS-1 (HS wide, row stride ld) of src into a shared tile;
 * rows at or past T read as zeros. All THREADS threads of the block call
 * it; each copies the same 16-byte column of every STEP-th row, so its
 * addresses advance by constants. */
template <int ROWS, int HS, int THREADS>
static __device__ __forceinline__ void load_rows(bf16_t *dst, const bf16_t *src, int r0, int T,
						 long ld)
{
	constexpr int CHUNKS = HS / 8, STEP = THREADS / CHUNKS;
	static_assert(THREADS % CHUNKS == 0 && ROWS % STEP == 0, "whole rows a pass");
	int r = (int)threadIdx.x / CHUNKS, col = ((int)threadIdx.x % CHUNKS) * 8;
	uint32_t d = at<HS>(smem_addr(dst), r, col);
	const bf16_t *g = src + (r0 + r) * ld + col;
#pragma unroll
	for (int i = 0; i < ROWS / STEP; i++) {
		bool ok = r0 + r + i * STEP < T;
		cp_async16(at<HS>(d, i * STEP, 0), ok ? g + i * STEP * ld : src + col, ok);
	}
}

/* src[r0 .. r0+ROWS-1] (fp32, one a row) into shared, zeros past T. */
template <int ROWS, int THREADS>
static __device__ __forceinline__ void load_floats(float *dst, const float *src, int r0, int T)
{
	for (int r = (int)threadIdx.x; r < ROWS; r += THREADS) {
		bool ok = r0 + r < T;
		cp_async4(smem_addr(dst + r), src + (ok ? r0 + r : 0), ok);
	}
}

/* A warp's 16 accumulator rows (16 x HS) times mul into its shared rows as
 * bf16, then out to global rows r0.. (row stride ld) in 16-byte stores,
 * the rows before T only. */
template <int HS>
static __device__ __forceinline__ void store_warp_rows(bf16_t *dst, long ld, bf16_t *stage,
						       const float acc[][4], const float mul[2],
						       int r0, int T, int lane)
{
	constexpr int STRIDE = HS + ATT_PAD, CHUNKS = HS / 8;
	int g = lane / 4, q = lane % 4;
#pragma unroll
	for (int j = 0; j < HS / 8; j++) {
		*reinterpret_cast<__nv_bfloat162 *>(stage + g * STRIDE + j * 8 + 2 * q) =
			__floats2bfloat162_rn(acc[j][0] * mul[0], acc[j][1] * mul[0]);
		*reinterpret_cast<__nv_bfloat162 *>(stage + (g + 8) * STRIDE + j * 8 + 2 * q) =
			__floats2bfloat162_rn(acc[j][2] * mul[1], acc[j][3] * mul[1]);
	}
	__syncwarp();
#pragma unroll
	for (int i = 0; i < 16 * CHUNKS / 32; i++) {
		int c = i * 32 + lane, r = c / CHUNKS, col = (c % CHUNKS) * 8;
		if (r0 + r < T)
			*reinterpret_cast<uint4 *>(dst + (r0 + r) * ld + col) =
				*reinterpret_cast<const uint4 *>(stage + r * STRIDE + col);
	}
}

/* ---- forward ------------------------------------------------------------------ */

/* Masks (to -inf) the scores of keys after their query or at/past T; s is
 * the warp's 16 queries from qrow by BC keys from k0. */
template <int BC>
static __device__ __forceinline__ void mask_scores(float s[][4], int qrow, int k0, int T,
						   int lane)
{
	int g = lane / 4, q = lane % 4;
#pragma unroll
	for (int j = 0; j < BC / 8; j++)
#pragma unroll
		for (int e = 0; e < 4; e++) {
			int key = k0 + j * 8 + 2 * q + (e & 1), query = qrow + g + 8 * (e >> 1);
			if (key > query || key >= T)
				s[j][e] = -INFINITY;
		}
}

/* One key tile's step of the online softmax: s (scores) becomes the
 * probabilities against the new running max, and the old sums and
 * accumulator are rescaled to it. m (raw scores) and l (this thread's part
 * of the row sum) for rows g and g+8. */
template <int BC, int HS>
static __device__ __forceinline__ void online_softmax(float s[][4], float o[][4], float m[2],
						      float l[2], float scale_log2)
{
#pragma unroll
	for (int r = 0; r < 2; r++) {
		float mx = m[r];
#pragma unroll
		for (int j = 0; j < BC / 8; j++)
			mx = fmaxf(mx, fmaxf(s[j][2 * r], s[j][2 * r + 1]));
		mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
		mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
		/* a row masked so far keeps max -inf: subtract 0, not inf - inf */
		float base = mx == -INFINITY ? 0.0f : mx * scale_log2;
		float alpha = exp2_approx(m[r] * scale_log2 - base);
		m[r] = mx;
		float sum = 0.0f;
#pragma unroll
		for (int j = 0; j < BC / 8; j++)
#pragma unroll
			for (int e = 2 * r; e < 2 * r + 2; e++) {
				s[j][e] = exp2_approx(fmaf(s[j][e], scale_log2, -base));
				sum += s[j][e];
			}
		l[r] = l[r] * alpha + sum;
#pragma unroll
		for (int j = 0; j < HS / 8; j++) {
			o[j][2 * r] *= alpha;
			o[j][2 * r + 1] *= alpha;
		}
	}
}

/* Grid (B*NH, query tiles of 16 WARPS rows), the last tiles (the most
 * keys) first. Key tiles of BC rows, double-buffered. */
template <int HS, int WARPS, int BC>
__global__ void __launch_bounds__(WARPS * 32)
attention_forward_kernel(bf16_t *out, float *lse, const bf16_t *qkv, int T, int C, int NH,
			 float scale)
{
	constexpr int BR = 16 * WARPS, THREADS = 32 * WARPS, STRIDE = HS + ATT_PAD;
	extern __shared__ __align__(16) unsigned char smem[];
	bf16_t *sq = reinterpret_cast<bf16_t *>(smem);  /* BR rows */
	bf16_t *sk = sq + BR * STRIDE;                    /* 2 stages of BC rows */
	bf16_t *sv = sk + 2 * BC * STRIDE;                /* 2 stages of BC rows */

	int bh = blockIdx.x, b = bh / NH, h = bh % NH;
	int q0 = (gridDim.y - 1 - blockIdx.y) * BR;
	int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
	long ld = 3L * C;
	const bf16_t *qg = qkv + (long)b * T * ld + h * HS, *kg = qg + C, *vg = qg + 2 * C;
	float scale_log2 = scale * LOG2E;
	int ntiles = (min(q0 + BR, T) - 1) / BC + 1;
	int wrow = q0 + warp * 16;  /* the warp's first query */

	load_rows<BR, HS, THREADS>(sq, qg, q0, T, ld);
	load_rows<BC, HS, THREADS>(sk, kg, 0, T, ld);
	load_rows<BC, HS, THREADS>(sv, vg, 0, T, ld);
	cp_async_commit();

	uint32_t qf[HS / 16][4];
	float o[HS / 8][4];
	acc_zero<HS>(o);
	float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.0f, 0.0f};

	for (int j = 0; j < ntiles; j++) {
		if (j + 1 < ntiles) {
			int next = (j + 1) & 1;
			load_rows<BC, HS, THREADS>(sk + next * BC * STRIDE, kg, (j + 1) * BC, T, ld);
			load_rows<BC, HS, THREADS>(sv + next * BC * STRIDE, vg, (j + 1) * BC, T, ld);
			cp_async_commit();
			cp_async_wait<1>();
		} else {
			cp_async_wait<0>();
		}
		__syncthreads();
		if (j == 0)
#pragma unroll
			for (int kk = 0; kk < HS / 16; kk++)
				frag_a<HS>(qf[kk], at<HS>(smem_addr(sq), warp * 16, 0), kk * 16, lane);
		int k0 = j * BC;
		if (k0 <= wrow + 15) {  /* else every key of the tile is after the warp's queries */
			uint32_t kt = at<HS>(smem_addr(sk), (j & 1) * BC, 0);
			uint32_t vt = at<HS>(smem_addr(sv), (j & 1) * BC, 0);
			float s[BC / 8][4];
			acc_zero<BC>(s);
#pragma unroll
			for (int kk = 0; kk < HS / 16; kk++)
				mma_a_bt<BC, HS>(s, qf[kk], kt, kk * 16, lane);
			if (k0 + BC - 1 > wrow || k0 + BC > T)
				mask_scores<BC>(s, wrow, k0, T, lane);
			online_softmax<BC, HS>(s, o, m, l, scale_log2);
#pragma unroll
			for (int kk = 0; kk < BC / 16; kk++) {
				uint32_t p[4];
				frag_a_from_acc(p, s[2 * kk], s[2 * kk + 1]);
				mma_a_b<HS>(o, p, vt, kk * 16, lane);
			}
		}
		__syncthreads();  /* the stage is refilled next iteration */
	}

	float inv[2];
#pragma unroll
	for (int r = 0; r < 2; r++) {
		l[r] += __shfl_xor_sync(0xffffffffu, l[r], 1);
		l[r] += __shfl_xor_sync(0xffffffffu, l[r], 2);
		inv[r] = 1.0f / l[r];
		int t = wrow + lane / 4 + 8 * r;
		if (lane % 4 == 0 && t < T)
			lse[(long)bh * T + t] = m[r] * scale + logf(l[r]);
	}
	/* the warp's own Q rows stage its output (only it ever read them) */
	store_warp_rows<HS>(out + (long)b * T * C + h * HS, C, sq + warp * 16 * STRIDE, o, inv,
			    wrow, T, lane);
}

/* ---- backward (1): D = rowsum(dout * out) ------------------------------------ */

/* HS / 8 lanes a (b, t, h) row (contiguous HS in (B, T, C)), 16 bytes each. */
template <int HS>
__global__ void attention_row_dot_kernel(float *dsum, const bf16_t *dout, const bf16_t *out,
					 long rows, int T, int NH)
{
	constexpr int LANES = HS / 8;
	long r = ((long)blockIdx.x * blockDim.x + threadIdx.x) / LANES;
	int part = threadIdx.x % LANES;
	float acc = 0.0f;
	if (r < rows) {
		uint4 a = *reinterpret_cast<const uint4 *>(dout + r * HS + part * 8);
		uint4 o = *reinterpret_cast<const uint4 *>(out + r * HS + part * 8);
		const __nv_bfloat162 *a2 = reinterpret_cast<const __nv_bfloat162 *>(&a);
		const __nv_bfloat162 *o2 = reinterpret_cast<const __nv_bfloat162 *>(&o);
#pragma unroll
		for (int k = 0; k < 4; k++) {
			float2 x = __bfloat1622float2(a2[k]), y = __bfloat1622float2(o2[k]);
			acc = fmaf(x.x, y.x, acc);
			acc = fmaf(x.y, y.y, acc);
		}
	}
#pragma unroll
	for (int off = LANES / 2; off > 0; off /= 2)
		acc += __shfl_xor_sync(0xffffffffu, acc, off);
	if (r < rows && part == 0) {
		long bt = r / NH, b = bt / T;
		int h = (int)(r % NH), t = (int)(bt % T);
		dsum[(b * NH + h) * T + t] = acc;
	}
}

/* ---- backward (2): dk, dv ------------------------------------------------------ */

/* Grid (B*NH, key tiles of 16 WARPS rows), the first tiles (the most
 * queries) first. Query tiles of BQ rows, double-buffered. */
template <int HS, int WARPS, int BQ>
__global__ void __launch_bounds__(WARPS * 32)
attention_backward_dkv_kernel(bf16_t *dqkv, const bf16_t *qkv, const bf16_t *dout,
			      const float *lse, const float *dsum, int T, int C, int NH,
			      float scale)
{
	constexpr int BK = 16 * WARPS, THREADS = 32 * WARPS, STRIDE = HS + ATT_PAD;
	extern __shared__ __align__(16) unsigned char smem[];
	bf16_t *sk = reinterpret_cast<bf16_t *>(smem);  /* BK rows */
	bf16_t *sv = sk + BK * STRIDE;                    /* BK rows */
	bf16_t *sq = sv + BK * STRIDE;                    /* 2 stages of BQ rows */
	bf16_t *sdo = sq + 2 * BQ * STRIDE;               /* 2 stages of BQ rows */
	float *slse = reinterpret_cast<float *>(sdo + 2 * BQ * STRIDE);  /* 2 x BQ */
	float *sd = slse + 2 * BQ;                                       /* 2 x BQ */

	int bh = blockIdx.x, b = bh / NH, h = bh % NH;
	int k0 = blockIdx.y * BK;
	int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, q = lane % 4;
	long ld = 3L * C;
	const bf16_t *qg = qkv + (long)b * T * ld + h * HS, *kg = qg + C, *vg = qg + 2 * C;
	const bf16_t *dog = dout + (long)b * T * C + h * HS;
	const float *lg = lse + (long)bh * T, *dg = dsum + (long)bh * T;
	float scale_log2 = scale * LOG2E;
	int i0 = k0 / BQ, nq = (T + BQ - 1) / BQ;
	int kw = k0 + warp * 16;  /* the warp's first key */

	load_rows<BK, HS, THREADS>(sk, kg, k0, T, ld);
	load_rows<BK, HS, THREADS>(sv, vg, k0, T, ld);
	load_rows<BQ, HS, THREADS>(sq, qg, i0 * BQ, T, ld);
	load_rows<BQ, HS, THREADS>(sdo, dog, i0 * BQ, T, C);
	load_floats<BQ, THREADS>(slse, lg, i0 * BQ, T);
	load_floats<BQ, THREADS>(sd, dg, i0 * BQ, T);
	cp_async_commit();

	float dk[HS / 8][4], dv[HS / 8][4];
	acc_zero<HS>(dk);
	acc_zero<HS>(dv);

	for (int i = i0; i < nq; i++) {
		int stage = (i - i0) & 1;
		if (i + 1 < nq) {
			int next = stage ^ 1, r1 = (i + 1) * BQ;
			load_rows<BQ, HS, THREADS>(sq + next * BQ * STRIDE, qg, r1, T, ld);
			load_rows<BQ, HS, THREADS>(sdo + next * BQ * STRIDE, dog, r1, T, C);
			load_floats<BQ, THREADS>(slse + next * BQ, lg, r1, T);
			load_floats<BQ, THREADS>(sd + next * BQ, dg, r1, T);
			cp_async_commit();
			cp_async_wait<1>();
		} else {
			cp_async_wait<0>();
		}
		__syncthreads();
		int q0 = i * BQ;
		if (q0 + BQ - 1 >= kw) {  /* else every query of the tile is before the warp's keys */
			uint32_t qt = at<HS>(smem_addr(sq), stage * BQ, 0);
			uint32_t dot = at<HS>(smem_addr(sdo), stage * BQ, 0);
			const float *lt = slse + stage * BQ, *dt = sd + stage * BQ;
			/* P^T first and dv with it, then dP^T: one of the two
			 * (warp's keys by BQ queries) products less live at once */
			float s[BQ / 8][4];
			acc_zero<BQ>(s);
#pragma unroll
			for (int kk = 0; kk < HS / 16; kk++) {
				uint32_t a[4];
				frag_a<HS>(a, at<HS>(smem_addr(sk), warp * 16, 0), kk * 16, lane);
				mma_a_bt<BQ, HS>(s, a, qt, kk * 16, lane);
			}
			bool edge = q0 < kw + 15 || q0 + BQ > T;
#pragma unroll
			for (int j = 0; j < BQ / 8; j++)
#pragma unroll
				for (int e = 0; e < 4; e++) {
					int col = j * 8 + 2 * q + (e & 1), key = kw + g + 8 * (e >> 1);
					float p = exp2_approx(fmaf(s[j][e], scale_log2, -lt[col] * LOG2E));
					if (edge && (key > q0 + col || q0 + col >= T))
						p = 0.0f;
					s[j][e] = p;
				}
#pragma unroll
			for (int kk = 0; kk < BQ / 16; kk++) {
				uint32_t a[4];
				frag_a_from_acc(a, s[2 * kk], s[2 * kk + 1]);
				mma_a_b<HS>(dv, a, dot, kk * 16, lane);
			}
			float dp[BQ / 8][4];
			acc_zero<BQ>(dp);
#pragma unroll
			for (int kk = 0; kk < HS / 16; kk++) {
				uint32_t a[4];
				frag_a<HS>(a, at<HS>(smem_addr(sv), warp * 16, 0), kk * 16, lane);
				mma_a_bt<BQ, HS>(dp, a, dot, kk * 16, lane);
			}
#pragma unroll
			for (int j = 0; j < BQ / 8; j++)
#pragma unroll
				for (int e = 0; e < 4; e++) {
					int col = j * 8 + 2 * q + (e & 1);
					dp[j][e] = s[j][e] * (dp[j][e] - dt[col]);  /* dS^T */
				}
#pragma unroll
			for (int kk = 0; kk < BQ / 16; kk++) {
				uint32_t a[4];
				frag_a_from_acc(a, dp[2 * kk], dp[2 * kk + 1]);
				mma_a_b<HS>(dk, a, qt, kk * 16, lane);
			}
		}
		__syncthreads();  /* the stage is refilled next iteration */
	}

	/* the warp's own K and V rows stage its dk and dv (only it read them) */
	float mul_k[2] = {scale, scale}, one[2] = {1.0f, 1.0f};
	bf16_t *dqkv_b = dqkv + (long)b * T * ld + h * HS;
	store_warp_rows<HS>(dqkv_b + C, ld, sk + warp * 16 * STRIDE, dk, mul_k, kw, T, lane);
	store_warp_rows<HS>(dqkv_b + 2 * C, ld, sv + warp * 16 * STRIDE, dv, one, kw, T, lane);
}

/* ---- backward (3): dq ------------------------------------------------------------ */

/* Grid (B*NH, query tiles of 16 WARPS rows), the last tiles (the most
 * keys) first. Key tiles of BK rows, double-buffered. */
template <int HS, int WARPS, int BK>
__global__ void __launch_bounds__(WARPS * 32)
attention_backward_dq_kernel(bf16_t *dqkv, const bf16_t *qkv, const bf16_t *dout,
			     const float *lse, const float *dsum, int T, int C, int NH,
			     float scale)
{
	constexpr int BQ = 16 * WARPS, THREADS = 32 * WARPS, STRIDE = HS + ATT_PAD;
	extern __shared__ __align__(16) unsigned char smem[];
	bf16_t *sq = reinterpret_cast<bf16_t *>(smem);  /* BQ rows */
	bf16_t *sdo = sq + BQ * STRIDE;                   /* BQ rows */
	bf16_t *sk = sdo + BQ * STRIDE;                   /* 2 stages of BK rows */
	bf16_t *sv = sk + 2 * BK * STRIDE;                /* 2 stages of BK rows */

	int bh = blockIdx.x, b = bh / NH, h = bh % NH;
	int q0 = (gridDim.y - 1 - blockIdx.y) * BQ;
	int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, q = lane % 4;
	long ld = 3L * C;
	const bf16_t *qg = qkv + (long)b * T * ld + h * HS, *kg = qg + C, *vg = qg + 2 * C;
	const bf16_t *dog = dout + (long)b * T * C + h * HS;
	float scale_log2 = scale * LOG2E;
	int ntiles = (min(q0 + BQ, T) - 1) / BK + 1;
	int wrow = q0 + warp * 16;  /* the warp's first query */

	/* lse (base 2) and D of the thread's rows g and g+8 */
	float lse2[2], drow[2];
#pragma unroll
	for (int r = 0; r < 2; r++) {
		int t = wrow + g + 8 * r;
		lse2[r] = t < T ? lse[(long)bh * T + t] * LOG2E : 0.0f;
		drow[r] = t < T ? dsum[(long)bh * T + t] : 0.0f;
	}

	load_rows<BQ, HS, THREADS>(sq, qg, q0, T, ld);
	load_rows<BQ, HS, THREADS>(sdo, dog, q0, T, C);
	load_rows<BK, HS, THREADS>(sk, kg, 0, T, ld);
	load_rows<BK, HS, THREADS>(sv, vg, 0, T, ld);
	cp_async_commit();

	float dq[HS / 8][4];
	acc_zero<HS>(dq);

	for (int j = 0; j < ntiles; j++) {
		if (j + 1 < ntiles) {
			int next = (j + 1) & 1;
			load_rows<BK, HS, THREADS>(sk + next * BK * STRIDE, kg, (j + 1) * BK, T, ld);
			load_rows<BK, HS, THREADS>(sv + next * BK * STRIDE, vg, (j + 1) * BK, T, ld);
			cp_async_commit();
			cp_async_wait<1>();
		} else {
			cp_async_wait<0>();
		}
		__syncthreads();
		int k0 = j * BK;
		if (k0 <= wrow + 15) {  /* else every key of the tile is after the warp's queries */
			uint32_t kt = at<HS>(smem_addr(sk), (j & 1) * BK, 0);
			uint32_t vt = at<HS>(smem_addr(sv), (j & 1) * BK, 0);
			float s[BK / 8][4], dp[BK / 8][4];  /* S, dP: the warp's queries by BK keys */
			acc_zero<BK>(s);
			acc_zero<BK>(dp);
#pragma unroll
			for (int kk = 0; kk < HS / 16; kk++) {
				uint32_t a[4];
				frag_a<HS>(a, at<HS>(smem_addr(sq), warp * 16, 0), kk * 16, lane);
				mma_a_bt<BK, HS>(s, a, kt, kk * 16, lane);
				frag_a<HS>(a, at<HS>(smem_addr(sdo), warp * 16, 0), kk * 16, lane);
				mma_a_bt<BK, HS>(dp, a, vt, kk * 16, lane);
			}
			bool edge = k0 + BK - 1 > wrow || k0 + BK > T;
#pragma unroll
			for (int jj = 0; jj < BK / 8; jj++)
#pragma unroll
				for (int e = 0; e < 4; e++) {
					int r = e >> 1, key = k0 + jj * 8 + 2 * q + (e & 1);
					float p = exp2_approx(fmaf(s[jj][e], scale_log2, -lse2[r]));
					if (edge && (key > wrow + g + 8 * r || key >= T))
						p = 0.0f;
					dp[jj][e] = p * (dp[jj][e] - drow[r]);  /* dS */
				}
#pragma unroll
			for (int kk = 0; kk < BK / 16; kk++) {
				uint32_t a[4];
				frag_a_from_acc(a, dp[2 * kk], dp[2 * kk + 1]);
				mma_a_b<HS>(dq, a, kt, kk * 16, lane);
			}
		}
		__syncthreads();  /* the stage is refilled next iteration */
	}

	/* the warp's own Q rows stage its dq (only it read them) */
	float mul[2] = {scale, scale};
	store_warp_rows<HS>(dqkv + (long)b * T * ld + h * HS, ld, sq + warp * 16 * STRIDE, dq, mul,
			    wrow, T, lane);
}

/* ---- launchers ---------------------------------------------------------------------- */

/* Warps a block and tile rows of each kernel for a head size, measured on
 * an H100: the accumulators must fit the registers and the tiles shared
 * memory (HS 128's dk dv kernel still spills a few loop-invariant shared
 * addresses; query tiles of 16 avoid it but run 8% slower). 8-warp blocks,
 * 128-key forward tiles and 64-key dq tiles at HS 128 measured no faster. */
template <int HS> struct att_tiles {
	static constexpr int FWD_W = 4, FWD_K = 64;
	static constexpr int DKV_W = 4, DKV_Q = HS == 128 ? 32 : 64;
	static constexpr int DQ_W = 4, DQ_K = HS == 128 ? 32 : 64;
};

static size_t tile_bytes(int rows, int HS) { return (size_t)rows * (HS + ATT_PAD) * sizeof(bf16); }

/* Opt in to more than 48 KB of dynamic shared memory where needed. */
template <typename K>
static int set_smem(K kernel, size_t bytes, const char *name)
{
	if (bytes <= 48 * 1024)
		return 0;
	return cu_check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
					     (int)bytes), name);
}

static bool aligned16(const void *p) { return ((uintptr_t)p & 15) == 0; }

/* The head size of a supported shape, or -1 with an error. */
static int head_size(const char *name, int B, int T, int C, int NH)
{
	if (B < 0 || T < 0 || NH <= 0 || C <= 0 || C % NH != 0)
		return lm_fail("%s: C %d is not NH %d heads", name, C, NH);
	if (!cu_attention_supports(C / NH))
		return lm_fail("%s: head size %d (not 32, 64 or 128)", name, C / NH);
	return C / NH;
}

template <int HS>
static int launch_forward(bf16 *out, float *lse, const bf16 *qkv, int B, int T, int C, int NH,
			  cudaStream_t s)
{
	constexpr int W = att_tiles<HS>::FWD_W, BC = att_tiles<HS>::FWD_K;
	auto kernel = attention_forward_kernel<HS, W, BC>;
	size_t bytes = tile_bytes(16 * W + 4 * BC, HS);
	if (set_smem(kernel, bytes, "cu_attention_forward") != 0)
		return -1;
	dim3 grid((unsigned)(B * NH), ceil_div(T, 16 * W));
	kernel<<<grid, 32 * W, bytes, s>>>(dev(out), lse, dev(qkv), T, C, NH,
					    1.0f / sqrtf((float)HS));
	return CU_LAUNCHED("attention_forward_kernel");
}

/* dsum (B, NH, T) = rowsum(dout * out), per query. */
template <int HS>
static int launch_row_dot(float *dsum, const bf16 *dout, const bf16 *out, int B, int T, int NH,
			  cudaStream_t s)
{
	constexpr int THREADS = 256, ROWS = THREADS / (HS / 8);
	long rows = (long)B * T * NH;
	attention_row_dot_kernel<HS><<<ceil_div(rows, ROWS), THREADS, 0, s>>>(
		dsum, dev(dout), dev(out), rows, T, NH);
	return CU_LAUNCHED("attention_row_dot_kernel");
}

template <int HS>
static int launch_dkv(bf16 *dqkv, const bf16 *dout, const bf16 *qkv, const float *lse,
		      const float *dsum, int B, int T, int C, int NH, cudaStream_t s)
{
	constexpr int W = att_tiles<HS>::DKV_W, BQ = att_tiles<HS>::DKV_Q;
	auto kernel = attention_backward_dkv_kernel<HS, W, BQ>;
	size_t bytes = tile_bytes(2 * 16 * W + 4 * BQ, HS) + 4 * BQ * sizeof(float);
	if (set_smem(kernel, bytes, "cu_attention_backward") != 0)
		return -1;
	dim3 grid((unsigned)(B * NH), ceil_div(T, 16 * W));
	kernel<<<grid, 32 * W, bytes, s>>>(dev(dqkv), dev(qkv), dev(dout), lse, dsum, T, C, NH,
					    1.0f / sqrtf((float)HS));
	return CU_LAUNCHED("attention_backward_dkv_kernel");
}

template <int HS>
static int launch_dq(bf16 *dqkv, const bf16 *dout, const bf16 *qkv, const float *lse,
		     const float *dsum, int B, int T, int C, int NH, cudaStream_t s)
{
	constexpr int W = att_tiles<HS>::DQ_W, BK = att_tiles<HS>::DQ_K;
	auto kernel = attention_backward_dq_kernel<HS, W, BK>;
	size_t bytes = tile_bytes(2 * 16 * W + 4 * BK, HS);
	if (set_smem(kernel, bytes, "cu_attention_backward") != 0)
		return -1;
	dim3 grid((unsigned)(B * NH), ceil_div(T, 16 * W));
	kernel<<<grid, 32 * W, bytes, s>>>(dev(dqkv), dev(qkv), dev(dout), lse, dsum, T, C, NH,
					    1.0f / sqrtf((float)HS));
	return CU_LAUNCHED("attention_backward_dq_kernel");
}

template <int HS>
static int launch_backward(bf16 *dqkv, float *dsum, const bf16 *dout, const bf16 *qkv,
			   const bf16 *out, const float *lse, int B, int T, int C, int NH,
			   cudaStream_t s)
{
	if (launch_row_dot<HS>(dsum, dout, out, B, T, NH, s) != 0 ||
	    launch_dkv<HS>(dqkv, dout, qkv, lse, dsum, B, T, C, NH, s) != 0)
		return -1;
	return launch_dq<HS>(dqkv, dout, qkv, lse, dsum, B, T, C, NH, s);
}

extern "C" bool cu_attention_supports(int HS)
{
	return HS == 32 || HS == 64 || HS == 128;
}

extern "C" int cu_attention_forward(bf16 *out, float *lse, const bf16 *qkv, int B, int T, int C,
				    int NH, cudaStream_t s)
{
	int HS = head_size("cu_attention_forward", B, T, C, NH);
	if (HS < 0)
		return -1;
	if (!aligned16(out) || !aligned16(qkv))
		return lm_fail("cu_attention_forward: out and qkv must be 16-byte aligned");
	if (B == 0 || T == 0)
		return 0;
	switch (HS) {
	case 32: return launch_forward<32>(out, lse, qkv, B, T, C, NH, s);
	case 64: return launch_forward<64>(out, lse, qkv, B, T, C, NH, s);
	default: return launch_forward<128>(out, lse, qkv, B, T, C, NH, s);
	}
}

extern "C" int cu_attention_backward(bf16 *dqkv, float *scratch, const bf16 *dout,
				     const bf16 *qkv, const bf16 *out, const float *lse, int B,
				     int T, int C, int NH, cudaStream_t s)
{
	int HS = head_size("cu_attention_backward", B, T, C, NH);
	if (HS < 0)
		return -1;
	if (!aligned16(dqkv) || !aligned16(dout) || !aligned16(qkv) || !aligned16(out))
		return lm_fail("cu_attention_backward: dqkv, dout, qkv and out must be 16-byte aligned");
	if (B == 0 || T == 0)
		return 0;
	switch (HS) {
	case 32: return launch_backward<32>(dqkv, scratch, dout, qkv, out, lse, B, T, C, NH, s);
	case 64: return launch_backward<64>(dqkv, scratch, dout, qkv, out, lse, B, T, C, NH, s);
	default: return launch_backward<128>(dqkv, scratch, dout, qkv, out, lse, B, T, C, NH, s);
	}
}
