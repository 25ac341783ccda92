/*
 * gpt.h — the model: GPT-2 and Llama (CS336) families and their ablations,
 * fp32 on the CPU, forward and backward. The readable reference every fast
 * path is tested against.
 *
 * Structs by lifetime (llama2.c): the config (the blueprint, model/config.h),
 * the weights (pointers into ONE allocation of num_params floats, so the
 * optimizer and an all-reduce run over one flat array), the gradients (the
 * same layout, allocated at the first gpt_zero_grad/gpt_backward), and the
 * activations for (B, T), allocated at the first forward of that shape.
 *
 *   gpt_model m;
 *   gpt_init(&m, &cfg, seed);                    // cfg after config_finish()
 *   gpt_forward(&m, inputs, targets, B, T, &loss);
 *   gpt_zero_grad(&m); gpt_backward(&m, 1.0f);   // grads in m.grads
 *   ... adamw_step(...) on m.params / m.grads ...
 *   gpt_free(&m);
 *
 * What a layer does is said once, in model/layer_plan.h: pre-norm
 *   n1 = norm1(x), r1 = x + attn(n1), n2 = norm2(r1), x' = r1 + mlp(n2);
 * post-norm  r1 = x + attn(x), n1 = norm1(r1), r2 = n1 + mlp(n1), x' = norm2(r2);
 * none drops the norms (and the final one). The final norm stays for pre and
 * post. The forward, the backward, the KV cache's forward and the CUDA model
 * all walk that plan.
 */
#ifndef LMPIPE_GPT_H
#define LMPIPE_GPT_H

#include "model/config.h"
#include "model/layer_plan.h"

#include <stddef.h>
#include <stdint.h>

/* The parameters, each a pointer into the flat array (NULL when the config
 * has no such tensor). Per-layer tensors are stacked: layer l of qkvw is
 * qkvw + l * 3C * C. Matrices are nn.Linear's (out, in). F = d_ff. */
typedef struct {
	float *wte;      /* (Vp, C) token embedding; rows V..Vp-1 stay zero */
	float *wpe;      /* (ctx, C) learned positions */
	float *ln1w;     /* (L, C) norm before attention (pre) / after (post) */
	float *ln1b;     /* (L, C) LayerNorm shift, with bias */
	float *qkvw;     /* (L, 3C, C) q, k, v projections stacked */
	float *qkvb;     /* (L, 3C) */
	float *attprojw; /* (L, C, C) attention output projection */
	float *attprojb; /* (L, C) */
	float *ln2w;     /* (L, C) */
	float *ln2b;     /* (L, C) */
	float *fcw;      /* (L, F, C) MLP in; with swiglu W1, the activated one */
	float *fcb;      /* (L, F) */
	float *fcgw;     /* (L, F, C) swiglu only: W3, the linear gate */
	float *fcgb;     /* (L, F) */
	float *fcprojw;  /* (L, C, F) MLP out */
	float *fcprojb;  /* (L, C) */
	float *lnfw;     /* (C) final norm */
	float *lnfb;     /* (C) */
	float *lm_head;  /* (Vp, C); == wte when the head is tied */
} gpt_weights;

/* What a parameter tensor is, for the checkpoint's naming. */
typedef enum {
	GPT_WTE, GPT_WPE, GPT_LN1W, GPT_LN1B, GPT_QKVW, GPT_QKVB, GPT_ATTPROJW, GPT_ATTPROJB,
	GPT_LN2W, GPT_LN2B, GPT_FCW, GPT_FCB, GPT_FCGW, GPT_FCGB, GPT_FCPROJW, GPT_FCPROJB,
	GPT_LNFW, GPT_LNFB, GPT_LM_HEAD, GPT_NUM_KINDS
} gpt_tensor_kind;

