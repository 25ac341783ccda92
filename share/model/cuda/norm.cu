/*
 * norm.cu — LayerNorm and RMSNorm, forward and backward, on the GPU; twins
 * of share/model/layernorm.c and rmsnorm.c (the same formulas, the same
 * eps placement: rstd = 1 / sqrt(var + eps), var the biased variance;
 * rmsnorm's rstd = 1 / sqrt(mean(x^2) + eps)). bf16 in and out, fp32 inside.
 *
 * Forward: one warp a row. When C is a multiple of 8 (every real model) a
 * lane holds its share of the row in registers, 8 bf16 a 16-byte load, so
 * the row is read once: the mean, then the variance about it (two-pass,
 * as the CPU does, not E[x^2] - E[x]^2), then the output. Any other C takes
 * a plain path that reads the row from cache three times.
 *
 * Backward: a block owns a contiguous range of rows and a thread a few
 * channels of every row (one 8-channel vector per thread up to C = 4096).
 * For each row the block reduces sum(g) and sum(g n) (g = dout weight,
 * n the normalized input), then adds dinp's share to the old dinp in fp32
 * and rounds once. The parameter gradients of the block's rows collect in
 * registers and go to the block's slice of scratch; a second kernel sums
 * the slices in block order into dweight (and dbias). The grid depends only
 * on N and C, so the same inputs give the same bits.
 */
#include "model/cuda/common.cuh"

#include <stdint.h>

#define VEC 8                 /* bf16 a 16-byte access */
#define WARP 32
#define FWD_THREADS 256       /* 8 rows a block */
#define BWD_MAX_THREADS 512   /* with launch bounds: <= 128 registers a thread */
/* Threads a backward grid aims at: enough in flight to cover memory latency
 * on an H100 (132 SMs), few enough that the partials stay small. */
#define BWD_TARGET_THREADS (1 << 17)
#define SUM_COLS 32           /* the partials' reduction: 32 columns x 16 */
#define SUM_SLICES 16

/* ---- helpers ---------------------------------------------------------------- */

static __device__ __forceinline__ uint4 load_vec(const bf16_t *p)
{
	return *reinterpret_cast<const uint4 *>(p);
}

static __device__ __forceinline__ void store_vec(bf16_t *p, uint4 u)
{
	*reinterpret_cast<uint4 *>(p) = u;
}

/* Butterfly sum: every lane ends with the same bits (a + b == b + a). */
static __device__ __forceinline__ float warp_sum(float v)
{
#pragma unroll
	for (int m = WARP / 2; m > 0; m /= 2)
		v += __shfl_xor_sync(0xffffffffu, v, m);
	return v;
}

static bool aligned16(const void *p) { return ((uintptr_t)p & 15) == 0; }

static int round_up(int n, int m) { return (n + m - 1) / m * m; }

/* ---- forward -------------------------------------------------------------- */

/* One warp a row, VPL vectors of 8 a lane held in registers (lane l has
 * vectors l, l + 32, ...). LAYER: LayerNorm (mean, bias); else RMSNorm. */
