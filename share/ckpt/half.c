/*
 * half.c — f16 and bf16 conversions (see half.h).
 */
#include "ckpt/half.h"

#include <math.h>
#include <string.h>

static uint32_t float_bits(float f)
{
	uint32_t u;
	memcpy(&u, &f, 4);
	return u;
}

float half_to_float(uint16_t h)
{
	uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 31, man = h & 1023, bits;
	if (exp == 0) {  /* zero or subnormal: man * 2^-24 */
		float v = (float)man * 0x1.0p-24f;
		return sign ? -v : v;
	}
	if (exp == 31)
		bits = sign | 0x7f800000u | (man << 13);
	else
		bits = sign | ((exp + 112) << 23) | (man << 13);
	float v;
	memcpy(&v, &bits, 4);
	return v;
}

uint16_t float_to_half(float f)
{
	uint32_t u = float_bits(f);
	uint16_t sign = (uint16_t)((u >> 16) & 0x8000);
	float a = fabsf(f);
	if (isnan(f))
		return sign | 0x7e00;
	if (a >= 65520.0f)       /* rounds past the largest finite half, 65504 */
		return sign | 0x7c00;
	if (a < 0x1.0p-14f) {    /* subnormal: a multiple of 2^-24, rounded to even */
		float q = nearbyintf(a * 0x1.0p24f);
		return sign | (uint16_t)q;
	}
	uint32_t au = u & 0x7fffffffu;
	/* drop 13 mantissa bits, rounding to nearest even; a carry into the
	 * exponent is the right answer */
	uint32_t rounded = au + 0xfffu + ((au >> 13) & 1);
	return sign | (uint16_t)((rounded >> 13) - (112u << 10));
}

float bf16_to_float(uint16_t h)
{
	uint32_t bits = (uint32_t)h << 16;
	float v;
	memcpy(&v, &bits, 4);
	return v;
}

uint16_t float_to_bf16(float f)
{
	uint32_t u = float_bits(f);
	if (isnan(f))
		return (uint16_t)((u >> 16) | 0x40);
	u += 0x7fffu + ((u >> 16) & 1);
	return (uint16_t)(u >> 16);
}
