/*
 * device.c — turning CUDA's error codes into lmpipe errors (util/error.h).
 */
#include "model/cuda/kernels.h"
#include "util/error.h"

#include <cuda_runtime_api.h>

int cu_check(cudaError_t e, const char *what)
{
	if (e == cudaSuccess)
		return 0;
	return lm_fail("%s: %s", what, cudaGetErrorString(e));
}

int cu_check_launch(const char *kernel)
{
	return cu_check(cudaGetLastError(), kernel);
}
