/*
 * test-dist.c — test-tool dist: share/dist's view of the environment, and
 * its NCCL path on a GPU, for t7200.
 *
 *   test-tool dist env     "LAUNCHER RANK NRANKS LOCAL_RANK" from the
 *                          environment (dist_probe: nothing is started)
 *   test-tool dist id      a fresh NCCL id in hex (CUDA builds)
 *   test-tool dist devices the GPUs this process sees ("N devices"), then,
 *                          with two or more, a kernel on device 0 given
 *                          device 1's memory: "another device's memory:"
 *                          and the error its stream returns, or "accepted"
 *   test-tool dist streams wait|nowait
 *                          a copy on one stream, an event, a kernel on a
 *                          second stream reading what the copy wrote, with
 *                          or without waiting for the event: "fresh" if it
 *                          read the copy's values, else "stale"
 *   test-tool dist nccl    dist_init + dist_use_gpu, then every collective
 *                          through NCCL: the device mean of ~3M floats,
 *                          and the host ones staged through the device in
 *                          several chunks (the mean of 3M floats, the sum
 *                          of 1M doubles, a max, a 5 MiB broadcast, a
 *                          barrier); one "ok NAME" or "FAIL NAME" a line
 *
 * Rank r contributes f(i) + r, so the mean is f(i) + (R-1)/2 and the sum
 * R f(i) + R(R-1)/2: with one rank each must come back bit for bit; with R
 * ranks (under mpirun on R GPUs) within 1e-6 relative (ncclAvg scales each
 * term by 1/R before adding). Exit 1 if a check fails, 2 for a build
 * without CUDA where CUDA is needed.
 */
#include "dist/dist.h"
#include "util/error.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef LMPIPE_CUDA
#include "model/cuda/kernels.h"

#include <cuda_runtime_api.h>
#endif

static int env(void)
{
	dist_ctx d;
	if (dist_probe(&d) != 0)
		return fprintf(stderr, "test-tool: %s\n", lm_last_error()), 1;
	printf("%s %d %d %d\n", d.launcher, d.rank, d.nranks, dist_local_rank(&d));
	return 0;
}

static int id(void)
{
	char hex[DIST_NCCL_ID_HEX];
	if (dist_nccl_id_hex(hex) != 0)
		return fprintf(stderr, "test-tool: %s\n", lm_last_error()), 1;
	printf("%s\n", hex);
	return 0;
}

#ifdef LMPIPE_CUDA

#define N_FLOATS 3000017u        /* 12 MB: three staging chunks, an odd tail */
#define N_DOUBLES 1000003u       /* 8 MB: two chunks and a tail */
#define N_BYTES ((5u << 20) + 7) /* a broadcast of two chunks and a tail */

/* A value of position i exact in fp32 (a multiple of 1/8 below 2^13). */
static float f(size_t i)
{
	uint32_t x = (uint32_t)i * 2654435761u;
	return (float)(x >> 19) / 8.0f - 256.0f;
}

static bool close_to(double got, double want, double tol)
{
	return got == want || fabs(got - want) <= tol * fabs(want);
}

/* One verdict line; false if the check failed. */
static bool verdict(const char *name, size_t bad, size_t first)
{
	if (bad)
		printf("FAIL %s: %zu values differ, the first at %zu\n", name, bad, first);
	else
		printf("ok %s\n", name);
	return bad == 0;
}