/* One parameter tensor of one layer (layer -1 for the global ones). */
typedef struct {
	char name[48];        /* ours, e.g. "h.0.qkvw"; the checkpoint maps to HF's */
	gpt_tensor_kind kind;
	int layer;
	int ndim;             /* 1 or 2 */
	int shape[2];
	size_t offset;        /* into params and grads, in floats */
	size_t numel;
	int decay;            /* weight decay applies: every 2-D tensor (see adamw.h) */
} gpt_tensor;

/* The activations of one forward pass, kept for the backward pass. */
typedef struct {
	float *x;          /* (L+1, B, T, C) the residual stream at each layer input */
	float *n1;         /* (L, B, T, C) norm1 output */
	float *n1_mean, *n1_rstd; /* (L, B, T) */
	float *qkv;        /* (L, B, T, 3C) */
	float *qkvr;       /* (L, B, T, 3C) after RoPE (== qkv without RoPE) */
	float *att;        /* (L, B, NH, T, T) softmax probabilities */
	float *atty;       /* (L, B, T, C) attention output before the projection */
	float *r1;         /* (L, B, T, C) x + attention branch */
	float *n2;         /* (L, B, T, C) norm2 output (pre) */
	float *n2_mean, *n2_rstd; /* (L, B, T) */
	float *fca;        /* (L, B, T, F) MLP pre-activation (W1 x) */
	float *fcg;        /* (L, B, T, F) W3 x (swiglu) */
	float *fch;        /* (L, B, T, F) activated hidden */
	float *r2;         /* (L, B, T, C) n1 + MLP branch (post-norm) */
	float *lnf;        /* (B, T, C) */
	float *lnf_mean, *lnf_rstd; /* (B, T) */
	float *logits;     /* (B, T, Vp); dlogits after gpt_backward */
	float *lse;        /* (B, T) */
	float *losses;     /* (B, T) */
	/* gradient scratch, reused layer to layer: dx, dn, dr are the plan's
	 * gradient buffers (layer_plan.h's back), dx the stream's at the head */
	float *dx;         /* (B, T, C) */
	float *dr;         /* (B, T, C) */
	float *dn;         /* (B, T, C) */
	float *datty;      /* (B, T, C) */
	float *dqkv;       /* (B, T, 3C) */
	float *dqkvr;      /* (B, T, 3C) */
	float *dfca, *dfcg, *dfch; /* (B, T, F) */
	float *mem;        /* the one allocation behind all of these */
} gpt_acts;

typedef struct {
	lm_config cfg;
	layer_plan plan;     /* a layer's steps for cfg (model/layer_plan.h) */
	size_t num_params;
	float *params;       /* (num_params) all weights, one allocation */
	float *grads;        /* (num_params) same layout; NULL until needed */
	gpt_weights w;       /* pointers into params */
	gpt_weights g;       /* the same pointers into grads */
	gpt_tensor *tensors; /* every parameter tensor, in storage order */
	int num_tensors;
	float *rope_cos, *rope_sin; /* (ctx, HS/2) */
	gpt_acts acts;
	int B, T;            /* the last forward's shape (0 until a forward) */
	long cap_bt, cap_btt;/* the activations fit any B, T with B*T and B*T*T
				within these (a smaller batch reuses them) */
	int *inputs, *targets; /* (B, T) copies from the last forward */
	int has_targets;
	float mean_loss;     /* of the last forward with targets */
} gpt_model;

/* Allocate the weights for a finished config, all zero (to load into). */
int gpt_alloc(gpt_model *m, const lm_config *cfg);
/* gpt_alloc, then GPT-2's initialization from SEED: matrices and embeddings
 * N(0, 0.02), residual projections N(0, 0.02 / sqrt(2L)), biases 0, norm
 * weights 1, the padded vocabulary rows 0. Same seed, same weights. */
int gpt_init(gpt_model *m, const lm_config *cfg, uint64_t seed);
void gpt_free(gpt_model *m);

/* Forward inputs (B, T) of token ids < V, T <= ctx. With targets (B, T),
 * *loss gets the mean cross-entropy; targets NULL computes logits only.
 * The logits (B, T, Vp) are in m->acts.logits (the first V of each row
 * count). -1 with an error for a bad token or shape, or out of memory. */
