/*
 * bf16.h — bfloat16 on the host side of the CUDA backend: the storage type
 * C code passes around, and the conversions (round to nearest even, as
 * __float2bfloat16_rn does on the device), so host and device round alike.
 */
#ifndef LMPIPE_CUDA_BF16_H
#define LMPIPE_CUDA_BF16_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* The bits of one bfloat16: the top half of a float32. In .cu files the
 * same memory is __nv_bfloat16. */
typedef uint16_t bf16;

static inline bf16 bf16_from_float(float f)
{
	uint32_t u;
	memcpy(&u, &f, sizeof u);
	if ((u & 0x7fffffffu) > 0x7f800000u)  /* NaN stays a (quiet) NaN */
		return (bf16)((u >> 16) | 0x40);
	u += 0x7fffu + ((u >> 16) & 1);       /* round to nearest, ties to even */
	return (bf16)(u >> 16);
}

static inline float bf16_to_float(bf16 h)
{
	uint32_t u = (uint32_t)h << 16;
	float f;
	memcpy(&f, &u, sizeof f);
	return f;
}

/* f rounded to the nearest bf16, as a float. */
static inline float bf16_round(float f) { return bf16_to_float(bf16_from_float(f)); }

#endif
