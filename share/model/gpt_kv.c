/*
 * gpt_kv.c — the incremental forward: a KV cache over one sequence, new
 * tokens appended at absolute positions, logits for the last one only. See
 * gpt.h ("the incremental forward").
 *
 * Each layer is gpt.c's layer_forward on n rows instead of B*T, with the
 * attention reading keys and values from the cache. The ops are the same
 * functions (matmul, norms, activations, RoPE on offset tables), so the
 * logits agree with gpt_forward's to float rounding.
 */
#include "model/gpt.h"
#include "model/vec.h"
#include "model/attention.h"
#include "model/embedding.h"
#include "model/gelu.h"
#include "model/layernorm.h"
#include "model/matmul.h"
#include "model/rmsnorm.h"
#include "model/rope.h"
#include "model/swiglu.h"
#include "util/error.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

/* Layer l's slice of a stacked tensor, NULL stays NULL. */
static inline const float *at(const float *p, int l, size_t n)
{
	return p ? p + (size_t)l * n : NULL;
}

/* A matrix-vector product this large (multiply-adds) or larger is split over
 * threads; a smaller one costs less than waking them (on a busy machine far
 * less). */
#define LINEAR_PAR_MIN (1L << 22)


/* out (n, OC) = inp (n, IC) W^T + b, as matmul_forward. A few rows (a
 * token a call) are a matrix-vector product: the packed GEMM would copy
 * all of W for one row, so each output channel is one dot product here
 * (threads over the channels), reading W once. The order of the sum
 * differs from the GEMM's: the logits agree to float rounding. */
static void linear(float *out, const float *inp, const float *w, const float *b, int n,
		   int IC, int OC)
{
	if (n > 4) {
		matmul_forward(out, inp, w, b, n, IC, OC);
		return;
	}
#pragma omp parallel for schedule(static) if ((long)OC * IC >= LINEAR_PAR_MIN)
	for (int o = 0; o < OC; o++)
		for (int i = 0; i < n; i++)
			out[(size_t)i * OC + o] = vec_dot(inp + (size_t)i * IC, w + (size_t)o * IC, IC) +
						  (b ? b[o] : 0.0f);
}

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

static void norm_rows(const gpt_model *m, gpt_kv *kv, float *out, const float *inp,
		      const float *w, const float *b, int n)
{
	const lm_config *c = &m->cfg;
	if (c->norm_kind == NORM_LAYERNORM)
		layernorm_forward(out, kv->mean, kv->rstd, inp, w, b, n, c->d_model,
				  (float)c->norm_eps);
	else
		rmsnorm_forward(out, kv->rstd, inp, w, n, c->d_model, (float)c->norm_eps);
}

