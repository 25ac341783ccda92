/*
 * generate.h — the generation loop: prompt ids in, new ids out, one at a
 * time, through a callback (lm-sample streams them; lm-train's periodic
 * sample collects them).
 *
 * The model has no incremental (KV-cache) forward yet, so each step
 * forwards the whole window again: the last min(length, ctx) tokens, the
 * next token read from the last position's logits. Correct and simple;
 * O(n^2) in the window. Stops after max_new tokens, or after emitting
 * the stop token (when stop >= 0).
 */
#ifndef LMPIPE_SAMPLE_GENERATE_H
#define LMPIPE_SAMPLE_GENERATE_H

#include "model/gpt.h"
#include "sample/sampler.h"

#include <stdint.h>

/* Called with each new token; a nonzero return stops the loop (and is
 * returned by generate). */
typedef int (*generate_emit)(void *ctx, uint32_t token);

/* Generate up to max_new tokens after prompt[0..n) (n >= 1). Returns 0, the
 * callback's nonzero value, or -1 + lm_fail. */
int generate(gpt_model *m, const uint32_t *prompt, int n, int max_new, int stop, sampler *s,
	     sample_rng *rng, generate_emit emit, void *ctx);

/* Length of the longest prefix of s[0..n) that does not end inside an
 * incomplete UTF-8 sequence (what a stream may print now). Bytes that can
 * never complete (a stray continuation, an invalid lead) count as complete. */
size_t utf8_complete_prefix(const uint8_t *s, size_t n);

#endif
