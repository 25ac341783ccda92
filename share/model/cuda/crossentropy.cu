/*
 * crossentropy.cu — softmax cross-entropy fused with its backward, twin of
 * share/model/crossentropy.c (forward, then backward with scale =
 * grad_scale). One block a row of logits (N, Vp), fp32 inside:
 *
 *   pass 1: an online max and sum of exp over the V real columns, each
 *           thread its own (max, sum), merged across the block in a fixed
 *           order: lse = max + log(sum), loss = lse - logit[target];
 *   pass 2: (grad_scale != 0) the row overwritten in place with
 *           grad_scale * (softmax - onehot), zeros on the padded columns.
 *
 * The second pass reads the row again, from L2 for all but the largest
 * vocabularies. 8 bf16 a 16-byte access when Vp is a multiple of 8 and
 * the logits are 16-byte aligned; a plain path otherwise. A target outside
 * [0, V) gives a NaN loss (and no onehot), so a bad batch cannot pass
 * unnoticed.
 */
#include "model/cuda/common.cuh"
extern "C" {
#include "util/error.h"
}

#include <math.h>
#include <stdint.h>

#define CE_THREADS 512
#define VEC 8  /* bf16 a 16-byte access */
#define WARP 32

/* ---- the running (max, sum of exp(x - max)) ----------------------------- */

struct softmax_acc {
	float max;
	float sum;
};

static __device__ __forceinline__ softmax_acc acc_merge(softmax_acc a, softmax_acc b)
{
	softmax_acc r;
	r.max = fmaxf(a.max, b.max);
	/* -inf on both sides (nothing seen): exp(-inf - -inf) would be NaN */
	float ea = a.max == -INFINITY ? 0.0f : expf(a.max - r.max);
	float eb = b.max == -INFINITY ? 0.0f : expf(b.max - r.max);
	r.sum = a.sum * ea + b.sum * eb;
	return r;
}

/* Fold in k values: one rescale for the k, then their exps. */
template <int K>
static __device__ __forceinline__ softmax_acc acc_add(softmax_acc a, const float *z)
{
	float m = a.max;
#pragma unroll
	for (int j = 0; j < K; j++)
		m = fmaxf(m, z[j]);
	float sum = a.max == -INFINITY ? 0.0f : a.sum * expf(a.max - m);
#pragma unroll
	for (int j = 0; j < K; j++)
		sum += expf(z[j] - m);
	softmax_acc r = {m, sum};
	return r;
}

/* Merged over the block in a fixed order; every thread gets the result.
 * The butterfly is symmetric (merge(a, b) == merge(b, a) bit for bit), so
 * all lanes agree. */
static __device__ softmax_acc block_merge(softmax_acc a)
{
	__shared__ softmax_acc red[CE_THREADS / WARP];
#pragma unroll
	for (int m = WARP / 2; m > 0; m /= 2) {
		softmax_acc o;
		o.max = __shfl_xor_sync(0xffffffffu, a.max, m);
		o.sum = __shfl_xor_sync(0xffffffffu, a.sum, m);
		a = acc_merge(a, o);
	}
	int warp = threadIdx.x / WARP;
	if (threadIdx.x % WARP == 0)
		red[warp] = a;
	__syncthreads();
	softmax_acc r = red[0];
	for (int w = 1; w < (int)blockDim.x / WARP; w++)
		r = acc_merge(r, red[w]);
	return r;
}

/* ---- the kernels ------------------------------------------------------------ */

/* The gradient of one column: (softmax - onehot) * scale, 0 on padding;
 * the CPU twin's order (exp * scale, then minus scale at the target). */
static __device__ __forceinline__ float ce_grad(float z, int v, float lse, int target, int V,
						float scale)
{
	if (v >= V)
		return 0.0f;
	float g = expf(z - lse) * scale;
	return v == target ? g - scale : g;
}

static __device__ __forceinline__ void ce_finish_row(float *losses, softmax_acc r, float zt,
						     int target, int V, long row)
{
	if (threadIdx.x == 0)
		losses[row] = target >= 0 && target < V ? r.max + logf(r.sum) - zt : NAN;
}

/* Vp % 8 == 0, 16-byte aligned logits: thread t reads vectors t, t + 512... */
static __global__ void crossentropy_vec(float *losses, bf16_t *logits, const int *targets,
					int V, int Vp, float scale)
{
	long row = blockIdx.x;
	bf16_t *z = logits + (size_t)row * Vp;
	int target = targets[row];
	float zt = target >= 0 && target < V ? __bfloat162float(z[target]) : NAN;
	int full = V / VEC;  /* vectors wholly inside the real columns */
	softmax_acc a = {-INFINITY, 0.0f};
	for (int v = threadIdx.x; v < full; v += blockDim.x) {
		float f[VEC];
		bf16x8_unpack(f, *reinterpret_cast<const uint4 *>(z + (size_t)v * VEC));
		a = acc_add<VEC>(a, f);
	}
	/* the real columns past the last whole vector, one a thread */
	int c = full * VEC + threadIdx.x;
	if (c < V) {
		float f = __bfloat162float(z[c]);
		a = acc_add<1>(a, &f);
	}
	/* block_merge's barrier puts every read above before any write below */
	softmax_acc r = block_merge(a);
	ce_finish_row(losses, r, zt, target, V, row);
	if (scale == 0.0f)
		return;
	float lse = r.max + logf(r.sum);
	for (int v = threadIdx.x; v < Vp / VEC; v += blockDim.x) {
		uint4 *p = reinterpret_cast<uint4 *>(z + (size_t)v * VEC);
		float f[VEC];
		bf16x8_unpack(f, *p);
#pragma unroll
		for (int j = 0; j < VEC; j++)
			f[j] = ce_grad(f[j], v * VEC + j, lse, target, V, scale);
		*p = bf16x8_pack(f);
	}
}

/* Any Vp and alignment: one column a thread at a time. */
static __global__ void crossentropy_any(float *losses, bf16_t *logits, const int *targets,
					int V, int Vp, float scale)
{
	long row = blockIdx.x;
	bf16_t *z = logits + (size_t)row * Vp;
	int target = targets[row];
	float zt = target >= 0 && target < V ? __bfloat162float(z[target]) : NAN;
	softmax_acc a = {-INFINITY, 0.0f};
	for (int c = threadIdx.x; c < V; c += blockDim.x) {
		float f = __bfloat162float(z[c]);
		a = acc_add<1>(a, &f);
	}
	softmax_acc r = block_merge(a);
	ce_finish_row(losses, r, zt, target, V, row);
	if (scale == 0.0f)
		return;
	float lse = r.max + logf(r.sum);
	for (int c = threadIdx.x; c < Vp; c += blockDim.x) {
		float g = ce_grad(__bfloat162float(z[c]), c, lse, target, V, scale);
		z[c] = __float2bfloat16_rn(g);
	}
}

extern "C" int cu_crossentropy_fused(float *losses, bf16 *logits, const int *targets, int N,
				     int V, int Vp, float grad_scale, cudaStream_t s)
{
	if (N <= 0)
		return 0;
	if (V <= 0 || Vp < V)
		return lm_fail("crossentropy: bad vocabulary %d (padded %d)", V, Vp);
	if (Vp % VEC == 0 && ((uintptr_t)logits & 15) == 0)
		crossentropy_vec<<<N, CE_THREADS, 0, s>>>(losses, dev(logits), targets, V, Vp,
							  grad_scale);
	else
		crossentropy_any<<<N, CE_THREADS, 0, s>>>(losses, dev(logits), targets, V, Vp,
							  grad_scale);
	return CU_LAUNCHED("crossentropy_fused");
}
