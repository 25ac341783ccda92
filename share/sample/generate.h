/*
 * generate.h — the generation loop: prompt ids in, new ids out, one at a
 * time, through a callback (lm-sample streams them; lm-train's periodic
 * sample collects them).
 *
 * The loop asks a gen_model for logits: "append these tokens to the
 * sequence, give me the logits after the last". generate() runs it over the
 * model's KV cache (gpt_forward_next), so the prompt is one forward
 * (prefill) and each new token one position of work. A gen_model is a view
 * of a model on a device (model/device_model.h: gen_model_device), so
 * lm-sample on any device and lm-train's periodic sample run the same
 * loop.
 *
 * The window: a sequence may not outgrow the model's context (ctx). The
 * cache holds ids[base..len); when the next token would not fit, the loop
 * starts the cache again from the last ceil(ctx/2) tokens (one prefill) and
 * goes on, so every token sees between ceil(ctx/2) and ctx tokens before
 * it, at amortized O(1) prefills a token. A prompt longer than ctx keeps
 * its last ctx tokens, like the recompute path. Up to the first refill the
 * two paths see the same tokens; after it the recompute path
 * (generate_recompute: the whole last-ctx window forwarded again for every
 * token, O(n^2), kept for comparison and benchmarks) sees a full window
 * where the cache sees half of one or more.
 *
 * Both stop after max_new tokens, or after emitting the stop token (when
 * stop >= 0).
 */
#ifndef LMPIPE_SAMPLE_GENERATE_H
#define LMPIPE_SAMPLE_GENERATE_H

#include "model/device_model.h"
#include "sample/sampler.h"

#include <stddef.h>
#include <stdint.h>

/* Called with each new token; a nonzero return stops the loop (and is
 * returned by generate). */
typedef int (*generate_emit)(void *ctx, uint32_t token);

/* What the loop generates with: a sequence it appends to. */
typedef struct {
	void *impl;
	int ctx;   /* the most tokens one sequence may hold */
	/* Start an empty sequence. -1 + lm_fail on failure. */
	int (*reset)(void *impl);
	/* Append tokens[0..n) (n >= 1, the sequence stays <= ctx) and return
	 * the Vp logits after the last; NULL + lm_fail on failure. */
	const float *(*append)(void *impl, const int *tokens, int n);
} gen_model;

/* D (opened, on any device) as a gen_model, valid while D is open. */
void gen_model_device(gen_model *g, device_model *d);

/* Generate up to max_new tokens after prompt[0..n) (n >= 1) with G, the
 * window as above. Returns 0, the callback's nonzero value, or -1 + lm_fail. */
int generate_with(const gen_model *g, const uint32_t *prompt, int n, int max_new, int stop,
		  sampler *s, sample_rng *rng, generate_emit emit, void *ctx);

/* generate_with over M's KV cache (one of ctx positions, allocated here):
 * M on the CPU device. */
int generate(gpt_model *m, const uint32_t *prompt, int n, int max_new, int stop, sampler *s,
	     sample_rng *rng, generate_emit emit, void *ctx);

/* The cache-less loop: every token forwards the last min(length, ctx)
 * tokens again with gpt_forward. Same arguments and results as generate. */
int generate_recompute(gpt_model *m, const uint32_t *prompt, int n, int max_new, int stop,
		       sampler *s, sample_rng *rng, generate_emit emit, void *ctx);

/* Length of the longest prefix of s[0..n) that does not end inside an
 * incomplete UTF-8 sequence (what a stream may print now). Bytes that can
 * never complete (a stray continuation, an invalid lead) count as complete. */
size_t utf8_complete_prefix(const uint8_t *s, size_t n);

#endif
