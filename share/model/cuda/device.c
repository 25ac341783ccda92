/*
 * device.c — finding a GPU, and turning CUDA's error codes into lmpipe
 * errors (util/error.h).
 */
#include "model/cuda/kernels.h"
#include "util/error.h"

#include <cuda_runtime_api.h>

int cu_device_check(const char *who)
{
	int count = 0;
	cudaError_t e = cudaGetDeviceCount(&count);
	if (e == cudaSuccess && count > 0)
		return 0;
	cudaGetLastError();  /* clear it */
	return lm_fail("%s: no CUDA GPU found (%s)", who,
		       e == cudaSuccess ? "the driver reports none" : cudaGetErrorString(e));
}

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
