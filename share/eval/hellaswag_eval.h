/*
 * hellaswag_eval.h — scoring HellaSwag items with a model (the choices of
 * hellaswag.h's styles); lm-eval and lm-train's periodic evaluation call it.
 *
 * Tokens: llmc encodes the context and " " + ending separately (llm.c);
 * harness encodes context + " " + ending whole and scores the tokens after
 * the context's own token count (lm-evaluation-harness's _encode_pair). The
 * four rows of an item go through the model as one batch.
 */
#ifndef LMPIPE_EVAL_HELLASWAG_EVAL_H
#define LMPIPE_EVAL_HELLASWAG_EVAL_H

#include "eval/hellaswag.h"
#include "eval/score.h"
#include "eval/tokenizer.h"

typedef struct {
	double loss[HS_CHOICES];   /* summed loss of the ending's tokens (nats) */
	int ntok[HS_CHOICES];      /* ending tokens */
	size_t nchar[HS_CHOICES];  /* ending characters (harness' normalizer) */
	int pred;                  /* lowest summed loss (first among equals) */
	int pred_norm;             /* llmc: lowest loss per token; harness: per character */
	int label;
} hs_result;

typedef struct {
	size_t n, acc, acc_norm;
} hs_total;

/* Score one item. -1 + lm_fail (naming the item's line) on failure. */
int hellaswag_eval_item(const score_model *m, lm_tokenizer *tok, const hs_item *it,
			hs_style style, hs_result *r);
void hellaswag_total_add(hs_total *t, const hs_result *r);

#endif
