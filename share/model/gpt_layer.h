/*
 * gpt_layer.h — inside share/model: the CPU model's layer forward over any
 * rows, shared by the full forward (gpt.c: B x T rows from position 0, the
 * activations kept for the backward) and the incremental one (gpt_kv.c: n
 * new rows at the cache's position, the attention over the cache).
 */
#ifndef LMPIPE_GPT_LAYER_H
#define LMPIPE_GPT_LAYER_H

#include "model/gpt.h"
#include "model/layer_plan.h"

#include <stdbool.h>

/* Where one layer reads and writes: BT = B*T rows at positions pos.. */
typedef struct {
	int B, T;
	int pos;                  /* the first row's position (RoPE's tables) */
	float *slot[SLOT_COUNT];  /* (BT, C) each; NULL for a slot the plan lacks */
	float *n1_mean, *n1_rstd; /* (BT) norm1's statistics (mean: LayerNorm only) */
	float *n2_mean, *n2_rstd; /* (BT) norm2's */
	float *qkv, *qkvr;        /* (BT, 3C); qkvr == qkv without RoPE */
	float *att;               /* (B, NH, T, T) probabilities, the full forward */
	float *atty;              /* (BT, C) attention output before its projection */
	float *fca, *fcg, *fch;   /* (BT, F) MLP pre-activations, activated hidden */
	gpt_kv *kv;               /* NULL: attention over these rows (causal);
				     else over the cache, which takes their k, v */
	bool matvec;              /* a few rows: matrix-vector products (matvec_forward) */
} gpt_layer_io;

/* Layer l's steps (m->plan) over the rows of io. */
void gpt_layer_forward(const gpt_model *m, int l, const gpt_layer_io *io);

/* The final norm (where the config has one, into lnf with its statistics)
 * and the LM head: logits (n, Vp) of the n rows of x. */
void gpt_head_forward(const gpt_model *m, float *logits, float *lnf, float *mean, float *rstd,
		      const float *x, int n, bool matvec);

/* The attention of n new rows over the cache (gpt_kv.c): stores their k and
 * v (after RoPE, from qkvr) at positions kv->pos.. of layer l, then atty
 * (n, C) = softmax(q k^T / sqrt(HS)) v over positions 0 .. pos+i. */
void gpt_kv_attend(gpt_kv *kv, int l, float *atty, const float *qkvr, int n, int C);

#endif
