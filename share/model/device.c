/*
 * device.c — resolving --device. See device.h.
 */
#include "model/device.h"
#ifdef LMPIPE_CUDA
#include "model/cuda/kernels.h"
#endif

#include <string.h>

const char *device_resolve(const char *name)
{
	if (strcmp(name, "cpu") == 0 || strcmp(name, "cuda") == 0)
		return name;
	if (strcmp(name, "auto") != 0)
		return NULL;
#ifdef LMPIPE_CUDA
	return cu_device_check("auto") == 0 ? "cuda" : "cpu";
#else
	return "cpu";
#endif
}
