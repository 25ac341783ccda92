/*
 * gpt_kv.c — the incremental forward: a KV cache over one sequence, new
 * tokens appended at absolute positions, logits for the last one only. See
 * gpt.h ("the incremental forward").
 *
 * Each layer is gpt.c's gpt_layer_forward (model/gpt_layer.h) on the n new
 * rows instead of B*T, RoPE's tables read from the cache's position and the
 * attention reading keys and values from the cache (gpt_kv_attend, here).
 * The ops are the same functions, so the logits agree with gpt_forward's to
 * float rounding (a few rows a call use matrix-vector products, which sum
 * in another order than the GEMM).
 */
#include "model/gpt.h"
#include "model/gpt_layer.h"
#include "model/attention.h"
#include "model/embedding.h"
#include "util/error.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

/* The scratch for n rows, and the attention scores for this many threads. */
static int scratch_alloc(gpt_kv *kv, const lm_config *c, int n)
{
	size_t C = (size_t)c->d_model, F = (size_t)c->d_ff, N = (size_t)n;
	int threads = omp_get_max_threads();
	struct { float **p; size_t n; } bufs[] = {
		{&kv->x, N * C}, {&kv->nrm, N * C}, {&kv->qkv, N * 3 * C}, {&kv->qkvr, N * 3 * C},
		{&kv->atty, N * C}, {&kv->r1, N * C}, {&kv->r2, N * C}, {&kv->fca, N * F},
		{&kv->fcg, N * F}, {&kv->fch, N * F}, {&kv->mean, N}, {&kv->rstd, N},
		{&kv->scores, (size_t)threads * (size_t)kv->max_T},
	};
	size_t total = 0;
	for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
		total += (bufs[i].n + 15) & ~(size_t)15;
	free(kv->scratch);
	kv->scratch = aligned_alloc(64, total * sizeof(float));
	if (!kv->scratch) {
		kv->cap_n = 0;
		return lm_fail("out of memory for the KV cache's scratch (%d tokens)", n);
	}
	float *p = kv->scratch;
	for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) {
		*bufs[i].p = p;
		p += (bufs[i].n + 15) & ~(size_t)15;
	}
	kv->cap_n = n;
	kv->score_stride = kv->max_T;
	kv->threads = threads;
	return 0;
}

int gpt_kv_alloc(gpt_kv *kv, const gpt_model *m, int max_T)
{
	const lm_config *c = &m->cfg;
	memset(kv, 0, sizeof *kv);
	if (max_T < 1 || max_T > c->ctx)
		return lm_fail("a KV cache of %d positions does not fit the model (context %d)",
			       max_T, c->ctx);
	kv->max_T = max_T;
	kv->L = c->n_layer;
	kv->NH = c->n_head;
	kv->HS = config_head_size(c);
	size_t n = (size_t)kv->L * (size_t)max_T * (size_t)c->d_model;
	kv->k = malloc(n * sizeof(float));
	kv->v = malloc(n * sizeof(float));
	kv->logits = malloc((size_t)c->padded_vocab * sizeof(float));
	if (!kv->k || !kv->v || !kv->logits || scratch_alloc(kv, c, 1) != 0) {
		gpt_kv_free(kv);
		return lm_fail("out of memory for a KV cache of %d positions", max_T);
	}
	return 0;
}

void gpt_kv_free(gpt_kv *kv)
{
	free(kv->k);
	free(kv->v);
	free(kv->logits);
	free(kv->scratch);
	memset(kv, 0, sizeof *kv);
}

void gpt_kv_reset(gpt_kv *kv)
{
	kv->pos = 0;
}

/* Store the k and v thirds of n qkv rows at positions pos.. of layer l. */
static void cache_store(gpt_kv *kv, int l, const float *qkv, int n, int C)
{
	int HS = kv->HS;
	for (int i = 0; i < n; i++)
		for (int h = 0; h < kv->NH; h++) {
			size_t dst = (((size_t)l * kv->NH + h) * kv->max_T + kv->pos + i) * HS;
			const float *row = qkv + (size_t)i * 3 * C + h * HS;
			memcpy(kv->k + dst, row + C, (size_t)HS * sizeof(float));
			memcpy(kv->v + dst, row + 2 * C, (size_t)HS * sizeof(float));
		}
}

void gpt_kv_attend(gpt_kv *kv, int l, float *atty, const float *qkvr, int n, int C)
{
	cache_store(kv, l, qkvr, n, C);
	size_t layer = (size_t)l * kv->NH * kv->max_T * kv->HS;
	attention_forward_cached(atty, qkvr, kv->k + layer, kv->v + layer, kv->scores,
				 kv->score_stride, kv->pos, n, kv->max_T, C, kv->NH);
}

/* n new rows at the cache's position, in the scratch: the layer works in
 * place (x' overwrites x, which no later step reads; n2 reuses n1's rows). */
static void layer_io(const gpt_model *m, gpt_kv *kv, int n, gpt_layer_io *io)
{
	*io = (gpt_layer_io){
		.B = 1, .T = n, .pos = kv->pos,
		.slot = {
			[SLOT_X] = kv->x, [SLOT_N1] = kv->nrm, [SLOT_R1] = kv->r1,
			[SLOT_N2] = kv->nrm, [SLOT_R2] = kv->r2, [SLOT_XO] = kv->x,
		},
		.n1_mean = kv->mean, .n1_rstd = kv->rstd, .n2_mean = kv->mean, .n2_rstd = kv->rstd,
		.qkv = kv->qkv, .qkvr = m->plan.rope ? kv->qkvr : kv->qkv, .atty = kv->atty,
		.fca = kv->fca, .fcg = kv->fcg, .fch = kv->fch,
		.kv = kv, .matvec = true,
	};
}

static int check_tokens(const gpt_model *m, const gpt_kv *kv, const int *tokens, int n)
{
	if (n < 1)
		return lm_fail("no tokens to append");
	if (n > kv->max_T - kv->pos)
		return lm_fail("%d more tokens do not fit the KV cache (%d of %d positions used)",
			       n, kv->pos, kv->max_T);
	for (int i = 0; i < n; i++)
		if (tokens[i] < 0 || tokens[i] >= m->cfg.vocab_size)
			return lm_fail("token id %d is outside the vocabulary (%d)", tokens[i],
				       m->cfg.vocab_size);
	return 0;
}

int gpt_forward_next(gpt_model *m, gpt_kv *kv, const int *tokens, int n_new,
		     const float **logits)
{
	const lm_config *c = &m->cfg;
	if (check_tokens(m, kv, tokens, n_new) != 0)
		return -1;
	if ((n_new > kv->cap_n || omp_get_max_threads() > kv->threads) &&
	    scratch_alloc(kv, c, n_new > kv->cap_n ? n_new : kv->cap_n) != 0)
		return -1;
	int C = c->d_model;
	const float *wpe = m->w.wpe ? m->w.wpe + (size_t)kv->pos * C : NULL;
	embedding_forward(kv->x, tokens, m->w.wte, wpe, 1, n_new, C);
	gpt_layer_io io;
	layer_io(m, kv, n_new, &io);
	for (int l = 0; l < c->n_layer; l++)
		gpt_layer_forward(m, l, &io);
	gpt_head_forward(m, kv->logits, kv->nrm, kv->mean, kv->rstd,
			 kv->x + (size_t)(n_new - 1) * C, 1, true);
	kv->pos += n_new;
	*logits = kv->logits;
	return 0;
}
