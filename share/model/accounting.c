/*
 * accounting.c — count parameters, FLOPs and memory from a config.
 *
 * Checks (DESIGN.md, tested in t/t6000): gpt2 124,439,808 parameters;
 * the llama family at GPT-2 XL's shape (L 48, C 1600, NH 25, d_ff 6400,
 * V 50257, T 1024) 2,127,057,600 parameters and 4,513,336,524,800 forward
 * matmul FLOPs.
 */
#include "model/accounting.h"

#include <math.h>
#include <string.h>

/* ---- parameters ---------------------------------------------------------- */

/* One norm's parameters: a scale, and a shift for LayerNorm with biases. */
static uint64_t norm_params(const lm_config *c)
{
	if (c->norm == NORM_NONE)
		return 0;
	bool shift = c->norm_kind == NORM_LAYERNORM && c->bias;
	return (uint64_t)c->d_model * (shift ? 2 : 1);
}

static uint64_t mlp_matrices(const lm_config *c)
{
	return config_mlp_gated(c) ? 3 : 2;
}

static void count_parameters(const lm_config *c, lm_accounting *a)
{
	uint64_t C = (uint64_t)c->d_model, L = (uint64_t)c->n_layer;
	uint64_t V = (uint64_t)c->vocab_size, F = (uint64_t)c->d_ff;
	a->p_token_embedding = V * C;
	a->p_position_embedding = c->pos == POS_LEARNED ? (uint64_t)c->ctx * C : 0;
	/* Q, K, V and output projections; biases 3C + C */
	a->p_attention = L * (4 * C * C + (c->bias ? 4 * C : 0));
	/* up (and gate) C -> F, down F -> C; biases on up (and gate) and down */
	uint64_t up = mlp_matrices(c) - 1;
	a->p_mlp = L * (mlp_matrices(c) * C * F + (c->bias ? up * F + C : 0));
	a->p_norms = L * 2 * norm_params(c) + (config_has_final_norm(c) ? norm_params(c) : 0);
	a->p_lm_head = c->tied_head ? 0 : V * C;
	a->p_total = a->p_token_embedding + a->p_position_embedding + a->p_attention +
		     a->p_mlp + a->p_norms + a->p_lm_head;
}

/* ---- FLOPs -------------------------------------------------------------- */

/* An (m x n) by (n x p) product costs 2mnp FLOPs. */
static double matmul_flops(double m, double n, double p)
{
	return 2.0 * m * n * p;
}

static void count_forward_flops(const lm_config *c, int T, lm_accounting *a)
{
	double C = c->d_model, L = c->n_layer, F = c->d_ff, V = c->vocab_size;
	a->T = T;
	a->f_attention_proj = L * (matmul_flops(T, C, 3 * C) + matmul_flops(T, C, C));
	/* per head T x HS by HS x T, over NH heads: 2 T T C in all */
	a->f_attention_scores = L * matmul_flops(T, C, T);
	a->f_attention_values = L * matmul_flops(T, T, C);
	a->f_mlp = L * (double)mlp_matrices(c) * matmul_flops(T, C, F);
	a->f_lm_head = matmul_flops(T, C, V);
	a->f_total = a->f_attention_proj + a->f_attention_scores + a->f_attention_values +
		     a->f_mlp + a->f_lm_head;
}

/* ---- memory --------------------------------------------------------------- */

/*
 * Activations saved for the backward pass of one sequence, in floats, as
 * CS336's accounting problem lists them. Per layer: the two norms' outputs,
 * the QKV projections, Q K^T, the softmax, the weighted sum, the output
 * projection, the MLP's first product and activation (d_ff wide) and its
 * second product. Then the final norm, the logits and the cross-entropy.
 * (That list counts a SwiGLU MLP like a two-matrix one: its gate product
 * and elementwise product, 2 T d_ff more a layer, are not in it.)
 */
static double activation_floats(const lm_config *c, int seq)
{
	double C = c->d_model, F = c->d_ff, V = c->vocab_size, NH = c->n_head, T = seq;
	double norms = c->norm == NORM_NONE ? 0 : 2 * T * C;
	double attention = 3 * T * C + 2 * NH * T * T + T * C + T * C;
	double mlp = 2 * T * F + T * C;
	double final_norm = config_has_final_norm(c) ? T * C : 0;
	return c->n_layer * (norms + attention + mlp) + final_norm + 2 * T * V;
}

void accounting_compute(const lm_config *c, int T, lm_accounting *a)
{
	memset(a, 0, sizeof *a);
	count_parameters(c, a);
	count_forward_flops(c, T, a);
	/* parameters, gradients, AdamW's first and second moments */
	a->state_bytes = 4.0 * FP32_BYTES * (double)a->p_total;
	a->activation_bytes = FP32_BYTES * activation_floats(c, T);
}

double accounting_max_batch(const lm_accounting *a, double mem_bytes)
{
	double free_bytes = mem_bytes - a->state_bytes;
	if (!(free_bytes >= a->activation_bytes))
		return 0;
	return floor(free_bytes / a->activation_bytes);
}