template <int VPL, bool LAYER>
static __global__ void __launch_bounds__(FWD_THREADS)
norm_forward_vec(bf16_t *out, float *mean, float *rstd, const bf16_t *inp, const bf16_t *weight,
		 const bf16_t *bias, int N, int C, float eps)
{
	long row = (long)blockIdx.x * (blockDim.x / WARP) + threadIdx.x / WARP;
	int lane = threadIdx.x % WARP;
	if (row >= N)
		return;
	int C8 = C / VEC;
	const bf16_t *x = inp + (size_t)row * C;
	uint4 xv[VPL];
#pragma unroll
	for (int k = 0; k < VPL; k++) {
		int v = lane + k * WARP;
		xv[k] = v < C8 ? load_vec(x + v * VEC) : make_uint4(0, 0, 0, 0);
	}
	float m = 0.0f;
	if (LAYER) {
		float sum = 0.0f;
#pragma unroll
		for (int k = 0; k < VPL; k++) {
			float f[VEC];
			bf16x8_unpack(f, xv[k]);  /* padding vectors are zeros */
#pragma unroll
			for (int j = 0; j < VEC; j++)
				sum += f[j];
		}
		m = warp_sum(sum) / C;
	}
	float sq = 0.0f;
#pragma unroll
	for (int k = 0; k < VPL; k++) {
		if (lane + k * WARP >= C8)
			break;
		float f[VEC];
		bf16x8_unpack(f, xv[k]);
#pragma unroll
		for (int j = 0; j < VEC; j++)
			sq += (f[j] - m) * (f[j] - m);
	}
	float s = 1.0f / sqrtf(warp_sum(sq) / C + eps);
	bf16_t *y = out + (size_t)row * C;
#pragma unroll
	for (int k = 0; k < VPL; k++) {
		int v = lane + k * WARP;
		if (v >= C8)
			break;
		float f[VEC], w[VEC], b[VEC];
		bf16x8_unpack(f, xv[k]);
		bf16x8_unpack(w, load_vec(weight + v * VEC));
		if (LAYER && bias)
			bf16x8_unpack(b, load_vec(bias + v * VEC));
#pragma unroll
		for (int j = 0; j < VEC; j++) {
			f[j] = (f[j] - m) * s * w[j];
			if (LAYER && bias)
				f[j] += b[j];
		}
		store_vec(y + v * VEC, bf16x8_pack(f));
	}
	if (lane == 0) {
		if (LAYER)
			mean[row] = m;
		rstd[row] = s;
	}
}

/* One warp a row, any C and alignment: the row read from cache 3 times. */
template <bool LAYER>
static __global__ void norm_forward_any(bf16_t *out, float *mean, float *rstd,
					const bf16_t *inp, const bf16_t *weight,
					const bf16_t *bias, int N, int C, float eps)
{
	long row = (long)blockIdx.x * (blockDim.x / WARP) + threadIdx.x / WARP;
	int lane = threadIdx.x % WARP;
	if (row >= N)
		return;
	const bf16_t *x = inp + (size_t)row * C;
	float m = 0.0f;
	if (LAYER) {
		float sum = 0.0f;
		for (int c = lane; c < C; c += WARP)
			sum += __bfloat162float(x[c]);
		m = warp_sum(sum) / C;
	}
	float sq = 0.0f;
	for (int c = lane; c < C; c += WARP) {
		float d = __bfloat162float(x[c]) - m;
		sq += d * d;
	}
	float s = 1.0f / sqrtf(warp_sum(sq) / C + eps);
	bf16_t *y = out + (size_t)row * C;
	for (int c = lane; c < C; c += WARP) {
		float f = (__bfloat162float(x[c]) - m) * s * __bfloat162float(weight[c]);
		if (LAYER && bias)
			f += __bfloat162float(bias[c]);
		y[c] = __float2bfloat16_rn(f);
	}
	if (lane == 0) {
		if (LAYER)
			mean[row] = m;
		rstd[row] = s;
	}
}

/* One warp a row, 8 channels a load, for C > 4096: the row read from cache
 * three times (mean, variance, output) instead of held in registers. */
template <bool LAYER>
static __global__ void norm_forward_stream(bf16_t *out, float *mean, float *rstd,
					   const bf16_t *inp, const bf16_t *weight,
					   const bf16_t *bias, int N, int C, float eps)
{
	long row = (long)blockIdx.x * (blockDim.x / WARP) + threadIdx.x / WARP;
	int lane = threadIdx.x % WARP;
	if (row >= N)
		return;
	int C8 = C / VEC;
	const bf16_t *x = inp + (size_t)row * C;
	float f[VEC];
	float m = 0.0f;
	if (LAYER) {
		float sum = 0.0f;
		for (int v = lane; v < C8; v += WARP) {
			bf16x8_unpack(f, load_vec(x + v * VEC));
			for (int j = 0; j < VEC; j++)
				sum += f[j];
		}
		m = warp_sum(sum) / C;
	}
	float sq = 0.0f;
	for (int v = lane; v < C8; v += WARP) {
		bf16x8_unpack(f, load_vec(x + v * VEC));
		for (int j = 0; j < VEC; j++)
			sq += (f[j] - m) * (f[j] - m);
	}
	float s = 1.0f / sqrtf(warp_sum(sq) / C + eps);
	bf16_t *y = out + (size_t)row * C;
	for (int v = lane; v < C8; v += WARP) {
		float w[VEC], b[VEC];
		bf16x8_unpack(f, load_vec(x + v * VEC));
		bf16x8_unpack(w, load_vec(weight + v * VEC));
		if (LAYER && bias)
			bf16x8_unpack(b, load_vec(bias + v * VEC));
		for (int j = 0; j < VEC; j++) {
			f[j] = (f[j] - m) * s * w[j];
			if (LAYER && bias)
				f[j] += b[j];
		}
		store_vec(y + v * VEC, bf16x8_pack(f));
	}
	if (lane == 0) {
		if (LAYER)
			mean[row] = m;
		rstd[row] = s;
	}
}

