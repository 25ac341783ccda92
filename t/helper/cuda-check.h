/*
 * cuda-check.h — what the CUDA parity subcommands of test-tool share:
 * random inputs that bf16 represents exactly (so the CPU twin and the
 * kernel see the same numbers), moving arrays to and from the device, and
 * the normalized error ||got - want|| / ||want|| with its verdict.
 *
 * Header-only (static functions), for test-cuda-*.c built with LMPIPE_CUDA.
 */
#ifndef LMPIPE_T_CUDA_CHECK_H
#define LMPIPE_T_CUDA_CHECK_H

#include "model/cuda/bf16.h"
#include "model/cuda/kernels.h"
#include "model/rng.h"

#include <cuda_runtime_api.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* n normals * scale + shift, rounded to bf16 (fresh for every check). */
static inline float *rand_bf16_floats(lm_rng *r, size_t n, double scale, double shift)
{
	float *x = malloc(n * sizeof *x);
	for (size_t i = 0; i < n; i++)
		x[i] = bf16_round((float)(shift + scale * rng_normal(r)));
	return x;
}

static inline void *dev_alloc(size_t bytes)
{
	void *p = NULL;
	if (cudaMalloc(&p, bytes ? bytes : 1) != cudaSuccess) {
		fprintf(stderr, "test-tool: cudaMalloc of %zu bytes failed\n", bytes);
		exit(1);
	}
	/* poison: 0xff bytes are NaN in bf16 and fp32, so an unwritten
	 * output fails the check */
	cudaMemset(p, 0xff, bytes);
	return p;
}

static inline bf16 *dev_bf16(const float *x, size_t n)
{
	bf16 *h = malloc(n * sizeof *h);
	for (size_t i = 0; i < n; i++)
		h[i] = bf16_from_float(x[i]);
	bf16 *d = dev_alloc(n * sizeof *d);
	cudaMemcpy(d, h, n * sizeof *h, cudaMemcpyHostToDevice);
	free(h);
	return d;
}

static inline float *dev_f32(const float *x, size_t n)
{
	float *d = dev_alloc(n * sizeof *d);
	cudaMemcpy(d, x, n * sizeof *d, cudaMemcpyHostToDevice);
	return d;
}

static inline int *dev_i32(const int *x, size_t n)
{
	int *d = dev_alloc(n * sizeof *d);
	cudaMemcpy(d, x, n * sizeof *d, cudaMemcpyHostToDevice);
	return d;
}

/* Device bf16 (n) to a new host float array (after a synchronize). */
static inline float *host_from_bf16(const bf16 *d, size_t n)
{
	bf16 *h = malloc(n * sizeof *h);
	float *x = malloc(n * sizeof *x);
	cudaDeviceSynchronize();
	cudaMemcpy(h, d, n * sizeof *h, cudaMemcpyDeviceToHost);
	for (size_t i = 0; i < n; i++)
		x[i] = bf16_to_float(h[i]);
	free(h);
	return x;
}

static inline float *host_from_f32(const float *d, size_t n)
{
	float *x = malloc(n * sizeof *x);
	cudaDeviceSynchronize();
	cudaMemcpy(x, d, n * sizeof *x, cudaMemcpyDeviceToHost);
	return x;
}

/* ||got - want|| / ||want|| in double; infinity if got has a NaN/inf. */
static inline double rel_err(const float *got, const float *want, size_t n)
{
	double num = 0, den = 0;
	for (size_t i = 0; i < n; i++) {
		if (!isfinite(got[i]))
			return INFINITY;
		double d = (double)got[i] - want[i];
		num += d * d;
		den += (double)want[i] * want[i];
	}
	return den > 0 ? sqrt(num / den) : sqrt(num);
}

/* Print one TAP-friendly line; returns 1 when the check fails. */
static inline int verdict(const char *what, double err, double threshold)
{
	int bad = !(err <= threshold);
	printf("%s %s: normalized error %.3g (threshold %.0e)\n", bad ? "FAIL" : "ok", what, err,
	       threshold);
	return bad;
}

/* Fail loudly on a CUDA error so a broken launch never passes silently. */
static inline int cuda_ok(const char *what)
{
	cudaError_t e = cudaDeviceSynchronize();
	if (e == cudaSuccess)
		e = cudaGetLastError();
	if (e != cudaSuccess) {
		printf("FAIL %s: %s\n", what, cudaGetErrorString(e));
		return 0;
	}
	return 1;
}

#endif