int gpt_forward(gpt_model *m, const int *inputs, const int *targets, int B, int T, float *loss);
/* 0 when (B, T) fits the model and every input (and target, unless NULL)
 * is a token id < V; -1 with an error naming the first that is not. */
int gpt_check_batch(const lm_config *c, const int *inputs, const int *targets, int B, int T);
/* Zero the gradients (allocating them at first use). */
int gpt_zero_grad(gpt_model *m);
/* Backward from the last forward (which had targets), ACCUMULATING into
 * m->grads, so micro-batches add up. dloss is d(objective)/d(mean loss):
 * 1 for one batch, 1/n for the mean of n accumulated micro-batches.
 * Overwrites the logits with their gradient. */
int gpt_backward(gpt_model *m, float dloss);

/* The tensor of that kind and layer (layer ignored for globals), or NULL. */
const gpt_tensor *gpt_find_tensor(const gpt_model *m, gpt_tensor_kind kind, int layer);

/* ---- the incremental forward (a KV cache, for sampling) ----------------------
 *
 * One sequence, fed in pieces: each call appends n_new tokens at the cache's
 * current position and returns the logits after the LAST of them (the final
 * norm and the C x Vp head run for that one row only). Every layer's keys and
 * values (after RoPE) are kept, so a new token costs one position of work plus
 * attention over the cached ones, not the whole prefix again:
 *
 *   gpt_kv kv;
 *   gpt_kv_alloc(&kv, &m, m.cfg.ctx);
 *   gpt_forward_next(&m, &kv, prompt, n, &logits);    // prefill
 *   gpt_forward_next(&m, &kv, &next, 1, &logits);     // then a token a call
 *   gpt_kv_reset(&kv);                                // a new sequence
 *   gpt_kv_free(&kv);
 *
 * Positions are absolute: the learned table is read at row pos + i and RoPE
 * rotates q and k by pos + i, so the logits after position t equal
 * gpt_forward's at t to float rounding (the same ops; a call of at most 4
 * tokens does its linear layers as matrix-vector products, which sum in
 * another order than the packed GEMM and read each weight once; t3003 checks every
 * family and switch). The cache holds at most max_T <= ctx positions; a call
 * that would pass it fails, and the caller decides how to go on (generate()
 * re-feeds a shorter window: see sample/generate.h). The model's weights
 * are read, never written, and m->acts is untouched, so sampling between
 * training steps changes no training state. */
typedef struct {
	int max_T;          /* positions the cache holds */
	int pos;            /* positions filled so far */
	int cap_n;          /* the scratch fits this many new tokens a call */
	int L, NH, HS;
	float *k, *v;       /* (L, NH, max_T, HS) each */
	float *logits;      /* (Vp) after the last token fed */
	/* scratch for cap_n rows: the residual stream and a layer's buffers */
	float *x, *nrm, *qkv, *qkvr, *atty, *r1, *r2, *fca, *fcg, *fch;
	float *mean, *rstd; /* (cap_n) */
	float *scores;      /* (threads, max_T) attention probabilities */
	long score_stride;
	int threads;        /* the scores fit this many threads */
	float *scratch;     /* the one allocation behind the scratch */
} gpt_kv;

/* A cache of max_T positions (1..ctx) for model m, empty. */
int gpt_kv_alloc(gpt_kv *kv, const gpt_model *m, int max_T);
void gpt_kv_free(gpt_kv *kv);
/* Forget the cached positions (a new sequence); keeps the memory. */
void gpt_kv_reset(gpt_kv *kv);
/* Append tokens[0..n_new) at positions kv->pos.. and return, in *logits,
 * the Vp logits after the last (kv->logits; valid until the next call).
 * -1 with an error for a bad token, n_new < 1, or a full cache. */
int gpt_forward_next(gpt_model *m, gpt_kv *kv, const int *tokens, int n_new,
		     const float **logits);

#endif
