/*
 * embedding.c — embedding lookup and its scatter-add backward.
 *
 * Two positions may hold the same token, so the backward is a scatter-add.
 * Each thread owns a block of channels and visits the tokens in order: no
 * races and a fixed summation order.
 */
#include "model/embedding.h"
#include "model/par.h"

#include <string.h>

void embedding_forward(float *out, const int *tokens, const float *wte, const float *wpe,
		       int B, int T, int C)
{
#pragma omp parallel for schedule(static) if ((long)B * T * C >= PAR_MIN_WORK)
	for (long bt = 0; bt < (long)B * T; bt++) {
		float *o = out + bt * C;
		const float *e = wte + (long)tokens[bt] * C;
		if (wpe) {
			const float *p = wpe + (bt % T) * C;
			for (int c = 0; c < C; c++)
				o[c] = e[c] + p[c];
		} else {
			memcpy(o, e, sizeof(float) * (size_t)C);
		}
	}
}

#define EMB_BLOCK 32

void embedding_backward(float *dwte, float *dwpe, const float *dout, const int *tokens,
			int B, int T, int C)
{
#pragma omp parallel for schedule(static) if ((long)B * T * C >= PAR_MIN_WORK)
	for (int c0 = 0; c0 < C; c0 += EMB_BLOCK) {
		int c1 = C - c0 < EMB_BLOCK ? C : c0 + EMB_BLOCK;
		for (long bt = 0; bt < (long)B * T; bt++) {
			const float *d = dout + bt * C;
			float *e = dwte + (long)tokens[bt] * C;
			for (int c = c0; c < c1; c++)
				e[c] += d[c];
			if (dwpe) {
				float *p = dwpe + (bt % T) * C;
				for (int c = c0; c < c1; c++)
					p[c] += d[c];
			}
		}
	}
}