/* The register-resident kernel for lanes of need vectors (rounded up to
 * the next size built); beyond 16 (C > 4096) the registers would cost
 * more occupancy than the cache reads they save: the streaming kernel. */
typedef void (*norm_forward_fn)(bf16_t *, float *, float *, const bf16_t *, const bf16_t *,
				const bf16_t *, int, int, float);

template <bool LAYER>
static norm_forward_fn pick_forward(int need)
{
	if (need <= 1) return norm_forward_vec<1, LAYER>;
	if (need <= 2) return norm_forward_vec<2, LAYER>;
	if (need <= 3) return norm_forward_vec<3, LAYER>;
	if (need <= 4) return norm_forward_vec<4, LAYER>;
	if (need <= 6) return norm_forward_vec<6, LAYER>;
	if (need <= 8) return norm_forward_vec<8, LAYER>;
	if (need <= 12) return norm_forward_vec<12, LAYER>;
	if (need <= 16) return norm_forward_vec<16, LAYER>;
	return norm_forward_stream<LAYER>;
}

template <bool LAYER>
static int norm_forward(bf16 *out, float *mean, float *rstd, const bf16 *inp,
			const bf16 *weight, const bf16 *bias, int N, int C, float eps,
			cudaStream_t s, const char *name)
{
	if (N <= 0 || C <= 0)
		return 0;
	unsigned grid = ceil_div((size_t)N, FWD_THREADS / WARP);
	norm_forward_fn fn = norm_forward_any<LAYER>;
	if (C % VEC == 0 && aligned16(out) && aligned16(inp) && aligned16(weight) &&
	    (!bias || aligned16(bias)))
		fn = pick_forward<LAYER>((C / VEC + WARP - 1) / WARP);
	fn<<<grid, FWD_THREADS, 0, s>>>(dev(out), mean, rstd, dev(inp), dev(weight), dev(bias), N,
				       C, eps);
	return CU_LAUNCHED(name);
}

extern "C" int cu_layernorm_forward(bf16 *out, float *mean, float *rstd, const bf16 *inp,
				    const bf16 *weight, const bf16 *bias, int N, int C,
				    float eps, cudaStream_t s)
{
	return norm_forward<true>(out, mean, rstd, inp, weight, bias, N, C, eps, s,
				  "layernorm_forward");
}

extern "C" int cu_rmsnorm_forward(bf16 *out, float *rstd, const bf16 *inp, const bf16 *weight,
				  int N, int C, float eps, cudaStream_t s)
{
	return norm_forward<false>(out, NULL, rstd, inp, weight, NULL, N, C, eps, s,
				   "rmsnorm_forward");
}

/* ---- backward: the grid ------------------------------------------------------ */

/* Vectors of 8 a thread in the backward: 1 up to C = 4096, then 2, 4
 * (C = 16384; larger C takes the plain kernel). */
static int bwd_vectors_per_thread(int C)
{
	int C8 = (C + VEC - 1) / VEC;
	int vpt = 1;
	while (vpt < 4 && C8 > vpt * BWD_MAX_THREADS)
		vpt *= 2;
	return vpt;
}

static int bwd_threads(int C)
{
	int C8 = (C + VEC - 1) / VEC;
	int vpt = bwd_vectors_per_thread(C);
	int t = round_up((C8 + vpt - 1) / vpt, WARP);
	return t < BWD_MAX_THREADS ? t : BWD_MAX_THREADS;
}

