/*
 * common.cuh — what every kernel file shares: the bf16 type on the device,
 * the launch check, and grid sizing.
 */
#ifndef LMPIPE_CUDA_COMMON_CUH
#define LMPIPE_CUDA_COMMON_CUH

#include "model/cuda/kernels.h"

#include <cuda_bf16.h>
#include <cuda_runtime.h>

/* The device's view of the host's bf16 storage type. */
typedef __nv_bfloat16 bf16_t;

static inline bf16_t *dev(bf16 *p) { return reinterpret_cast<bf16_t *>(p); }
static inline const bf16_t *dev(const bf16 *p) { return reinterpret_cast<const bf16_t *>(p); }

static inline unsigned ceil_div(size_t n, size_t d) { return (unsigned)((n + d - 1) / d); }

/* 8 bf16 in one 16-byte access (a uint4), to and from fp32. */
#define BF16_VEC 8

static __device__ __forceinline__ void bf16x8_unpack(float f[BF16_VEC], uint4 u)
{
	const __nv_bfloat162 *h = reinterpret_cast<const __nv_bfloat162 *>(&u);
#pragma unroll
	for (int k = 0; k < BF16_VEC / 2; k++) {
		float2 v = __bfloat1622float2(h[k]);
		f[2 * k] = v.x;
		f[2 * k + 1] = v.y;
	}
}

static __device__ __forceinline__ uint4 bf16x8_pack(const float f[BF16_VEC])
{
	uint4 u;
	__nv_bfloat162 *h = reinterpret_cast<__nv_bfloat162 *>(&u);
#pragma unroll
	for (int k = 0; k < BF16_VEC / 2; k++)
		h[k] = __floats2bfloat162_rn(f[2 * k], f[2 * k + 1]);
	return u;
}

/* Return -1 (with the error) from a launcher whose kernel failed to launch. */
#define CU_LAUNCHED(name) (cu_check_launch(name) == 0 ? 0 : -1)

#endif
