/*
 * generate.c — the cache-less generation loop and the UTF-8 hold-back of a
 * stream. See generate.h.
 */
#include "sample/generate.h"

#include "util/error.h"

#include <stdlib.h>

int generate(gpt_model *m, const uint32_t *prompt, int n, int max_new, int stop, sampler *s,
	     sample_rng *rng, generate_emit emit, void *ctx)
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
