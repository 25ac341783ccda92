/*
 * emu.h — what the parts of the CUDA emulation share (t/cuda-emu/: the
 * runtime, NCCL and the kernels): where device memory is, and the streams'
 * queues of deferred work.
 */
#ifndef LMPIPE_CUDA_EMU_H
#define LMPIPE_CUDA_EMU_H

#include "cuda_runtime_api.h"

#include <stdbool.h>
#include <stddef.h>

/* The emulated GPU's name, in cudaGetDeviceProperties and the logs. */
#define EMU_DEVICE_NAME "CUDA emulation on the host (t/cuda-emu)"

/* [p, p + bytes) lies inside one cudaMalloc allocation of the device that
 * runs the work now (the stream's, in deferred work; else cudaSetDevice's)
 * (bytes 0: p does, or p is NULL). */
bool emu_on_device(const void *p, size_t bytes);
/* p is inside no cudaMalloc allocation (host memory, pinned or not). */
bool emu_on_host(const void *p);
/* The device that runs the work now, and its physical name (its entry in
 * CUDA_VISIBLE_DEVICES): two processes on one name share one GPU. */
int emu_device(void);
const char *emu_device_name(int dev);

/* One step of deferred work: EMU_DONE, EMU_WAIT (it waits for another
 * process: try again later; only when MUST is 0) or EMU_FAIL (after
 * lm_fail with the reason: the error sticks, as a failed launch's does). */
enum { EMU_DONE, EMU_WAIT, EMU_FAIL };
typedef int (*emu_step_fn)(void *args, int must);

/* Queue STEP on stream s (NULL: the legacy default stream) with a copy of
 * the bytes of ARGS, which it may change between its tries. Nothing runs
 * until something forces the stream: a synchronization, an event waited
 * on, a copy to pageable host memory, cudaFree. 0, or -1 after lm_fail
 * (an earlier launch failed: the error sticks). */
int emu_launch(cudaStream_t s, const char *who, emu_step_fn step, const void *args,
	       size_t bytes);
/* Run deferred work until every stream is empty (cudaDeviceSynchronize). */
cudaError_t emu_drain_all(void);

#endif