/* Blocks and rows a block: a function of N and C only (determinism). */
static void bwd_grid(int N, int C, int *blocks, int *rows_per_block)
{
	int want = BWD_TARGET_THREADS / bwd_threads(C);
	if (want < 1)
		want = 1;
	if (want > N)
		want = N;
	*rows_per_block = (N + want - 1) / want;
	*blocks = (N + *rows_per_block - 1) / *rows_per_block;
}

extern "C" size_t cu_norm_backward_scratch(int N, int C)
{
	if (N <= 0 || C <= 0)
		return 0;
	int blocks, rows;
	bwd_grid(N, C, &blocks, &rows);
	return (size_t)blocks * 2 * C;  /* per block: dweight (C) | dbias (C) */
}

/* ---- backward: the rows ------------------------------------------------------ */

/* Block-wide sum of two values; every thread gets the same bits. red is
 * double-buffered by row parity, so one barrier a row is enough: a thread
 * writes red[p] again only after the next row's barrier, which every
 * thread reaches only after reading red[p]. */
static __device__ __forceinline__ float2 block_sum2(float a, float b, float (*red)[2][WARP],
						    int parity)
{
	a = warp_sum(a);
	b = warp_sum(b);
	int warp = threadIdx.x / WARP, warps = blockDim.x / WARP;
	if (threadIdx.x % WARP == 0) {
		red[parity][0][warp] = a;
		red[parity][1][warp] = b;
	}
	__syncthreads();
	float2 r = make_float2(0.0f, 0.0f);
	for (int w = 0; w < warps; w++) {
		r.x += red[parity][0][w];
		r.y += red[parity][1][w];
	}
	return r;
}

/* A thread's VPT vectors of one row of dout and inp (zeros past C). */
template <int VPT>
static __device__ __forceinline__ void load_row(uint4 dyv[VPT], uint4 xv[VPT],
						const bf16_t *dout, const bf16_t *inp,
						size_t base, int C8)
{
#pragma unroll
	for (int k = 0; k < VPT; k++) {
		int v = threadIdx.x + k * blockDim.x;
		bool in = v < C8;
		dyv[k] = in ? load_vec(dout + base + v * VEC) : make_uint4(0, 0, 0, 0);
		xv[k] = in ? load_vec(inp + base + v * VEC) : make_uint4(0, 0, 0, 0);
	}
}

/* Thread t owns vectors t, t + blockDim, ... (VPT of them); block b rows
 * [b rows_per_block, ...). Partials: scratch[b][0..C) dweight,
 * scratch[b][C..2C) dbias (LayerNorm only). */
