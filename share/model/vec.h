/*
 * vec.h — the one dot product the CPU model's attention paths share.
 *
 * A float sum does not vectorize by itself (the order would change); this
 * fixes one order — eight running sums in one 8-float vector, then the tail —
 * the same on every run and in every caller, so the full forward and the
 * KV-cache forward add the same way.
 */
#ifndef LMPIPE_MODEL_VEC_H
#define LMPIPE_MODEL_VEC_H

#include <string.h>

typedef float v8 __attribute__((vector_size(32)));

static inline float vec_dot(const float *a, const float *b, int n)
{
	v8 acc = {0};
	int i = 0;
	for (; i + 8 <= n; i += 8) {
		v8 x, y;
		memcpy(&x, a + i, sizeof x);
		memcpy(&y, b + i, sizeof y);
		acc += x * y;
	}
	float s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
	for (; i < n; i++)
		s += a[i] * b[i];
	return s;
}

#endif
