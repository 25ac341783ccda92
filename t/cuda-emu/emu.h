/*
 * emu.h — what the parts of the CUDA emulation share (t/cuda-emu/: the
 * runtime, NCCL and the kernels): where device memory is.
 */
#ifndef LMPIPE_CUDA_EMU_H
#define LMPIPE_CUDA_EMU_H

#include <stdbool.h>
#include <stddef.h>

/* The emulated GPU's name, in cudaGetDeviceProperties and the logs. */
#define EMU_DEVICE_NAME "CUDA emulation on the host (t/cuda-emu)"

/* [p, p + bytes) lies inside one cudaMalloc allocation (bytes 0: p does,
 * or p is NULL). */
bool emu_on_device(const void *p, size_t bytes);
/* p is inside no cudaMalloc allocation (host memory, pinned or not). */
bool emu_on_host(const void *p);

#endif
