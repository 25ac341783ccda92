/*
 * generate.c — the generation loop over a KV cache (and the cache-less one,
 * kept for comparison), and the UTF-8 hold-back of a stream. See
 * generate.h.
 */
#include "sample/generate.h"

#include "util/error.h"

#include <stdlib.h>

/* ---- a model on a device as a gen_model ------------------------------------ */

static int device_reset(void *impl)
{
	device_model *d = impl;
	return d->gen_reset(d);
}

static const float *device_append(void *impl, const int *tokens, int n)
{
	device_model *d = impl;
	return d->gen_append(d, tokens, n);
}

void gen_model_device(gen_model *g, device_model *d)
{
	*g = (gen_model){.impl = d, .ctx = d->model->cfg.ctx, .reset = device_reset,
			 .append = device_append};
}

/* ---- the loop ------------------------------------------------------------- */

int generate_with(const gen_model *g, const uint32_t *prompt, int n, int max_new, int stop,
		  sampler *s, sample_rng *rng, generate_emit emit, void *ctx)
{
	if (n < 1)
		return lm_fail("an empty prompt (give at least one token)");
	if (g->ctx < 1)
		return lm_fail("a model of context %d cannot generate", g->ctx);
	int *ids = malloc((size_t)(n + max_new) * sizeof *ids);
	if (!ids)
		return lm_fail("out of memory");
	for (int i = 0; i < n; i++)
		ids[i] = (int)prompt[i];
	/* the cache holds ids[base..base+cached); ids[len-1] is the newest */
	int len = n, base = n > g->ctx ? n - g->ctx : 0, cached = 0, rc = 0;
	int keep = g->ctx - g->ctx / 2;
	if (g->reset(g->impl) != 0)
		rc = -1;
	while (rc == 0 && len < n + max_new) {
		if (len - base > g->ctx) {   /* full: start again from the last half */
			base = len - keep;
			cached = 0;
			if (g->reset(g->impl) != 0) {
				rc = -1;
				break;
			}
		}
		const float *logits = g->append(g->impl, ids + base + cached, len - base - cached);
		if (!logits) {
			rc = -1;
			break;
		}
		cached = len - base;
		int next = sampler_pick(s, logits, rng);
		ids[len++] = next;
		rc = emit(ctx, (uint32_t)next);
		if (next == stop)
			break;
	}
	free(ids);
	return rc;
}

int generate(gpt_model *m, const uint32_t *prompt, int n, int max_new, int stop, sampler *s,
	     sample_rng *rng, generate_emit emit, void *ctx)
{
	device_model d;
	gen_model g;
	if (device_model_open(&d, "cpu", m) != 0)
		return -1;
	gen_model_device(&g, &d);
	int rc = generate_with(&g, prompt, n, max_new, stop, s, rng, emit, ctx);
	device_model_close(&d);
	return rc;
}

int generate_recompute(gpt_model *m, const uint32_t *prompt, int n, int max_new, int stop,
		       sampler *s, sample_rng *rng, generate_emit emit, void *ctx)
{
	if (n < 1)
		return lm_fail("an empty prompt (give at least one token)");
	int cap = n + max_new, ctxlen = m->cfg.ctx, Vp = m->cfg.padded_vocab;
	int *ids = malloc((size_t)cap * sizeof *ids);
	if (!ids)
		return lm_fail("out of memory");
	for (int i = 0; i < n; i++)
		ids[i] = (int)prompt[i];
	int len = n, rc = 0;
	while (rc == 0 && len < n + max_new) {
		int T = len < ctxlen ? len : ctxlen;
		if (gpt_forward(m, ids + len - T, NULL, 1, T, NULL) != 0) {
			rc = -1;
			break;
		}
		int next = sampler_pick(s, m->acts.logits + (size_t)(T - 1) * Vp, rng);
		ids[len++] = next;
		rc = emit(ctx, (uint32_t)next);
		if (next == stop)
			break;
	}
	free(ids);
	return rc;
}

size_t utf8_complete_prefix(const uint8_t *s, size_t n)
{
	/* look back at most 3 bytes for the lead byte of the last sequence */
	for (size_t k = 1; k <= 3 && k <= n; k++) {
		uint8_t c = s[n - k];
		if ((c & 0xC0) == 0x80)
			continue;      /* a continuation byte: keep looking */
		size_t need = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 && c < 0xF0 ? 3
			    : c >= 0xC2 && c < 0xE0 ? 2 : 1;
		return need > k ? n - k : n;
	}
	return n;
}
