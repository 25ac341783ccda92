/*
 * layer_plan.c — the steps of a layer for each norm placement, and the
 * backward's bookkeeping derived from them. See layer_plan.h.
 */
#include "model/layer_plan.h"

#include <stdio.h>
#include <string.h>

/* ---- the steps ------------------------------------------------------------ */

static const layer_step pre_norm[] = {
	{OP_NORM1, SLOT_X,  SLOT_NONE, SLOT_N1},  /* n1 = norm1(x) */
	{OP_ATTN,  SLOT_N1, SLOT_X,    SLOT_R1},  /* r1 = x + attn(n1) */
	{OP_NORM2, SLOT_R1, SLOT_NONE, SLOT_N2},  /* n2 = norm2(r1) */
	{OP_MLP,   SLOT_N2, SLOT_R1,   SLOT_XO},  /* x' = r1 + mlp(n2) */
};

static const layer_step post_norm[] = {
	{OP_ATTN,  SLOT_X,  SLOT_X,    SLOT_R1},  /* r1 = x + attn(x) */
	{OP_NORM1, SLOT_R1, SLOT_NONE, SLOT_N1},  /* n1 = norm1(r1) */
	{OP_MLP,   SLOT_N1, SLOT_N1,   SLOT_R2},  /* r2 = n1 + mlp(n1) */
	{OP_NORM2, SLOT_R2, SLOT_NONE, SLOT_XO},  /* x' = norm2(r2) */
};

static const layer_step no_norm[] = {
	{OP_ATTN,  SLOT_X,  SLOT_X,    SLOT_R1},  /* r1 = x + attn(x) */
	{OP_MLP,   SLOT_R1, SLOT_R1,   SLOT_XO},  /* x' = r1 + mlp(r1) */
};

/* ---- the backward's buffers ------------------------------------------------ */

/* The lowest gradient buffer no slot's gradient occupies, other than DOUT
 * (the op's backward still reads it). */
static int free_grad(const int buf[SLOT_COUNT], int dout)
{
	for (int b = 0;; b++) {
		bool used = b == dout;
		for (int s = 0; s < SLOT_COUNT; s++)
			used = used || buf[s] == b;
		if (!used)
			return b;
	}
}

/* Walk the steps in reverse, as the backward will: a step's out gradient is
 * complete when it is reached (only later steps read out); its resid takes
 * that buffer as it is (the residual's gradient passes through); its in's
 * gradient goes to the buffer it already has, or else to a free one. No
 * plan reads a resid slot after the step that adds it, so a resid slot has
 * no buffer yet when its step is reached. */
static void derive_backward(layer_plan *p)
{
	int buf[SLOT_COUNT];
	for (int s = 0; s < SLOT_COUNT; s++)
		buf[s] = -1;
	buf[SLOT_XO] = 0;
	p->n_grads = 1;
	for (int i = p->n_steps - 1, k = 0; i >= 0; i--, k++) {
		const layer_step *st = &p->steps[i];
		int dout = buf[st->out];
		buf[st->out] = -1;
		if (st->resid != SLOT_NONE)
			buf[st->resid] = dout;
		bool fresh = buf[st->in] < 0;
		if (fresh)
			buf[st->in] = free_grad(buf, dout);
		if (buf[st->in] + 1 > p->n_grads)
			p->n_grads = buf[st->in] + 1;
		p->back[k] = (layer_grad_step){.op = st->op, .in = st->in, .dout = dout,
					       .din = buf[st->in], .fresh = fresh};
	}
	p->dx = buf[SLOT_X];
}

void layer_plan_init(layer_plan *p, const lm_config *c)
{
	memset(p, 0, sizeof *p);
	p->norm_kind = c->norm_kind;
	p->rope = c->pos == POS_ROPE;
	p->mlp = c->mlp;
	p->bias = c->bias;
	const layer_step *steps = c->norm == NORM_PRE ? pre_norm
				  : c->norm == NORM_POST ? post_norm : no_norm;
	p->n_steps = c->norm == NORM_NONE ? 2 : 4;
	memcpy(p->steps, steps, (size_t)p->n_steps * sizeof *steps);
	derive_backward(p);
}

bool layer_plan_has_slot(const layer_plan *p, layer_slot s)
{
	for (int i = 0; i < p->n_steps; i++)
		if (p->steps[i].in == s || p->steps[i].resid == s || p->steps[i].out == s)
			return true;
	return false;
}

bool layer_plan_has_op(const layer_plan *p, layer_op op)
{
	for (int i = 0; i < p->n_steps; i++)
		if (p->steps[i].op == op)
			return true;
	return false;
}

/* ---- in words --------------------------------------------------------------- */

static const char *const slot_names[SLOT_COUNT + 1] = {"x", "n1", "r1", "n2", "r2", "x'", ""};

static const char *op_name(const layer_plan *p, layer_op op)
{
	bool ln = p->norm_kind == NORM_LAYERNORM;
	switch (op) {
	case OP_NORM1: return ln ? "layernorm1" : "rmsnorm1";
	case OP_NORM2: return ln ? "layernorm2" : "rmsnorm2";
	case OP_ATTN: return p->rope ? "attn_rope" : "attn";
	case OP_MLP: return p->mlp == MLP_SWIGLU ? "mlp_swiglu" : p->mlp == MLP_SILU ? "mlp_silu"
									      : "mlp_gelu";
	}
	return "?";
}

int layer_plan_describe(const layer_plan *p, char *buf, size_t size)
{
	size_t n = 0;
#define PUT(...) n += (size_t)snprintf(buf + (n < size ? n : size), n < size ? size - n : 0, \
				       __VA_ARGS__)
	PUT("linear layers %s bias\n", p->bias ? "with" : "without");
	for (int i = 0; i < p->n_steps; i++) {
		const layer_step *s = &p->steps[i];
		PUT("%s = ", slot_names[s->out]);
		if (s->resid != SLOT_NONE)
			PUT("%s + ", slot_names[s->resid]);
		PUT("%s(%s)\n", op_name(p, s->op), slot_names[s->in]);
	}
	PUT("backward, %d gradient buffer%s, g0 holding d x' on entry:\n", p->n_grads,
	    p->n_grads == 1 ? "" : "s");
	for (int i = 0; i < p->n_steps; i++) {
		const layer_grad_step *g = &p->back[i];
		const layer_step *s = &p->steps[p->n_steps - 1 - i];
		if (s->resid != SLOT_NONE)
			PUT("d %s = d %s (in g%d, the residual)\n", slot_names[s->resid],
			    slot_names[s->out], g->dout);
		PUT("d %s %s %s'(d %s) (in g%d)\n", slot_names[g->in], g->fresh ? "=" : "+=",
		    op_name(p, g->op), slot_names[s->out], g->din);
	}
	PUT("d x in g%d\n", p->dx);
#undef PUT
	return (int)n;
}