template <int VPT, bool LAYER>
static __global__ void __launch_bounds__(BWD_MAX_THREADS)
norm_backward_vec(bf16_t *dinp, float *scratch, const bf16_t *dout, const bf16_t *inp,
		  const bf16_t *weight, const float *mean, const float *rstd, int N, int C,
		  int rows_per_block)
{
	__shared__ float red[2][2][WARP];
	int C8 = C / VEC;
	float w[VPT][VEC], dw[VPT][VEC], db[VPT][VEC];
#pragma unroll
	for (int k = 0; k < VPT; k++) {
		int v = threadIdx.x + k * blockDim.x;
		if (v < C8)
			bf16x8_unpack(w[k], load_vec(weight + v * VEC));
#pragma unroll
		for (int j = 0; j < VEC; j++) {
			if (v >= C8)
				w[k][j] = 0.0f;
			dw[k][j] = 0.0f;
			db[k][j] = 0.0f;
		}
	}
	int r0 = blockIdx.x * rows_per_block;
	int r1 = min(N, r0 + rows_per_block);
	/* this row's dout and inp, loaded during the previous row's barrier */
	uint4 dyv[VPT], xv[VPT];
	if (r0 < r1)
		load_row<VPT>(dyv, xv, dout, inp, (size_t)r0 * C, C8);
	for (int r = r0; r < r1; r++) {
		size_t base = (size_t)r * C;
		float m = LAYER ? mean[r] : 0.0f, s = rstd[r];
		float dy[VPT][VEC], n[VPT][VEC];
		uint4 old[VPT];  /* dinp's old value, fetched before the barrier */
		float g_sum = 0.0f, gn_sum = 0.0f;
#pragma unroll
		for (int k = 0; k < VPT; k++) {
			int v = threadIdx.x + k * blockDim.x;
			float x[VEC];
			bf16x8_unpack(dy[k], dyv[k]);  /* zeros past C */
			bf16x8_unpack(x, xv[k]);
			old[k] = v < C8 ? load_vec(dinp + base + v * VEC) : make_uint4(0, 0, 0, 0);
#pragma unroll
			for (int j = 0; j < VEC; j++) {
				n[k][j] = (x[j] - m) * s;
				float g = dy[k][j] * w[k][j];
				g_sum += g;
				gn_sum += g * n[k][j];
			}
		}
		if (r + 1 < r1)
			load_row<VPT>(dyv, xv, dout, inp, base + C, C8);
		float2 sums = block_sum2(g_sum, gn_sum, red, r & 1);
		float g_mean = LAYER ? sums.x / C : 0.0f, gn_mean = sums.y / C;
#pragma unroll
		for (int k = 0; k < VPT; k++) {
			int v = threadIdx.x + k * blockDim.x;
			if (v >= C8)
				continue;
			float d[VEC];
			bf16x8_unpack(d, old[k]);
#pragma unroll
			for (int j = 0; j < VEC; j++) {
				d[j] += s * (dy[k][j] * w[k][j] - g_mean - n[k][j] * gn_mean);
				dw[k][j] += dy[k][j] * n[k][j];
				db[k][j] += dy[k][j];
			}
			store_vec(dinp + base + v * VEC, bf16x8_pack(d));
		}
	}
	float *part = scratch + (size_t)blockIdx.x * 2 * C;
#pragma unroll
	for (int k = 0; k < VPT; k++) {
		int v = threadIdx.x + k * blockDim.x;
		if (v >= C8)
			continue;
#pragma unroll
		for (int j = 0; j < VEC; j++) {
			part[v * VEC + j] = dw[k][j];
			if (LAYER)
				part[C + v * VEC + j] = db[k][j];
		}
	}
}

/* Any C and alignment: thread t owns channels t, t + blockDim, ...; its
 * partial sums live in the block's scratch slice, which only it touches. */
template <bool LAYER>
static __global__ void norm_backward_any(bf16_t *dinp, float *scratch, const bf16_t *dout,
					 const bf16_t *inp, const bf16_t *weight,
					 const float *mean, const float *rstd, int N, int C,
					 int rows_per_block)
{
	__shared__ float red[2][2][WARP];
	float *part = scratch + (size_t)blockIdx.x * 2 * C;
	for (int c = threadIdx.x; c < C; c += blockDim.x) {
		part[c] = 0.0f;
		if (LAYER)
			part[C + c] = 0.0f;
	}
	int r0 = blockIdx.x * rows_per_block;
	int r1 = min(N, r0 + rows_per_block);
	for (int r = r0; r < r1; r++) {
		size_t base = (size_t)r * C;
		float m = LAYER ? mean[r] : 0.0f, s = rstd[r];
		float g_sum = 0.0f, gn_sum = 0.0f;
		for (int c = threadIdx.x; c < C; c += blockDim.x) {
			float dy = __bfloat162float(dout[base + c]);
			float n = (__bfloat162float(inp[base + c]) - m) * s;
			float g = dy * __bfloat162float(weight[c]);
			g_sum += g;
			gn_sum += g * n;
		}
		float2 sums = block_sum2(g_sum, gn_sum, red, r & 1);
		float g_mean = LAYER ? sums.x / C : 0.0f, gn_mean = sums.y / C;
		for (int c = threadIdx.x; c < C; c += blockDim.x) {
			float dy = __bfloat162float(dout[base + c]);
			float n = (__bfloat162float(inp[base + c]) - m) * s;
			float g = dy * __bfloat162float(weight[c]);
			float d = __bfloat162float(dinp[base + c]) + s * (g - g_mean - n * gn_mean);
			dinp[base + c] = __float2bfloat16_rn(d);
			part[c] += dy * n;
			if (LAYER)
				part[C + c] += dy;
		}
	}
}

