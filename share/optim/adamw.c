/*
 * adamw.c — AdamW step, gradient norm and clipping. Elementwise work is
 * split over threads; the norm's partial sums are combined in a fixed order
 * so the same gradients always give the same norm.
 */
#include "optim/adamw.h"
#include "util/error.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

int adamw_init(adamw *o, size_t n, const adamw_span *spans, int nspans, adamw_hparams hp)
{
	memset(o, 0, sizeof *o);
	o->hp = hp;
	o->n = n;
	o->m = calloc(n ? n : 1, sizeof(float));
	o->v = calloc(n ? n : 1, sizeof(float));
	o->decay = calloc(n ? n : 1, 1);
	if (!o->m || !o->v || !o->decay) {
		adamw_free(o);
		return lm_fail("out of memory for the optimizer state of %zu parameters", n);
	}
	size_t covered = 0;
	for (int i = 0; i < nspans; i++) {
		if (spans[i].offset + spans[i].numel > n) {
			adamw_free(o);
			return lm_fail("optimizer span %d beyond the %zu parameters", i, n);
		}
		memset(o->decay + spans[i].offset, spans[i].decay ? 1 : 0, spans[i].numel);
		covered += spans[i].numel;
	}
	if (covered != n) {
		adamw_free(o);
		return lm_fail("optimizer spans cover %zu of %zu parameters", covered, n);
	}
	return 0;
}

void adamw_free(adamw *o)
{
	free(o->m);
	free(o->v);
	free(o->decay);
	memset(o, 0, sizeof *o);
}

void adamw_step(adamw *o, float *params, const float *grads, double lr)
{
	o->step++;
	const float b1 = (float)o->hp.beta1, b2 = (float)o->hp.beta2, eps = (float)o->hp.eps;
	const float decay = (float)(1.0 - lr * o->hp.weight_decay);
	const float step_size = (float)(lr / (1.0 - pow(o->hp.beta1, (double)o->step)));
	const float bc2_sqrt = (float)sqrt(1.0 - pow(o->hp.beta2, (double)o->step));
	float *m = o->m, *v = o->v;
	size_t n = o->n;
	const unsigned char *dmask = o->decay;
#pragma omp parallel for schedule(static) if (n >= 65536)
	for (size_t i = 0; i < n; i++) {
		float g = grads[i], p = params[i];
		if (dmask[i])
			p *= decay;
		m[i] = b1 * m[i] + (1.0f - b1) * g;
		v[i] = b2 * v[i] + (1.0f - b2) * g * g;
		params[i] = p - step_size * m[i] / (sqrtf(v[i]) / bc2_sqrt + eps);
	}
}

#define NORM_CHUNK 65536

double grad_norm(const float *grads, size_t n)
{
	size_t chunks = (n + NORM_CHUNK - 1) / NORM_CHUNK;
	double *part = calloc(chunks ? chunks : 1, sizeof(double));
	double total = 0.0;
	if (!part) {  /* fall back to one thread, same answer */
		for (size_t i = 0; i < n; i++)
			total += (double)grads[i] * grads[i];
		return sqrt(total);
	}
#pragma omp parallel for schedule(static) if (n >= 65536)
	for (size_t c = 0; c < chunks; c++) {
		size_t end = (c + 1) * NORM_CHUNK < n ? (c + 1) * NORM_CHUNK : n;
		double s = 0.0;
		for (size_t i = c * NORM_CHUNK; i < end; i++)
			s += (double)grads[i] * grads[i];
		part[c] = s;
	}
	for (size_t c = 0; c < chunks; c++)
		total += part[c];
	free(part);
	return sqrt(total);
}

double grad_clip_coef(double norm, double max_norm)
{
	double coef = max_norm / (norm + 1e-6);
	return max_norm > 0 && coef < 1.0 ? coef : 1.0;
}

double grad_clip(float *grads, size_t n, double max_norm)
{
	double norm = grad_norm(grads, n);
	double coef = grad_clip_coef(norm, max_norm);
	if (coef < 1.0) {
		float s = (float)coef;
#pragma omp parallel for schedule(static) if (n >= 65536)
		for (size_t i = 0; i < n; i++)
			grads[i] *= s;
	}
	return norm;
}
