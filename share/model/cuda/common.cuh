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

/* Return -1 (with the error) from a launcher whose kernel failed to launch. */
#define CU_LAUNCHED(name) (cu_check_launch(name) == 0 ? 0 : -1)

#endif
