/*
 * accounting.h — parameters, FLOPs and memory of a model, from its config.
 *
 * The numbers one checks before spending GPU hours (CS336 assignment 1,
 * "Transformer LM resource accounting"):
 *   - parameters by component, the real (unpadded) vocabulary;
 *   - forward matmul FLOPs of one sequence of T tokens, 2mnp a product
 *     (an m x n matrix times an n x p one), attention over the full T x T;
 *   - training FLOPs = 3 x forward (backward = 2 x forward), plus AdamW;
 *   - fp32 AdamW memory: parameters, gradients, two moments (4 bytes each),
 *     and the activations of one batch element counted as CS336 counts them.
 * lm-stat prints these; lm-train computes its MFU from the same count.
 */
#ifndef LMPIPE_ACCOUNTING_H
#define LMPIPE_ACCOUNTING_H

#include "model/config.h"

#include <stdint.h>

/* FLOPs of one AdamW update a parameter: m (3), v (4), bias corrections
 * (2), sqrt, add eps, divide (3), weight decay and step (3). */
#define ADAMW_FLOPS_PER_PARAM 15
#define FP32_BYTES 4

typedef struct {
	/* parameters */
	uint64_t p_token_embedding;   /* V C */
	uint64_t p_position_embedding;/* T_max C, learned positions only */
	uint64_t p_attention;         /* L (4 C^2 [+ 4C]) */
	uint64_t p_mlp;               /* L (2 or 3) C d_ff [+ biases] */
	uint64_t p_norms;             /* L x 2 norms + final norm */
	uint64_t p_lm_head;           /* V C when untied */
	uint64_t p_total;
	/* forward matmul FLOPs, one sequence of T tokens */
	int T;
	double f_attention_proj;      /* QKV and output projections */
	double f_attention_scores;    /* Q K^T */
	double f_attention_values;    /* softmax(..) V */
	double f_mlp;
	double f_lm_head;
	double f_total;
	/* memory */
	double state_bytes;           /* parameters + gradients + m + v, fp32 */
	double activation_bytes;      /* one batch element of T tokens, fp32 */
} lm_accounting;

void accounting_compute(const lm_config *c, int T, lm_accounting *a);

static inline double accounting_forward_flops_per_token(const lm_accounting *a)
{
	return a->f_total / a->T;
}
/* Training: forward + backward (2 x forward). */
static inline double accounting_train_flops_per_token(const lm_accounting *a)
{
	return 3.0 * a->f_total / a->T;
}
static inline double accounting_adamw_flops(const lm_accounting *a)
{
	return (double)ADAMW_FLOPS_PER_PARAM * (double)a->p_total;
}
/* Largest batch (sequences of T) whose training state fits mem bytes; 0 if
 * none. A whole number in a double: a huge memory gives a huge batch, which
 * no integer type need hold. */
double accounting_max_batch(const lm_accounting *a, double mem_bytes);

#endif