static bool check_dev_mean(dist_ctx *d, double tol)
{
	float *h = malloc(N_FLOATS * sizeof *h), *g = NULL;
	size_t bad = 0, first = 0;
	/* two spans, as the gradients go: the back half, then the front */
	size_t offset[2] = {N_FLOATS / 3, 0}, count[2] = {N_FLOATS - N_FLOATS / 3, N_FLOATS / 3};
	for (size_t i = 0; h && i < N_FLOATS; i++)
		h[i] = f(i) + (float)d->rank;
	if (!h || cudaMalloc((void **)&g, N_FLOATS * sizeof *g) != cudaSuccess ||
	    cudaMemcpy(g, h, N_FLOATS * sizeof *g, cudaMemcpyHostToDevice) != cudaSuccess ||
	    dist_allreduce_mean_dev(d, g, offset, count, 2, NULL) != 0 ||
	    cudaMemcpy(h, g, N_FLOATS * sizeof *g, cudaMemcpyDeviceToHost) != cudaSuccess) {
		printf("FAIL device mean: %s\n", lm_last_error());
		return false;
	}
	for (size_t i = 0; i < N_FLOATS; i++)
		if (!close_to(h[i], f(i) + (d->nranks - 1) / 2.0, tol) && !bad++)
			first = i;
	cudaFree(g);
	free(h);
	return verdict("device mean", bad, first);
}

static bool check_host_mean(dist_ctx *d, double tol)
{
	float *h = malloc(N_FLOATS * sizeof *h);
	size_t bad = 0, first = 0;
	for (size_t i = 0; i < N_FLOATS; i++)
		h[i] = f(i) + (float)d->rank;
	if (dist_allreduce_mean(d, h, N_FLOATS) != 0) {
		printf("FAIL host mean: %s\n", lm_last_error());
		return false;
	}
	for (size_t i = 0; i < N_FLOATS; i++)
		if (!close_to(h[i], f(i) + (d->nranks - 1) / 2.0, tol) && !bad++)
			first = i;
	free(h);
	return verdict("host mean", bad, first);
}

static bool check_host_sum(dist_ctx *d)
{
	double *h = malloc(N_DOUBLES * sizeof *h), R = d->nranks;
	size_t bad = 0, first = 0;
	for (size_t i = 0; i < N_DOUBLES; i++)
		h[i] = f(i) + d->rank;
	if (dist_allreduce_sum_f64(d, h, N_DOUBLES) != 0) {
		printf("FAIL host sum: %s\n", lm_last_error());
		return false;
	}
	for (size_t i = 0; i < N_DOUBLES; i++)  /* small integers/8: exact in double */
		if (h[i] != R * f(i) + R * (R - 1) / 2 && !bad++)
			first = i;
	free(h);
	return verdict("host sum", bad, first);
}

static bool check_max_barrier(dist_ctx *d)
{
	int v = d->rank;
	if (dist_allreduce_max_int(d, &v) != 0 || dist_barrier(d) != 0) {
		printf("FAIL max and barrier: %s\n", lm_last_error());
		return false;
	}
	return verdict("max and barrier", v != d->nranks - 1, 0);
}

static bool check_broadcast(dist_ctx *d)
{
	unsigned char *b = malloc(N_BYTES);
	size_t bad = 0, first = 0;
	for (size_t i = 0; i < N_BYTES; i++)
		b[i] = d->rank == 0 ? (unsigned char)(i * 131 + 7) : 0;
	if (dist_broadcast(d, b, N_BYTES, 0) != 0) {
		printf("FAIL broadcast: %s\n", lm_last_error());
		return false;
	}
	for (size_t i = 0; i < N_BYTES; i++)
		if (b[i] != (unsigned char)(i * 131 + 7) && !bad++)
			first = i;
	free(b);
	return verdict("broadcast", bad, first);
}

static int nccl(void)
{
	dist_ctx d;
	if (dist_init(&d) != 0 || dist_use_gpu(&d) != 0)
		return fprintf(stderr, "test-tool: %s\n", lm_last_error()), 1;
	printf("%s\n", d.what);
	double tol = d.nranks == 1 ? 0 : 1e-6;
	bool ok = check_dev_mean(&d, tol);
	ok &= check_host_mean(&d, tol);
	ok &= check_host_sum(&d);
	ok &= check_max_barrier(&d);
	ok &= check_broadcast(&d);
	dist_finalize(&d);
	return ok ? 0 : 1;
}

