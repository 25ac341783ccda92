/*
 * layer_plan.h — what one transformer layer does, said once for a config.
 *
 * A layer is a short list of steps, each  out = [resid +] op(in), over named
 * rows of the residual stream (slots). Where the norms sit is the list:
 *
 *   pre-norm (gpt2, llama)    post-norm                 no norms
 *     n1 = norm1(x)             r1 = x + attn(x)          r1 = x + attn(x)
 *     r1 = x + attn(n1)         n1 = norm1(r1)            x' = r1 + mlp(r1)
 *     n2 = norm2(r1)            r2 = n1 + mlp(n1)
 *     x' = r1 + mlp(n2)         x' = norm2(r2)
 *
 * and the rest of the plan says what the ops are: the norm (LayerNorm or
 * RMSNorm), the attention (RoPE on q and k or not), the MLP (GELU, SiLU or
 * SwiGLU), biases or not. gpt2 is pre-norm, LayerNorm, no RoPE, GELU, biases;
 * llama is pre-norm, RMSNorm, RoPE, SwiGLU, no biases.
 *
 * Every wiring of the model walks these steps: the CPU forward and backward
 * (gpt.c), the incremental forward over a KV cache (gpt_kv.c, which is
 * gpt.c's layer forward on n rows), and the CUDA model (cuda/gpt_cuda.c). A
 * new norm placement is a new list here, a new MLP a new op kind: one edit,
 * not one per wiring.
 *
 * The backward walks the steps in reverse; the plan works out once which
 * gradient buffer holds each slot's gradient (layer_grad_step), so the CPU
 * and CUDA backward do the same sums in the same order.
 */
#ifndef LMPIPE_LAYER_PLAN_H
#define LMPIPE_LAYER_PLAN_H

#include "model/config.h"

#include <stdbool.h>
#include <stddef.h>

/* The rows a layer reads and writes, each (rows, C). */
typedef enum {
	SLOT_X,     /* the layer's input, the residual stream */
	SLOT_N1,    /* norm1's output */
	SLOT_R1,    /* the stream after the attention's residual add */
	SLOT_N2,    /* norm2's output (pre-norm) */
	SLOT_R2,    /* the stream after the MLP's residual add (post-norm) */
	SLOT_XO,    /* the layer's output, the next layer's x */
	SLOT_COUNT,
	SLOT_NONE = SLOT_COUNT  /* no residual */
} layer_slot;

typedef enum { OP_NORM1, OP_ATTN, OP_NORM2, OP_MLP } layer_op;

/* out = resid + op(in); resid SLOT_NONE for a plain op (the norms). */
typedef struct {
	layer_op op;
	layer_slot in, resid, out;
} layer_step;

/* One step of the backward, for the step it undoes: the gradient of its
 * out is in buffer dout; the gradient of its in goes to buffer din, which
 * either holds nothing yet (fresh: overwrite, or zero and add) or already
 * holds a gradient to add to. A residual's gradient is never copied: resid
 * takes dout's buffer as it is and op's gradient is added to it. */
typedef struct {
	layer_op op;
	layer_slot in;    /* whose saved rows the op's backward reads */
	int dout, din;    /* gradient buffers, 0 .. n_grads-1 */
	bool fresh;
} layer_grad_step;

#define LAYER_MAX_STEPS 4
#define LAYER_MAX_GRADS 3

typedef struct {
	lm_norm_kind norm_kind;  /* LayerNorm or RMSNorm, for the steps' norms */
	bool rope;               /* the attention rotates q and k */
	lm_mlp mlp;              /* GELU, SiLU or SwiGLU (gated: two input matrices) */
	bool bias;               /* the linear layers (and LayerNorm) have biases */
	int n_steps;
	layer_step steps[LAYER_MAX_STEPS];
	/* the backward, derived from the steps: back[i] undoes steps[n_steps-1-i].
	 * Buffer 0 holds d x' on entry; buffer dx holds d x on return. */
	layer_grad_step back[LAYER_MAX_STEPS];
	int n_grads;             /* gradient buffers (rows, C) it needs */
	int dx;
} layer_plan;

/* The plan for a finished config. */
void layer_plan_init(layer_plan *p, const lm_config *c);

/* Whether a step reads or writes the slot; whether a step is the op. */
bool layer_plan_has_slot(const layer_plan *p, layer_slot s);
bool layer_plan_has_op(const layer_plan *p, layer_op op);

/* The plan in words, one step a line ("r1 = x + attn(n1)   rope, bias"),
 * into buf; the length it needed, as snprintf. */
int layer_plan_describe(const layer_plan *p, char *buf, size_t size);

#endif
