/*
 * runtime.c — the CUDA runtime of the host emulation (see
 * cuda_runtime_api.h): a test double for the wiring, not a GPU.
 *
 * Devices. The GPUs are those CUDA_VISIBLE_DEVICES lists (one when it is
 * unset, none when it is empty); cudaSetDevice picks one. Device memory is
 * host memory kept in a table of allocations, each with its device, so that
 * a copy, a kernel (kernels.c) or NCCL (nccl.c) given host memory where the
 * device's is due, another device's memory, or a range past the end of an
 * allocation, fails with an error as a GPU would (an invalid argument, an
 * illegal address) instead of working by accident. Fresh allocations are
 * 0xff bytes (NaN in fp32 and bf16).
 *
 * Streams and events. Each stream is a queue of deferred work: a kernel,
 * an async copy or memset, an NCCL collective, an event's record, a wait
 * for an event. Nothing runs when it is queued; it runs when something
 * forces it: a stream or event synchronization, a copy to pageable host
 * memory, cudaFree, a synchronous cudaMemcpy (the legacy stream's work
 * only: lmpipe's streams are non-blocking). Then a seeded scheduler
 * (LMPIPE_EMU_SEED, default 1) runs the heads of the ready streams in a
 * shuffled order, work the forcing call does not need included, until what
 * it waits for is done: a stream that misses a wait for another's event
 * runs before or after that work at random, and reads stale or NaN data.
 * A wait is for the event's last record queued when the wait is queued, as
 * in CUDA. Copies from pageable host memory take their bytes when queued
 * (CUDA stages them), from pinned memory when they run. Stricter than CUDA
 * in one place: the legacy stream does not wait for blocking streams, nor
 * they for it (lmpipe's streams are all non-blocking).
 */
#include "cuda_runtime_api.h"
#include "emu.h"
#include "util/error.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define POISON 0xff
#define MAX_DEVICES 64

typedef struct item item;
struct item {
	item *next;
	enum { WORK, RECORD, WAIT } kind;
	emu_step_fn step;  /* WORK */
	void *args;
	const char *who;
	cudaEvent_t event; /* RECORD, WAIT */
	long gen;          /* the record's generation (WAIT: the one waited for) */
	long serial;       /* its place in its stream */
};

struct CUstream_st {
	unsigned flags;
	int dev;
	item *head, *tail;
	long queued, done;  /* serials: the last queued, the last run */
	struct CUstream_st *prev, *next;  /* every live stream */
};

struct CUevent_st {
	unsigned flags;
	long recorded, completed;  /* generations: the last record queued, the last run */
	double ms;                 /* when the last record ran */
};

static struct CUstream_st legacy[MAX_DEVICES];  /* the NULL stream of each device */
static struct CUstream_st *streams;             /* the created ones */

/* ---- errors ------------------------------------------------------------------ */

static cudaError_t last_error, sticky;  /* sticky: a deferred launch failed */
static char detail[512];  /* what the last failing call said */

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
	static char msg[640];
	const char *s = e == cudaSuccess ? "no error" :
			e == cudaErrorInvalidValue ? "invalid argument" :
			e == cudaErrorMemoryAllocation ? "out of memory" :
			e == cudaErrorNoDevice ? "no CUDA-capable device is detected" :
			e == cudaErrorInvalidDevice ? "invalid device ordinal" :
			e == cudaErrorInvalidResourceHandle ? "invalid resource handle" :
			e == cudaErrorNotReady ? "device not ready" :
			e == cudaErrorLaunchFailure ? "unspecified launch failure" : "unknown error";
	if (e == cudaSuccess || !*detail)
		return s;
	snprintf(msg, sizeof msg, "%s (cuda-emu: %s)", s, detail);
	return msg;
}

cudaError_t cudaGetLastError(void)
{
	cudaError_t e = last_error;
	last_error = sticky;
	return e;
}

cudaError_t cudaPeekAtLastError(void) { return last_error; }

/* ---- the devices: CUDA_VISIBLE_DEVICES ------------------------------------------ */

static int current_dev;    /* cudaSetDevice's */
static int running_dev = -1;  /* the stream's, while its work runs */
static int num_devices = -1;
static char device_names[MAX_DEVICES][32];

/* The entries of CUDA_VISIBLE_DEVICES (once): "0,1,2,3" is four GPUs,
 * unset is one ("0"), empty none. */