/* ---- backward: the partials -------------------------------------------------- */

/* grad[k] += sum over blocks b of scratch[b][k], k < cols (C, or 2C with
 * dbias as columns C..2C). Block: 32 columns x 16 slices; slice j sums
 * blocks j, j + 16, ... in order, then slice 0 adds the 16 in order. */
static __global__ void norm_sum_partials(float *dweight, float *dbias, const float *scratch,
					 int blocks, int C, int cols)
{
	__shared__ float slice[SUM_SLICES][SUM_COLS + 1];
	int k = blockIdx.x * SUM_COLS + threadIdx.x;
	float acc = 0.0f;
	if (k < cols)
		for (int b = threadIdx.y; b < blocks; b += SUM_SLICES)
			acc += scratch[(size_t)b * 2 * C + k];
	slice[threadIdx.y][threadIdx.x] = acc;
	__syncthreads();
	if (threadIdx.y != 0 || k >= cols)
		return;
	float total = 0.0f;
	for (int j = 0; j < SUM_SLICES; j++)
		total += slice[j][threadIdx.x];
	if (k < C)
		dweight[k] += total;
	else
		dbias[k - C] += total;
}

typedef void (*norm_backward_fn)(bf16_t *, float *, const bf16_t *, const bf16_t *,
				 const bf16_t *, const float *, const float *, int, int, int);

template <bool LAYER>
static norm_backward_fn pick_backward(int vpt)
{
	switch (vpt) {
	case 1: return norm_backward_vec<1, LAYER>;
	case 2: return norm_backward_vec<2, LAYER>;
	default: return norm_backward_vec<4, LAYER>;
	}
}

template <bool LAYER>
static int norm_backward(bf16 *dinp, float *dweight, float *dbias, float *scratch,
			 const bf16 *dout, const bf16 *inp, const bf16 *weight,
			 const float *mean, const float *rstd, int N, int C, cudaStream_t s,
			 const char *name)
{
	if (N <= 0 || C <= 0)
		return 0;
	int blocks, rows;
	bwd_grid(N, C, &blocks, &rows);
	int threads = bwd_threads(C);
	int vpt = bwd_vectors_per_thread(C);
	norm_backward_fn fn = norm_backward_any<LAYER>;
	if (C % VEC == 0 && (C / VEC + vpt - 1) / vpt <= BWD_MAX_THREADS && aligned16(dinp) &&
	    aligned16(dout) && aligned16(inp) && aligned16(weight))
		fn = pick_backward<LAYER>(vpt);
	fn<<<blocks, threads, 0, s>>>(dev(dinp), scratch, dev(dout), dev(inp), dev(weight), mean,
				      rstd, N, C, rows);
	if (cu_check_launch(name) != 0)
		return -1;
	int cols = LAYER && dbias ? 2 * C : C;
	dim3 sum_block(SUM_COLS, SUM_SLICES);
	norm_sum_partials<<<ceil_div(cols, SUM_COLS), sum_block, 0, s>>>(dweight, dbias, scratch,
									 blocks, C, cols);
	return CU_LAUNCHED(name);
}

extern "C" int cu_layernorm_backward(bf16 *dinp, float *dweight, float *dbias, float *scratch,
				     const bf16 *dout, const bf16 *inp, const bf16 *weight,
				     const float *mean, const float *rstd, int N, int C,
				     cudaStream_t s)
{
	return norm_backward<true>(dinp, dweight, dbias, scratch, dout, inp, weight, mean, rstd,
				   N, C, s, "layernorm_backward");
}

extern "C" int cu_rmsnorm_backward(bf16 *dinp, float *dweight, float *scratch, const bf16 *dout,
				   const bf16 *inp, const bf16 *weight, const float *rstd, int N,
				   int C, cudaStream_t s)
{
	return norm_backward<false>(dinp, dweight, NULL, scratch, dout, inp, weight, NULL, rstd,
				    N, C, s, "rmsnorm_backward");
}
