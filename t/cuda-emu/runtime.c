/*
 * runtime.c — the CUDA runtime of the host emulation (see
 * cuda_runtime_api.h): a test double for the wiring, not a GPU.
 *
 * One device. Device memory is host memory kept in a table of allocations,
 * so that a copy, a kernel (kernels.c) or NCCL (nccl.c) given host memory
 * where the device's is due, or a range past the end of an allocation,
 * fails with an error as a GPU would (an invalid argument, an illegal
 * address) instead of working by accident. Fresh allocations are 0xff
 * bytes (NaN in fp32 and bf16). Every call runs at once and in order: the
 * streams and events exist (handles to create, destroy and check) but
 * order nothing, so a missing wait between two streams goes unseen here.
 */
#include "cuda_runtime_api.h"
#include "emu.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define POISON 0xff

struct CUstream_st { unsigned flags; };
struct CUevent_st { double ms; };  /* when it was last recorded */

/* ---- errors ------------------------------------------------------------------ */

static cudaError_t last_error;
static char detail[256];  /* what the last failing call said */

__attribute__((format(printf, 2, 3)))
static cudaError_t fail(cudaError_t e, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof detail, fmt, ap);
	va_end(ap);
	last_error = e;
	return e;
}

const char *cudaGetErrorString(cudaError_t e)
{
	static char msg[320];
	const char *s = e == cudaSuccess ? "no error" :
			e == cudaErrorInvalidValue ? "invalid argument" :
			e == cudaErrorMemoryAllocation ? "out of memory" :
			e == cudaErrorInvalidDevice ? "invalid device ordinal" :
			e == cudaErrorInvalidResourceHandle ? "invalid resource handle" :
			e == cudaErrorNotReady ? "device not ready" : "unknown error";
	if (e == cudaSuccess || !*detail)
		return s;
	snprintf(msg, sizeof msg, "%s (cuda-emu: %s)", s, detail);
	return msg;
}

cudaError_t cudaGetLastError(void)
{
	cudaError_t e = last_error;
	last_error = cudaSuccess;
	return e;
}

cudaError_t cudaPeekAtLastError(void) { return last_error; }

/* ---- the device ----------------------------------------------------------------- */

cudaError_t cudaGetDeviceCount(int *count)
{
	*count = 1;
	return cudaSuccess;
}

cudaError_t cudaGetDevice(int *dev)
{
	*dev = 0;
	return cudaSuccess;
}

cudaError_t cudaSetDevice(int dev)
{
	return dev == 0 ? cudaSuccess :
	       fail(cudaErrorInvalidDevice, "device %d: the emulation has device 0 only", dev);
}

cudaError_t cudaGetDeviceProperties(struct cudaDeviceProp *p, int dev)
{
	if (dev != 0)
		return cudaSetDevice(dev);
	memset(p, 0, sizeof *p);
	snprintf(p->name, sizeof p->name, "%s", EMU_DEVICE_NAME);
	p->totalGlobalMem = (size_t)16 << 30;
	p->multiProcessorCount = 1;
	return cudaSuccess;
}

cudaError_t cudaDeviceSynchronize(void) { return cudaSuccess; }

/* ---- memory: a table of the allocations --------------------------------------------- */

typedef struct {
	char *base;
	size_t bytes;
	int pinned;  /* cudaMallocHost: host memory */
} block;

static block *blocks;
static size_t num_blocks, cap_blocks;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

/* The allocation that holds p (NULL if none); call with the lock held. */
static block *find(const void *p)
{
	uintptr_t a = (uintptr_t)p;
	for (size_t i = 0; i < num_blocks; i++) {
		uintptr_t b = (uintptr_t)blocks[i].base;
		if (a >= b && a - b < (blocks[i].bytes ? blocks[i].bytes : 1))
			return &blocks[i];
	}
	return NULL;
}

bool emu_on_device(const void *p, size_t bytes)
{
	if (!p)
		return bytes == 0;
	pthread_mutex_lock(&lock);
	block *b = find(p);
	bool ok = b && !b->pinned && bytes <= b->bytes - (size_t)((const char *)p - b->base);
	pthread_mutex_unlock(&lock);
	return ok;
}

bool emu_on_host(const void *p)
{
	pthread_mutex_lock(&lock);
	block *b = find(p);
	bool ok = !b || b->pinned;
	pthread_mutex_unlock(&lock);
	return ok;
}

static cudaError_t alloc(void **p, size_t bytes, int pinned)
{
	char *m = malloc(bytes ? bytes : 1);
	pthread_mutex_lock(&lock);
	if (m && num_blocks == cap_blocks) {
		size_t cap = cap_blocks ? 2 * cap_blocks : 64;
		block *nb = realloc(blocks, cap * sizeof *nb);
		if (nb)
			blocks = nb, cap_blocks = cap;
	}
	bool ok = m && num_blocks < cap_blocks;
	if (ok)
		blocks[num_blocks++] = (block){m, bytes, pinned};
	pthread_mutex_unlock(&lock);
	if (!ok) {
		free(m);
		*p = NULL;
		return fail(cudaErrorMemoryAllocation, "malloc of %zu bytes failed", bytes);
	}
	memset(m, POISON, bytes);
	*p = m;
	return cudaSuccess;
}