static int devices(void)
{
	if (num_devices >= 0)
		return num_devices;
	const char *v = getenv("CUDA_VISIBLE_DEVICES");
	num_devices = 0;
	if (!v) {
		snprintf(device_names[num_devices++], sizeof device_names[0], "0");
		return num_devices;
	}
	while (*v && num_devices < MAX_DEVICES) {
		size_t n = strcspn(v, ",");
		if (n > 0)
			snprintf(device_names[num_devices++], sizeof device_names[0], "%.*s", (int)n, v);
		v += n + (v[n] == ',');
	}
	return num_devices;
}

int emu_device(void) { return running_dev >= 0 ? running_dev : current_dev; }

const char *emu_device_name(int dev)
{
	return dev >= 0 && dev < devices() ? device_names[dev] : "?";
}

cudaError_t cudaGetDeviceCount(int *count)
{
	*count = devices();
	return *count ? cudaSuccess :
	       fail(cudaErrorNoDevice, "CUDA_VISIBLE_DEVICES lists no device");
}

cudaError_t cudaGetDevice(int *dev)
{
	*dev = current_dev;
	return cudaSuccess;
}

static cudaError_t device_ok(int dev)
{
	if (dev >= 0 && dev < devices())
		return cudaSuccess;
	return fail(cudaErrorInvalidDevice, "device %d: CUDA_VISIBLE_DEVICES gives %d device%s",
		    dev, devices(), devices() == 1 ? "" : "s");
}

cudaError_t cudaSetDevice(int dev)
{
	cudaError_t e = device_ok(dev);
	if (e == cudaSuccess)
		current_dev = dev;
	return e;
}

cudaError_t cudaGetDeviceProperties(struct cudaDeviceProp *p, int dev)
{
	cudaError_t e = device_ok(dev);
	if (e != cudaSuccess)
		return e;
	memset(p, 0, sizeof *p);
	snprintf(p->name, sizeof p->name, "%s", EMU_DEVICE_NAME);
	p->totalGlobalMem = (size_t)16 << 30;
	p->multiProcessorCount = 1;
	return cudaSuccess;
}

/* ---- memory: a table of the allocations --------------------------------------------- */

