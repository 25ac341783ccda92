/*
 * optim.cu — the optimizer's kernels: fused AdamW over the flat parameter
 * array, the sum of squares behind the gradient norm, and the bias
 * gradient (column sums). CPU twins: share/optim/adamw.c (adamw_step,
 * grad_norm, grad_clip's scaling) and share/model/matmul.c (dbias).
 *
 * Deterministic: the reductions go through per-block partials in the
 * caller's scratch, each summed in a fixed order (the grid and the split
 * of the work depend on the sizes only), then a second kernel sums the
 * partials in order. No floating-point atomics.
 */
#include "model/cuda/common.cuh"
extern "C" {
#include "util/error.h"
}

#include <math.h>
#include <stdint.h>

static bool aligned(const void *p, size_t bytes) { return ((uintptr_t)p & (bytes - 1)) == 0; }

/* ---- AdamW ----------------------------------------------------------------- */

#define ADAMW_THREADS 256
#define ADAMW_MAX_BLOCKS 65536
#define ADAMW_VEC 4  /* floats a 16-byte load */

/* adamw_step's per-step constants, computed on the host in double as it
 * does, then rounded to float. */
typedef struct {
	float b1, b2, eps, decay, step_size, bc2_sqrt, grad_scale;
} adamw_consts;

/* The run holding element i: the first run whose end is beyond i. */
static __device__ inline int run_of(const cu_decay_runs &r, size_t i)
{
	int lo = 0, hi = r.count - 1;
	while (lo < hi) {
		int mid = (lo + hi) / 2;
		if (r.end[mid] > i)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

/* One element, in adamw_step's order of operations; returns the new p. */
static __device__ inline float adamw_update(float p, float g, float *m, float *v, bool decay,
					    const adamw_consts &k)
{
	g *= k.grad_scale;
	if (decay)
		p *= k.decay;
	*m = k.b1 * *m + (1.0f - k.b1) * g;
	*v = k.b2 * *v + (1.0f - k.b2) * g * g;
	return p - k.step_size * *m / (sqrtf(*v) / k.bc2_sqrt + k.eps);
}

/* Grid-stride over groups of VEC elements (float4 loads and stores when
 * vec, one element a group otherwise). */
template <int VEC>
__global__ void adamw_kernel(float *params, bf16_t *params_bf16, const float *grads, float *m,
			     float *v, size_t n, cu_decay_runs runs, adamw_consts k)
{
	size_t stride = (size_t)gridDim.x * blockDim.x * VEC;
	for (size_t i0 = ((size_t)blockIdx.x * blockDim.x + threadIdx.x) * VEC; i0 < n;
	     i0 += stride) {
		float p[VEC], g[VEC], mm[VEC], vv[VEC];
		if (VEC == ADAMW_VEC && i0 + VEC <= n) {
			*reinterpret_cast<float4 *>(p) = *reinterpret_cast<const float4 *>(params + i0);
			*reinterpret_cast<float4 *>(g) = *reinterpret_cast<const float4 *>(grads + i0);
			*reinterpret_cast<float4 *>(mm) = *reinterpret_cast<const float4 *>(m + i0);
			*reinterpret_cast<float4 *>(vv) = *reinterpret_cast<const float4 *>(v + i0);
		} else {
			for (int j = 0; j < VEC; j++) {
				size_t i = i0 + j < n ? i0 + j : i0;
				p[j] = params[i], g[j] = grads[i], mm[j] = m[i], vv[j] = v[i];
			}
		}
		int r = run_of(runs, i0);
		for (int j = 0; j < VEC; j++) {
			while (r < runs.count - 1 && i0 + j >= runs.end[r])  /* the group crosses a run */
				r++;
			p[j] = adamw_update(p[j], g[j], &mm[j], &vv[j], runs.decay[r] != 0, k);
		}
		if (VEC == ADAMW_VEC && i0 + VEC <= n) {
			*reinterpret_cast<float4 *>(params + i0) = *reinterpret_cast<float4 *>(p);
			*reinterpret_cast<float4 *>(m + i0) = *reinterpret_cast<float4 *>(mm);
			*reinterpret_cast<float4 *>(v + i0) = *reinterpret_cast<float4 *>(vv);
			if (params_bf16) {
				__nv_bfloat162 lo = __floats2bfloat162_rn(p[0], p[1]);
				__nv_bfloat162 hi = __floats2bfloat162_rn(p[2], p[3]);
				uint2 packed;
				packed.x = *reinterpret_cast<unsigned *>(&lo);
				packed.y = *reinterpret_cast<unsigned *>(&hi);
				*reinterpret_cast<uint2 *>(params_bf16 + i0) = packed;
			}
		} else {
			for (int j = 0; j < VEC && i0 + j < n; j++) {
				params[i0 + j] = p[j], m[i0 + j] = mm[j], v[i0 + j] = vv[j];
				if (params_bf16)
					params_bf16[i0 + j] = __float2bfloat16_rn(p[j]);
			}
		}
	}
}

static int check_runs(const cu_decay_runs *runs, size_t n)
{
	if (!runs || runs->count < 1 || runs->count > CU_ADAMW_MAX_RUNS)
		return lm_fail("cu_adamw: %d decay runs (1 to %d)", runs ? runs->count : 0,
			       CU_ADAMW_MAX_RUNS);
	for (int i = 1; i < runs->count; i++)
		if (runs->end[i] <= runs->end[i - 1])
			return lm_fail("cu_adamw: decay run %d is empty or out of order", i);
	if (runs->end[runs->count - 1] != n)
		return lm_fail("cu_adamw: decay runs cover %zu of %zu parameters",
			       runs->end[runs->count - 1], n);
	return 0;
}

extern "C" int cu_adamw(float *params, bf16 *params_bf16, const float *grads, float *m, float *v,
			size_t n, const cu_decay_runs *runs, float lr, float beta1, float beta2,
			float eps, float weight_decay, long t, float grad_scale, cudaStream_t s)
{
	if (n == 0)
		return 0;
	if (check_runs(runs, n) != 0)
		return -1;
	adamw_consts k;
	k.b1 = beta1, k.b2 = beta2, k.eps = eps, k.grad_scale = grad_scale;
	k.decay = (float)(1.0 - (double)lr * weight_decay);
	k.step_size = (float)(lr / (1.0 - pow((double)beta1, (double)t)));
	k.bc2_sqrt = (float)sqrt(1.0 - pow((double)beta2, (double)t));
	bool vec = aligned(params, 16) && aligned(grads, 16) && aligned(m, 16) &&
		   aligned(v, 16) && aligned(params_bf16, 8);
	int per = vec ? ADAMW_VEC : 1;
	size_t blocks = ceil_div(ceil_div(n, per), ADAMW_THREADS);
	unsigned grid = (unsigned)(blocks < ADAMW_MAX_BLOCKS ? blocks : ADAMW_MAX_BLOCKS);
	bf16_t *pb = params_bf16 ? dev(params_bf16) : nullptr;
	if (vec)
		adamw_kernel<ADAMW_VEC><<<grid, ADAMW_THREADS, 0, s>>>(params, pb, grads, m, v, n,
									*runs, k);
	else
		adamw_kernel<1><<<grid, ADAMW_THREADS, 0, s>>>(params, pb, grads, m, v, n, *runs, k);
	return CU_LAUNCHED("cu_adamw");
}

/* ---- sum of squares ---------------------------------------------------------- */

#define SUMSQ_BLOCKS 1024   /* fixed: the partials' order depends on nothing else */
#define SUMSQ_THREADS 256

/* The block's sum of v over its threads, in a fixed tree; valid in thread 0. */
static __device__ double block_sum(double v)
{
	__shared__ double warp_sums[32];
	for (int off = 16; off > 0; off /= 2)
		v += __shfl_down_sync(0xffffffffu, v, off);
	int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
	if (lane == 0)
		warp_sums[warp] = v;
	__syncthreads();
	if (warp == 0) {
		int warps = blockDim.x / 32;
		v = lane < warps ? warp_sums[lane] : 0.0;
		for (int off = 16; off > 0; off /= 2)
			v += __shfl_down_sync(0xffffffffu, v, off);
	}
	return v;
}

/* partial[block] = sum of x^2 over the block's grid-stride share. */
__global__ void sum_squares_kernel(double *partial, const float *x, size_t n, bool vec)
{
	size_t id = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
	size_t stride = (size_t)gridDim.x * blockDim.x;
	double acc = 0.0;
	size_t done = 0;
	if (vec) {
		size_t quads = n / 4;
		for (size_t q = id; q < quads; q += stride) {
			float4 f = reinterpret_cast<const float4 *>(x)[q];
			acc += (double)f.x * f.x + (double)f.y * f.y + (double)f.z * f.z +
			       (double)f.w * f.w;
		}
		done = quads * 4;
	}
	for (size_t i = done + id; i < n; i += stride)
		acc += (double)x[i] * x[i];
	acc = block_sum(acc);
	if (threadIdx.x == 0)
		partial[blockIdx.x] = acc;
}

/* *out = the sum of the partials, one block, fixed order. */
__global__ void sum_partials_kernel(double *out, const double *partial, int count)
{
	double acc = 0.0;
	for (int i = threadIdx.x; i < count; i += blockDim.x)
		acc += partial[i];
	acc = block_sum(acc);
	if (threadIdx.x == 0)
		*out = acc;
}

extern "C" size_t cu_sum_squares_scratch(void) { return SUMSQ_BLOCKS; }

extern "C" int cu_sum_squares(double *out, const float *x, size_t n, double *scratch,
			      cudaStream_t s)
{
	sum_squares_kernel<<<SUMSQ_BLOCKS, SUMSQ_THREADS, 0, s>>>(scratch, x, n, aligned(x, 16));
	if (CU_LAUNCHED("cu_sum_squares") != 0)
		return -1;
	sum_partials_kernel<<<1, SUMSQ_THREADS, 0, s>>>(out, scratch, SUMSQ_BLOCKS);
	return CU_LAUNCHED("cu_sum_squares (partials)");
}

/* ---- bias gradient: column sums ----------------------------------------------- */

/*
 * Grid (column tiles, row chunks). A block is BIAS_TX x BIAS_TY threads:
 * x over columns (W consecutive columns a thread: 8 bf16 from one 16-byte
 * load, or 1), y over the chunk's rows (rows y, y + TY, ...). The TY
 * per-thread sums meet in shared memory, added in y order, and the block
 * writes partial[chunk][col]. A second kernel adds each column's chunks in
 * order to dbias.
 */
#define BIAS_TX 32
#define BIAS_TY 8
#define BIAS_VEC 8
#define BIAS_ROWS_PER_CHUNK 128  /* 64 or 32: more partials, slower on an H100 */
#define BIAS_MAX_CHUNKS 1024

static int bias_chunks(int N)
{
	int c = (int)ceil_div((size_t)(N > 0 ? N : 1), BIAS_ROWS_PER_CHUNK);
	return c < BIAS_MAX_CHUNKS ? c : BIAS_MAX_CHUNKS;
}

struct alignas(16) bias_pack {
	__nv_bfloat162 h[BIAS_VEC / 2];
};

template <int W>
__global__ void bias_partial_kernel(float *partial, const bf16_t *dout, int N, int OC,
				    int rows_per_chunk)
{
	__shared__ float sums[BIAS_TY][BIAS_TX * W];
	int col0 = (blockIdx.x * BIAS_TX + threadIdx.x) * W;
	int chunk = blockIdx.y;
	int row_end = min(N, (chunk + 1) * rows_per_chunk);
	float acc[W];
	for (int k = 0; k < W; k++)
		acc[k] = 0.0f;
	if (col0 < OC) {
#pragma unroll 8
		for (int row = chunk * rows_per_chunk + threadIdx.y; row < row_end;
		     row += BIAS_TY) {
			const bf16_t *src = dout + (size_t)row * OC + col0;
			if (W == BIAS_VEC) {
				bias_pack p = *reinterpret_cast<const bias_pack *>(src);
				for (int k = 0; k < W / 2; k++) {
					float2 f = __bfloat1622float2(p.h[k]);
					acc[2 * k] += f.x;
					acc[2 * k + 1] += f.y;
				}
			} else {
				for (int k = 0; k < W; k++)
					acc[k] += __bfloat162float(src[k]);
			}
		}
	}
	for (int k = 0; k < W; k++)
		sums[threadIdx.y][threadIdx.x * W + k] = acc[k];
	__syncthreads();
	/* the block's TX * W columns, summed over y in order */
	for (int c = threadIdx.y * BIAS_TX + threadIdx.x; c < BIAS_TX * W;
	     c += BIAS_TX * BIAS_TY) {
		int col = blockIdx.x * BIAS_TX * W + c;
		if (col >= OC)
			continue;
		float s = 0.0f;
		for (int y = 0; y < BIAS_TY; y++)
			s += sums[y][c];
		partial[(size_t)chunk * OC + col] = s;
	}
}

/* dbias[col] += the chunks' partials of col, in chunk order. */
__global__ void bias_sum_kernel(float *dbias, const float *partial, int chunks, int OC)
{
	int col = blockIdx.x * blockDim.x + threadIdx.x;
	if (col >= OC)
		return;
	float s = 0.0f;
	for (int c = 0; c < chunks; c++)
		s += partial[(size_t)c * OC + col];
	dbias[col] += s;
}

extern "C" size_t cu_bias_backward_scratch(int N, int OC)
{
	return (size_t)bias_chunks(N) * (size_t)(OC > 0 ? OC : 0);
}

extern "C" int cu_bias_backward(float *dbias, const bf16 *dout, float *scratch, int N, int OC,
				cudaStream_t s)
{
	if (N <= 0 || OC <= 0)
		return 0;
	int chunks = bias_chunks(N);
	int rows_per_chunk = (int)ceil_div((size_t)N, (size_t)chunks);
	bool vec = OC % BIAS_VEC == 0 && aligned(dout, 16);
	dim3 block(BIAS_TX, BIAS_TY);
	if (vec) {
		dim3 grid(ceil_div((size_t)OC, BIAS_TX * BIAS_VEC), chunks);
		bias_partial_kernel<BIAS_VEC><<<grid, block, 0, s>>>(scratch, dev(dout), N, OC,
								     rows_per_chunk);
	} else {
		dim3 grid(ceil_div((size_t)OC, BIAS_TX), chunks);
		bias_partial_kernel<1><<<grid, block, 0, s>>>(scratch, dev(dout), N, OC,
							      rows_per_chunk);
	}
	if (CU_LAUNCHED("cu_bias_backward") != 0)
		return -1;
	bias_sum_kernel<<<ceil_div((size_t)OC, 256), 256, 0, s>>>(dbias, scratch, chunks, OC);
	return CU_LAUNCHED("cu_bias_backward (partials)");
}