/* Free what alloc gave for p (NULL: nothing); p must be its start. */
static cudaError_t release(void *p, int pinned, const char *who)
{
	if (!p)
		return cudaSuccess;
	pthread_mutex_lock(&lock);
	size_t i = 0;
	while (i < num_blocks && !(blocks[i].base == p && blocks[i].pinned == pinned))
		i++;
	bool found = i < num_blocks;
	if (found)
		blocks[i] = blocks[--num_blocks];
	pthread_mutex_unlock(&lock);
	if (!found)
		return fail(cudaErrorInvalidValue, "%s of a pointer %s did not return", who,
			    pinned ? "cudaMallocHost" : "cudaMalloc");
	free(p);
	return cudaSuccess;
}

cudaError_t cudaMalloc(void **p, size_t bytes) { return alloc(p, bytes, 0); }
cudaError_t cudaFree(void *p) { return release(p, 0, "cudaFree"); }
cudaError_t cudaMallocHost(void **p, size_t bytes) { return alloc(p, bytes, 1); }
cudaError_t cudaFreeHost(void *p) { return release(p, 1, "cudaFreeHost"); }

/* One side of a copy where its kind puts it: on the device, whole, or on
 * the host. */
static bool where_ok(const void *p, size_t bytes, bool device)
{
	return device ? emu_on_device(p, bytes) : emu_on_host(p);
}

cudaError_t cudaMemcpy(void *dst, const void *src, size_t bytes, enum cudaMemcpyKind kind)
{
	static const char *names[] = {"HostToHost", "HostToDevice", "DeviceToHost",
				      "DeviceToDevice", "Default"};
	if (bytes == 0)
		return cudaSuccess;
	if ((unsigned)kind > cudaMemcpyDefault)
		return fail(cudaErrorInvalidValue, "cudaMemcpy: no kind %d", (int)kind);
	bool src_dev = kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice;
	bool dst_dev = kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice;
	if (kind != cudaMemcpyDefault && !where_ok(src, bytes, src_dev))
		return fail(cudaErrorInvalidValue, "cudaMemcpy %s: the source is not %s",
			    names[kind], src_dev ? "device memory (or too short)" : "host memory");
	if (kind != cudaMemcpyDefault && !where_ok(dst, bytes, dst_dev))
		return fail(cudaErrorInvalidValue, "cudaMemcpy %s: the destination is not %s",
			    names[kind], dst_dev ? "device memory (or too short)" : "host memory");
	memmove(dst, src, bytes);
	return cudaSuccess;
}

cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t bytes, enum cudaMemcpyKind kind,
			    cudaStream_t s)
{
	return cudaMemcpy(dst, src, bytes, kind);
}

cudaError_t cudaMemset(void *p, int value, size_t bytes)
{
	if (!emu_on_device(p, bytes))
		return fail(cudaErrorInvalidValue, "cudaMemset: not device memory (or too short)");
	memset(p, value, bytes);
	return cudaSuccess;
}

cudaError_t cudaMemsetAsync(void *p, int value, size_t bytes, cudaStream_t s)
{
	return cudaMemset(p, value, bytes);
}

/* ---- streams and events: handles, nothing to wait for -------------------------------- */

cudaError_t cudaStreamCreateWithFlags(cudaStream_t *s, unsigned flags)
{
	*s = calloc(1, sizeof **s);
	if (!*s)
		return fail(cudaErrorMemoryAllocation, "no memory for a stream");
	(*s)->flags = flags;
	return cudaSuccess;
}

cudaError_t cudaStreamCreate(cudaStream_t *s) { return cudaStreamCreateWithFlags(s, 0); }

cudaError_t cudaStreamDestroy(cudaStream_t s)
{
	if (!s)
		return fail(cudaErrorInvalidResourceHandle, "cudaStreamDestroy: the default stream");
	free(s);
	return cudaSuccess;
}

cudaError_t cudaStreamSynchronize(cudaStream_t s) { return cudaSuccess; }
cudaError_t cudaStreamQuery(cudaStream_t s) { return cudaSuccess; }

cudaError_t cudaStreamWaitEvent(cudaStream_t s, cudaEvent_t e, unsigned flags)
{
	return e ? cudaSuccess :
	       fail(cudaErrorInvalidResourceHandle, "cudaStreamWaitEvent: no event");
}

cudaError_t cudaEventCreateWithFlags(cudaEvent_t *e, unsigned flags)
{
	*e = calloc(1, sizeof **e);
	return *e ? cudaSuccess : fail(cudaErrorMemoryAllocation, "no memory for an event");
}

cudaError_t cudaEventCreate(cudaEvent_t *e) { return cudaEventCreateWithFlags(e, 0); }

cudaError_t cudaEventDestroy(cudaEvent_t e)
{
	if (!e)
		return fail(cudaErrorInvalidResourceHandle, "cudaEventDestroy: no event");
	free(e);
	return cudaSuccess;
}

cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t s)
{
	if (!e)
		return fail(cudaErrorInvalidResourceHandle, "cudaEventRecord: no event");
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	e->ms = (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
	return cudaSuccess;
}

cudaError_t cudaEventSynchronize(cudaEvent_t e)
{
	return e ? cudaSuccess :
	       fail(cudaErrorInvalidResourceHandle, "cudaEventSynchronize: no event");
}

cudaError_t cudaEventQuery(cudaEvent_t e) { return cudaEventSynchronize(e); }

cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t start, cudaEvent_t end)
{
	if (!start || !end)
		return fail(cudaErrorInvalidResourceHandle, "cudaEventElapsedTime: no event");
	*ms = (float)(end->ms - start->ms);
	return cudaSuccess;
}