typedef struct {
	char *base;
	size_t bytes;
	int pinned;  /* cudaMallocHost: host memory */
	int dev;
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
	bool ok = b && !b->pinned && b->dev == emu_device() &&
		  bytes <= b->bytes - (size_t)((const char *)p - b->base);
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

static bool pinned(const void *p)
{
	pthread_mutex_lock(&lock);
	block *b = find(p);
	bool ok = b && b->pinned;
	pthread_mutex_unlock(&lock);
	return ok;
}

static cudaError_t alloc(void **p, size_t bytes, int pin)
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
		blocks[num_blocks++] = (block){m, bytes, pin, current_dev};
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

/* Free what alloc gave for p (NULL: nothing); p must be its start. As in
 * CUDA, the device's work ends first. */
static cudaError_t release(void *p, int pin, const char *who)
{
	if (!p)
		return cudaSuccess;
	cudaError_t e = emu_drain_all();
	if (e != cudaSuccess)
		return e;
	pthread_mutex_lock(&lock);
	size_t i = 0;
	while (i < num_blocks && !(blocks[i].base == p && blocks[i].pinned == pin))
		i++;
	bool found = i < num_blocks;
	if (found)
		blocks[i] = blocks[--num_blocks];
	pthread_mutex_unlock(&lock);
	if (!found)
		return fail(cudaErrorInvalidValue, "%s of a pointer %s did not return", who,
			    pin ? "cudaMallocHost" : "cudaMalloc");
	free(p);
	return cudaSuccess;
}

cudaError_t cudaMalloc(void **p, size_t bytes) { return alloc(p, bytes, 0); }
cudaError_t cudaFree(void *p) { return release(p, 0, "cudaFree"); }
cudaError_t cudaMallocHost(void **p, size_t bytes) { return alloc(p, bytes, 1); }
cudaError_t cudaFreeHost(void *p) { return release(p, 1, "cudaFreeHost"); }

/* ---- the scheduler ----------------------------------------------------------------- */

static uint64_t rng;
static long ran_items;  /* every item run so far */

/* A number below n from the seeded generator (xorshift64*). */
static size_t pick(size_t n)
{
	if (!rng) {
		const char *s = getenv("LMPIPE_EMU_SEED");
		rng = (s ? strtoull(s, NULL, 10) : 1) * 0x9e3779b97f4a7c15ull + 1;
	}
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return (size_t)((rng * 0x2545f4914f6cdd1dull) >> 33) % n;
}

static cudaStream_t stream_of(cudaStream_t s)
{
	if (s)
		return s;
	legacy[current_dev].dev = current_dev;
	return &legacy[current_dev];
}

static void push(cudaStream_t s, item *it)
{
	it->serial = ++s->queued;
	if (s->tail)
		s->tail->next = it;
	else
		s->head = it;
	s->tail = it;
}

static void pop(cudaStream_t s)
{
	item *it = s->head;
	s->head = it->next;
	if (!s->head)
		s->tail = NULL;
	s->done = it->serial;
	ran_items++;
	free(it->args);
	free(it);
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Run the head of s, if it can run: 1 it ran, 0 it waits, -1 it failed. */
static int advance(cudaStream_t s, int must)
{
	item *it = s->head;
	if (!it)
		return 0;
	switch (it->kind) {
	case RECORD:
		it->event->completed = it->gen;
		it->event->ms = now_ms();
		break;
	case WAIT:
		if (it->event->completed < it->gen)
			return 0;
		break;
	case WORK: {
		running_dev = s->dev;
		int r = it->step(it->args, must);
		running_dev = -1;
		if (r == EMU_WAIT)
			return 0;
		if (r == EMU_FAIL) {
			sticky = fail(cudaErrorLaunchFailure, "%s", lm_last_error());
			return -1;
		}
		break;
	}
	}
	pop(s);
	return 1;
}

/* Every stream with work, the legacy ones included; the count. */
static size_t busy_streams(cudaStream_t *out, size_t cap)
{
	size_t n = 0;
	for (int d = 0; d < MAX_DEVICES && n < cap; d++)
		if (legacy[d].head)
			out[n++] = &legacy[d];
	for (cudaStream_t s = streams; s && n < cap; s = s->next)
		if (s->head)
			out[n++] = s;
	return n;
}

#define MAX_STREAMS 256

/* Run queued work, the heads of the streams in a shuffled order, until
 * DONE(ctx) holds. A head that waits for another process (an NCCL
 * collective whose peers are not there yet) is passed over while anything
 * else can run; when nothing else can, one of them is made to wait. */
static cudaError_t drain(bool (*done)(const void *), const void *ctx)
{
	cudaStream_t all[MAX_STREAMS];
	while (sticky == cudaSuccess && !done(ctx)) {
		size_t n = busy_streams(all, MAX_STREAMS), ran = 0;
		for (int must = 0; must < 2 && !ran; must++)
			for (size_t left = n; left > 0 && !ran; left--) {
				size_t i = pick(left);
				cudaStream_t s = all[i];
				all[i] = all[left - 1];
				all[left - 1] = s;
				int r = advance(s, must);
				if (r < 0)
					return sticky;
				ran = (size_t)r;
			}
		if (!ran)
			return sticky = fail(cudaErrorLaunchFailure, "every stream waits for "
					     "another: nothing can run (a real GPU hangs here)");
	}
	return sticky;
}

static bool nothing_left(const void *ctx)
{
	cudaStream_t all[1];
	return busy_streams(all, 1) == 0;
}

cudaError_t emu_drain_all(void) { return drain(nothing_left, NULL); }

cudaError_t cudaDeviceSynchronize(void) { return emu_drain_all(); }

typedef struct { cudaStream_t s; long serial; } point;

static bool reached(const void *ctx)
{
	const point *p = ctx;
	return p->s->done >= p->serial;
}

/* Run until stream s has run its work queued so far. */
static cudaError_t drain_stream(cudaStream_t s)
{
	point p = {s, s->queued};
	return drain(reached, &p);
}

static cudaError_t enqueue(cudaStream_t s, item *it)
{
	if (sticky != cudaSuccess) {
		free(it->args);
		free(it);
		return sticky;
	}
	push(stream_of(s), it);
	return cudaSuccess;
}

static item *new_item(int kind)
{
	item *it = calloc(1, sizeof *it);
	if (!it) {
		fprintf(stderr, "cuda-emu: out of memory\n");
		abort();
	}
	it->kind = kind;
	return it;
}

int emu_launch(cudaStream_t s, const char *who, emu_step_fn step, const void *args,
	       size_t bytes)
{
	item *it = new_item(WORK);
	it->step = step;
	it->who = who;
	it->args = malloc(bytes ? bytes : 1);
	if (!it->args) {
		fprintf(stderr, "cuda-emu: out of memory\n");
		abort();
	}
	memcpy(it->args, args, bytes);
	if (enqueue(s, it) != cudaSuccess)
		return lm_fail("%s: %s", who, cudaGetErrorString(sticky));
	return 0;
}

/* ---- copies and memsets --------------------------------------------------------------- */

/* One side of a copy where its kind puts it: on the device, whole, or on
 * the host. */
static bool where_ok(const void *p, size_t bytes, bool device)
{
	return device ? emu_on_device(p, bytes) : emu_on_host(p);
}

typedef struct {
	void *dst;
	const void *src;
	size_t bytes;
	void *staged;  /* the source's bytes when queued (pageable host memory) */
	int value;     /* a memset's */
	int set;
} copy_args;

static int copy_step(void *p, int must)
{
	copy_args *a = p;
	if (a->set)
		memset(a->dst, a->value, a->bytes);
	else
		memmove(a->dst, a->staged ? a->staged : a->src, a->bytes);
	free(a->staged);
	a->staged = NULL;
	return EMU_DONE;
}

static const char *kind_names[] = {"HostToHost", "HostToDevice", "DeviceToHost",
				   "DeviceToDevice", "Default"};

static cudaError_t copy_check(void *dst, const void *src, size_t bytes,
			      enum cudaMemcpyKind kind, const char *who)
{
	if ((unsigned)kind > cudaMemcpyDefault)
		return fail(cudaErrorInvalidValue, "%s: no kind %d", who, (int)kind);
	bool src_dev = kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice;
	bool dst_dev = kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice;
	if (kind != cudaMemcpyDefault && !where_ok(src, bytes, src_dev))
		return fail(cudaErrorInvalidValue, "%s %s: the source is not %s", who,
			    kind_names[kind], src_dev ? "this device's memory (or too short)" :
			    "host memory");
	if (kind != cudaMemcpyDefault && !where_ok(dst, bytes, dst_dev))
		return fail(cudaErrorInvalidValue, "%s %s: the destination is not %s", who,
			    kind_names[kind], dst_dev ? "this device's memory (or too short)" :
			    "host memory");
	return cudaSuccess;
}

/* Queue a copy on s; a copy to pageable host memory returns only once it
 * is done, as in CUDA. */
static cudaError_t copy_async(void *dst, const void *src, size_t bytes, enum cudaMemcpyKind kind,
			      cudaStream_t s, const char *who)
{
	if (bytes == 0)
		return cudaSuccess;
	cudaError_t e = copy_check(dst, src, bytes, kind, who);
	if (e != cudaSuccess)
		return e;
	copy_args a = {dst, src, bytes, NULL, 0, 0};
	if (emu_on_host(src) && !pinned(src)) {
		a.staged = malloc(bytes);
		if (!a.staged)
			return fail(cudaErrorMemoryAllocation, "%s: no memory to stage", who);
		memcpy(a.staged, src, bytes);
	}
	if (emu_launch(s, who, copy_step, &a, sizeof a) != 0) {
		free(a.staged);
		return sticky;
	}
	if (emu_on_host(dst) && !pinned(dst))
		return drain_stream(stream_of(s));
	return cudaSuccess;
}

cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t bytes, enum cudaMemcpyKind kind,
			    cudaStream_t s)
{
	return copy_async(dst, src, bytes, kind, s, "cudaMemcpyAsync");
}

/* On the legacy stream, and the host waits for it (lmpipe's streams are
 * non-blocking: they are not waited for). */
cudaError_t cudaMemcpy(void *dst, const void *src, size_t bytes, enum cudaMemcpyKind kind)
{
	cudaError_t e = copy_async(dst, src, bytes, kind, NULL, "cudaMemcpy");
	return e != cudaSuccess ? e : drain_stream(stream_of(NULL));
}

cudaError_t cudaMemsetAsync(void *p, int value, size_t bytes, cudaStream_t s)
{
	if (!emu_on_device(p, bytes))
		return fail(cudaErrorInvalidValue,
			    "cudaMemset: not this device's memory (or too short)");
	copy_args a = {p, NULL, bytes, NULL, value, 1};
	return emu_launch(s, "cudaMemset", copy_step, &a, sizeof a) ? sticky : cudaSuccess;
}

cudaError_t cudaMemset(void *p, int value, size_t bytes)
{
	return cudaMemsetAsync(p, value, bytes, NULL);
}

/* ---- streams and events ------------------------------------------------------------------ */

cudaError_t cudaStreamCreateWithFlags(cudaStream_t *s, unsigned flags)
{
	*s = calloc(1, sizeof **s);
	if (!*s)
		return fail(cudaErrorMemoryAllocation, "no memory for a stream");
	(*s)->flags = flags;
	(*s)->dev = current_dev;
	(*s)->next = streams;
	if (streams)
		streams->prev = *s;
	streams = *s;
	return cudaSuccess;
}

cudaError_t cudaStreamCreate(cudaStream_t *s) { return cudaStreamCreateWithFlags(s, 0); }

/* Its work runs first (CUDA lets it finish after the call). */
cudaError_t cudaStreamDestroy(cudaStream_t s)
{
	if (!s)
		return fail(cudaErrorInvalidResourceHandle, "cudaStreamDestroy: the default stream");
	cudaError_t e = drain_stream(s);
	while (s->head)
		pop(s);
	if (s->prev)
		s->prev->next = s->next;
	else
		streams = s->next;
	if (s->next)
		s->next->prev = s->prev;
	free(s);
	return e;
}

cudaError_t cudaStreamSynchronize(cudaStream_t s) { return drain_stream(stream_of(s)); }

static bool one_more(const void *ctx) { return ran_items > *(const long *)ctx; }

/* Queries: one shuffled step of the device first, so that a caller
 * polling moves on. */
static cudaError_t step_once(void)
{
	long start = ran_items;
	cudaStream_t all[1];
	return busy_streams(all, 1) ? drain(one_more, &start) : sticky;
}

cudaError_t cudaStreamQuery(cudaStream_t s)
{
	s = stream_of(s);
	if (s->head && step_once() != cudaSuccess)
		return sticky;
	return s->head ? cudaErrorNotReady : cudaSuccess;
}

cudaError_t cudaStreamWaitEvent(cudaStream_t s, cudaEvent_t e, unsigned flags)
{
	if (!e)
		return fail(cudaErrorInvalidResourceHandle, "cudaStreamWaitEvent: no event");
	if (e->recorded == 0)  /* never recorded: nothing to wait for */
		return sticky;
	item *it = new_item(WAIT);
	it->event = e;
	it->gen = e->recorded;
	return enqueue(s, it);
}

cudaError_t cudaEventCreateWithFlags(cudaEvent_t *e, unsigned flags)
{
	*e = calloc(1, sizeof **e);
	if (!*e)
		return fail(cudaErrorMemoryAllocation, "no memory for an event");
	(*e)->flags = flags;
	return cudaSuccess;
}

cudaError_t cudaEventCreate(cudaEvent_t *e) { return cudaEventCreateWithFlags(e, 0); }

static bool event_done(const void *ctx)
{
	cudaEvent_t e = (cudaEvent_t)ctx;
	return e->completed >= e->recorded;
}

/* Its last record and the waits for it run first. */
cudaError_t cudaEventDestroy(cudaEvent_t e)
{
	if (!e)
		return fail(cudaErrorInvalidResourceHandle, "cudaEventDestroy: no event");
	cudaError_t r = emu_drain_all();
	free(e);
	return r;
}

cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t s)
{
	if (!e)
		return fail(cudaErrorInvalidResourceHandle, "cudaEventRecord: no event");
	item *it = new_item(RECORD);
	it->event = e;
	it->gen = ++e->recorded;
	return enqueue(s, it);
}

cudaError_t cudaEventSynchronize(cudaEvent_t e)
{
	if (!e)
		return fail(cudaErrorInvalidResourceHandle, "cudaEventSynchronize: no event");
	return drain(event_done, e);
}

cudaError_t cudaEventQuery(cudaEvent_t e)
{
	if (!e)
		return fail(cudaErrorInvalidResourceHandle, "cudaEventQuery: no event");
	if (!event_done(e) && step_once() != cudaSuccess)
		return sticky;
	return event_done(e) ? cudaSuccess : cudaErrorNotReady;
}

cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t start, cudaEvent_t end)
{
	if (!start || !end)
		return fail(cudaErrorInvalidResourceHandle, "cudaEventElapsedTime: no event");
	if (!event_done(start) || !event_done(end) || !start->recorded || !end->recorded)
		return fail(cudaErrorNotReady, "cudaEventElapsedTime: an event has not run");
	*ms = (float)(end->ms - start->ms);
	return cudaSuccess;
}