static void add_rows(float *out, const float *resid, size_t n)
{
	for (size_t i = 0; i < n; i++)
		out[i] = out[i] + resid[i];
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

/* out = resid + attention(inp) for n new rows of layer l. */
static void attn_rows(gpt_model *m, gpt_kv *kv, int l, const float *inp, const float *resid,
		      float *out, int n)
{
	const lm_config *c = &m->cfg;
	int C = c->d_model, half = kv->HS / 2;
	float *qkvr = kv->qkv;
	linear(kv->qkv, inp, at(m->w.qkvw, l, 3 * (size_t)C * C), at(m->w.qkvb, l, 3 * C),
		       n, C, 3 * C);
	if (c->pos == POS_ROPE) {  /* the tables from row pos: absolute positions */
		rope_forward(kv->qkvr, kv->qkv, m->rope_cos + (size_t)kv->pos * half,
			     m->rope_sin + (size_t)kv->pos * half, 1, n, C, kv->NH);
		qkvr = kv->qkvr;
	}
	cache_store(kv, l, qkvr, n, C);
	size_t layer = (size_t)l * kv->NH * kv->max_T * kv->HS;
	attention_forward_cached(kv->atty, qkvr, kv->k + layer, kv->v + layer, kv->scores,
				 kv->score_stride, kv->pos, n, kv->max_T, C, kv->NH);
	linear(out, kv->atty, at(m->w.attprojw, l, (size_t)C * C),
		       at(m->w.attprojb, l, C), n, C, C);
	add_rows(out, resid, (size_t)n * C);
}

/* out = resid + mlp(inp) for n rows of layer l. */
static void mlp_rows(gpt_model *m, gpt_kv *kv, int l, const float *inp, const float *resid,
		     float *out, int n)
{
	const lm_config *c = &m->cfg;
	int C = c->d_model, F = c->d_ff;
	long nf = (long)n * F;
	linear(kv->fca, inp, at(m->w.fcw, l, (size_t)F * C), at(m->w.fcb, l, F), n, C, F);
	if (c->mlp == MLP_SWIGLU) {
		linear(kv->fcg, inp, at(m->w.fcgw, l, (size_t)F * C), at(m->w.fcgb, l, F),
			       n, C, F);
		swiglu_forward(kv->fch, kv->fca, kv->fcg, nf);
	} else if (c->mlp == MLP_SILU) {
		silu_forward(kv->fch, kv->fca, nf);
	} else {
		gelu_forward(kv->fch, kv->fca, nf);
	}
	linear(out, kv->fch, at(m->w.fcprojw, l, (size_t)C * F), at(m->w.fcprojb, l, C),
		       n, F, C);
	add_rows(out, resid, (size_t)n * C);
}

/* kv->x (n rows) through layer l, in place: gpt.c's layer_forward. */
static void layer_rows(gpt_model *m, gpt_kv *kv, int l, int n)
{
	const lm_config *c = &m->cfg;
	int C = c->d_model;
	const float *ln1w = at(m->w.ln1w, l, C), *ln1b = at(m->w.ln1b, l, C);
	const float *ln2w = at(m->w.ln2w, l, C), *ln2b = at(m->w.ln2b, l, C);
	switch (c->norm) {
	case NORM_PRE:   /* r1 = x + attn(norm1(x)), x' = r1 + mlp(norm2(r1)) */
		norm_rows(m, kv, kv->nrm, kv->x, ln1w, ln1b, n);
		attn_rows(m, kv, l, kv->nrm, kv->x, kv->r1, n);
		norm_rows(m, kv, kv->nrm, kv->r1, ln2w, ln2b, n);
		mlp_rows(m, kv, l, kv->nrm, kv->r1, kv->x, n);
		break;
	case NORM_POST:  /* r1 = x + attn(x), n1 = norm1(r1), x' = norm2(n1 + mlp(n1)) */
		attn_rows(m, kv, l, kv->x, kv->x, kv->r1, n);
		norm_rows(m, kv, kv->nrm, kv->r1, ln1w, ln1b, n);
		mlp_rows(m, kv, l, kv->nrm, kv->nrm, kv->r2, n);
		norm_rows(m, kv, kv->x, kv->r2, ln2w, ln2b, n);
		break;
	case NORM_NONE:  /* r1 = x + attn(x), x' = r1 + mlp(r1) */
		attn_rows(m, kv, l, kv->x, kv->x, kv->r1, n);
		mlp_rows(m, kv, l, kv->r1, kv->r1, kv->x, n);
		break;
	}
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
	for (int l = 0; l < c->n_layer; l++)
		layer_rows(m, kv, l, n_new);
	const float *last = kv->x + (size_t)(n_new - 1) * C;
	if (c->norm != NORM_NONE) {
		norm_rows(m, kv, kv->nrm, last, m->w.lnfw, m->w.lnfb, 1);
		last = kv->nrm;
	}
	linear(kv->logits, last, m->w.lm_head, NULL, 1, C, c->padded_vocab);
	kv->pos += n_new;
	*logits = kv->logits;
	return 0;
}