static int devices(void)
{
	int n = 0;
	cudaError_t e = cudaGetDeviceCount(&n);
	if (e != cudaSuccess)
		return fprintf(stderr, "test-tool: %s\n", cudaGetErrorString(e)), 1;
	printf("%d devices\n", n);
	if (n < 2)
		return 0;
	float *other = NULL;
	bf16 *mine = NULL;
	cudaStream_t s;
	if (cudaSetDevice(1) != cudaSuccess || cudaMalloc((void **)&other, 64 * sizeof *other) ||
	    cudaMemset(other, 0, 64 * sizeof *other) || cudaDeviceSynchronize() ||
	    cudaSetDevice(0) != cudaSuccess || cudaMalloc((void **)&mine, 64 * sizeof *mine) ||
	    cudaStreamCreate(&s) != cudaSuccess)
		return fprintf(stderr, "test-tool: %s\n", cudaGetErrorString(cudaGetLastError())), 1;
	int rc = cu_float_to_bf16(mine, other, 64, s);
	e = cudaStreamSynchronize(s);
	if (rc != 0 || e != cudaSuccess)
		printf("another device's memory: %s\n", rc ? lm_last_error() : cudaGetErrorString(e));
	else
		printf("another device's memory: accepted\n");
	return 0;
}

#define N_STREAM 256

static int streams(bool wait)
{
	float h[N_STREAM], *x = NULL;
	bf16 *y = NULL, back[N_STREAM];
	cudaStream_t a, b;
	cudaEvent_t e;
	for (int i = 0; i < N_STREAM; i++)
		h[i] = (float)(i + 1);
	if (cudaMalloc((void **)&x, sizeof h) || cudaMalloc((void **)&y, sizeof back) ||
	    cudaMemset(x, 0, sizeof h) || cudaDeviceSynchronize() ||
	    cudaStreamCreateWithFlags(&a, cudaStreamNonBlocking) ||
	    cudaStreamCreateWithFlags(&b, cudaStreamNonBlocking) ||
	    cudaEventCreateWithFlags(&e, cudaEventDisableTiming) ||
	    cudaMemcpyAsync(x, h, sizeof h, cudaMemcpyHostToDevice, a) || cudaEventRecord(e, a) ||
	    (wait && cudaStreamWaitEvent(b, e, 0)) || cu_float_to_bf16(y, x, N_STREAM, b) ||
	    cudaMemcpyAsync(back, y, sizeof back, cudaMemcpyDeviceToHost, b))
		return fprintf(stderr, "test-tool: %s\n", cudaGetErrorString(cudaGetLastError())), 1;
	bool fresh = true;
	for (int i = 0; i < N_STREAM; i++)
		fresh &= bf16_to_float(back[i]) == h[i];
	printf("%s\n", fresh ? "fresh" : "stale");
	cudaEventDestroy(e);
	cudaStreamDestroy(a);
	cudaStreamDestroy(b);
	cudaFree(x);
	cudaFree(y);
	return 0;
}

#else

static int streams(bool wait)
{
	fprintf(stderr, "test-tool: built without CUDA\n");
	return 2;
}

static int nccl(void)
{
	fprintf(stderr, "test-tool: built without CUDA\n");
	return 2;
}

static int devices(void) { return nccl(); }

#endif

int cmd__dist(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "env"))
		return env();
	if (argc == 2 && !strcmp(argv[1], "id"))
		return id();
	if (argc == 2 && !strcmp(argv[1], "nccl"))
		return nccl();
	if (argc == 2 && !strcmp(argv[1], "devices"))
		return devices();
	if (argc == 3 && !strcmp(argv[1], "streams") &&
	    (!strcmp(argv[2], "wait") || !strcmp(argv[2], "nowait")))
		return streams(!strcmp(argv[2], "wait"));
	fprintf(stderr, "usage: test-tool dist env|id|nccl|devices|streams wait|nowait\n");
	return 2;
}
