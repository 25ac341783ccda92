/*
 * gpt.c — the model wired from its ops: the parameter table, GPT-2's
 * initialization, the forward pass and the backward pass.
 *
 * Sections: the parameter table; allocation and initialization; the
 * activations; a layer (its steps from model/layer_plan.h, over any rows:
 * the KV cache's forward runs the same code); forward; backward. Shapes use
 * B, T, C, NH, HS, F (d_ff), L, V and Vp (padded vocabulary) throughout.
 */
#include "model/gpt.h"
#include "model/gpt_layer.h"
#include "model/par.h"
#include "model/attention.h"
#include "model/crossentropy.h"
#include "model/embedding.h"
#include "model/gelu.h"
#include "model/layernorm.h"
#include "model/matmul.h"
#include "model/rmsnorm.h"
#include "model/rng.h"
#include "model/rope.h"
#include "model/swiglu.h"
#include "util/error.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INIT_STD 0.02   /* GPT-2's (and nanoGPT's) initialization */

/* ---- the parameter table ------------------------------------------------ */

static float **weight_slot(gpt_weights *w, gpt_tensor_kind k)
{
	float **slots[GPT_NUM_KINDS] = {
		[GPT_WTE] = &w->wte, [GPT_WPE] = &w->wpe, [GPT_LN1W] = &w->ln1w,
		[GPT_LN1B] = &w->ln1b, [GPT_QKVW] = &w->qkvw, [GPT_QKVB] = &w->qkvb,
		[GPT_ATTPROJW] = &w->attprojw, [GPT_ATTPROJB] = &w->attprojb,
		[GPT_LN2W] = &w->ln2w, [GPT_LN2B] = &w->ln2b, [GPT_FCW] = &w->fcw,
		[GPT_FCB] = &w->fcb, [GPT_FCGW] = &w->fcgw, [GPT_FCGB] = &w->fcgb,
		[GPT_FCPROJW] = &w->fcprojw, [GPT_FCPROJB] = &w->fcprojb,
		[GPT_LNFW] = &w->lnfw, [GPT_LNFB] = &w->lnfb, [GPT_LM_HEAD] = &w->lm_head,
	};
	return slots[k];
}

static const char *const kind_names[GPT_NUM_KINDS] = {
	"wte", "wpe", "ln1w", "ln1b", "qkvw", "qkvb", "attprojw", "attprojb",
	"ln2w", "ln2b", "fcw", "fcb", "fcgw", "fcgb", "fcprojw", "fcprojb",
	"lnfw", "lnfb", "lm_head",
};

/* The shape of one layer's (or the global) tensor of a kind; ndim 0 when the
 * config has no such tensor. */
static int kind_shape(const lm_config *c, gpt_tensor_kind k, int shape[2])
{
	int C = c->d_model, F = c->d_ff, Vp = c->padded_vocab;
	bool norms = c->norm != NORM_NONE;
	bool norm_bias = norms && c->norm_kind == NORM_LAYERNORM && c->bias;
	shape[0] = shape[1] = 0;
	switch (k) {
	case GPT_WTE: shape[0] = Vp; shape[1] = C; return 2;
	case GPT_WPE: if (c->pos != POS_LEARNED) return 0;
		shape[0] = c->ctx; shape[1] = C; return 2;
	case GPT_LN1W: case GPT_LN2W: case GPT_LNFW: if (!norms) return 0;
		shape[0] = C; return 1;
	case GPT_LN1B: case GPT_LN2B: case GPT_LNFB: if (!norm_bias) return 0;
		shape[0] = C; return 1;
	case GPT_QKVW: shape[0] = 3 * C; shape[1] = C; return 2;
	case GPT_QKVB: if (!c->bias) return 0;
		shape[0] = 3 * C; return 1;
	case GPT_ATTPROJW: shape[0] = C; shape[1] = C; return 2;
	case GPT_ATTPROJB: case GPT_FCPROJB: if (!c->bias) return 0;
		shape[0] = C; return 1;
	case GPT_FCW: shape[0] = F; shape[1] = C; return 2;
	case GPT_FCB: if (!c->bias) return 0;
		shape[0] = F; return 1;
	case GPT_FCGW: if (!config_mlp_gated(c)) return 0;
		shape[0] = F; shape[1] = C; return 2;
	case GPT_FCGB: if (!config_mlp_gated(c) || !c->bias) return 0;
		shape[0] = F; return 1;
	case GPT_FCPROJW: shape[0] = C; shape[1] = F; return 2;
	case GPT_LM_HEAD: if (c->tied_head) return 0;
		shape[0] = Vp; shape[1] = C; return 2;
	default: return 0;
	}
}

static bool kind_is_global(gpt_tensor_kind k)
{
	return k == GPT_WTE || k == GPT_WPE || k == GPT_LNFW || k == GPT_LNFB || k == GPT_LM_HEAD;
}

/* Storage order: globals in front and back, per-layer kinds stacked over L. */
static const gpt_tensor_kind storage_order[GPT_NUM_KINDS] = {
	GPT_WTE, GPT_WPE, GPT_LN1W, GPT_LN1B, GPT_QKVW, GPT_QKVB, GPT_ATTPROJW, GPT_ATTPROJB,
	GPT_LN2W, GPT_LN2B, GPT_FCW, GPT_FCB, GPT_FCGW, GPT_FCGB, GPT_FCPROJW, GPT_FCPROJB,
	GPT_LNFW, GPT_LNFB, GPT_LM_HEAD,
};

static int build_tensor_table(gpt_model *m)
{
	const lm_config *c = &m->cfg;
	m->tensors = calloc((size_t)GPT_NUM_KINDS * (size_t)(c->n_layer + 1), sizeof *m->tensors);
	if (!m->tensors)
		return lm_fail("out of memory for the parameter table");
	size_t off = 0;
	for (int i = 0; i < GPT_NUM_KINDS; i++) {
		gpt_tensor_kind k = storage_order[i];
		int shape[2];
		int ndim = kind_shape(c, k, shape);
		if (ndim == 0)
			continue;
		int layers = kind_is_global(k) ? 1 : c->n_layer;
		for (int l = 0; l < layers; l++) {
			gpt_tensor *t = &m->tensors[m->num_tensors++];
			t->kind = k;
			t->layer = kind_is_global(k) ? -1 : l;
			t->ndim = ndim;
			t->shape[0] = shape[0];
			t->shape[1] = shape[1];
			t->numel = (size_t)shape[0] * (size_t)(ndim == 2 ? shape[1] : 1);
			t->offset = off;
			t->decay = ndim == 2;
			if (t->layer < 0)
				snprintf(t->name, sizeof t->name, "%s", kind_names[k]);
			else
				snprintf(t->name, sizeof t->name, "h.%d.%s", l, kind_names[k]);
			off += t->numel;
		}
	}
	m->num_params = off;
	return 0;
}

/* Point the weight struct W at the tensors' first layers in BASE. */
static void point_weights(gpt_model *m, gpt_weights *w, float *base)
{
	memset(w, 0, sizeof *w);
	for (int i = m->num_tensors - 1; i >= 0; i--)
		*weight_slot(w, m->tensors[i].kind) = base + m->tensors[i].offset;
	if (m->cfg.tied_head)
		w->lm_head = w->wte;
}

const gpt_tensor *gpt_find_tensor(const gpt_model *m, gpt_tensor_kind kind, int layer)
{
	for (int i = 0; i < m->num_tensors; i++)
		if (m->tensors[i].kind == kind && (kind_is_global(kind) || m->tensors[i].layer == layer))
			return &m->tensors[i];
	return NULL;
}

/* ---- allocation and initialization ------------------------------------- */

int gpt_alloc(gpt_model *m, const lm_config *cfg)
{
	memset(m, 0, sizeof *m);
	m->cfg = *cfg;
	if (cfg->padded_vocab < cfg->vocab_size || cfg->d_ff < 1)
		return lm_fail("model '%s': config not finished", cfg->name);
	if (build_tensor_table(m) != 0)
		return -1;
	m->params = calloc(m->num_params, sizeof(float));
	if (!m->params) {
		size_t n = m->num_params;  /* gpt_free clears it */
		gpt_free(m);
		return lm_fail("out of memory for %zu parameters (%zu MiB)", n,
			       n / ((1 << 20) / sizeof(float)));
	}
	point_weights(m, &m->w, m->params);
	layer_plan_init(&m->plan, cfg);
	if (cfg->pos == POS_ROPE) {
		size_t n = (size_t)cfg->ctx * (size_t)(config_head_size(cfg) / 2);
		m->rope_cos = malloc(n * sizeof(float));
		m->rope_sin = malloc(n * sizeof(float));
		if (!m->rope_cos || !m->rope_sin) {
			gpt_free(m);
			return lm_fail("out of memory for the RoPE table");
		}
		rope_table(m->rope_cos, m->rope_sin, cfg->ctx, config_head_size(cfg), cfg->rope_theta);
	}
	return 0;
}

static void init_tensor(const lm_config *c, const gpt_tensor *t, float *p, lm_rng *rng)
{
	bool norm_weight = t->kind == GPT_LN1W || t->kind == GPT_LN2W || t->kind == GPT_LNFW;
	if (t->ndim == 1) {  /* biases 0, norm gains 1 */
		for (size_t i = 0; i < t->numel; i++)
			p[i] = norm_weight ? 1.0f : 0.0f;
		return;
	}
	double std = INIT_STD;
	if (t->kind == GPT_ATTPROJW || t->kind == GPT_FCPROJW)  /* GPT-2 paper, 2.3 */
		std /= sqrt(2.0 * c->n_layer);
	size_t rows = (size_t)t->shape[0];
	if (t->kind == GPT_WTE || t->kind == GPT_LM_HEAD)
		rows = (size_t)c->vocab_size;  /* padded rows stay zero */
	for (size_t i = 0; i < rows * (size_t)t->shape[1]; i++)
		p[i] = (float)(std * rng_normal(rng));
}

int gpt_init(gpt_model *m, const lm_config *cfg, uint64_t seed)
{
	if (gpt_alloc(m, cfg) != 0)
		return -1;
	lm_rng rng;
	rng_seed(&rng, seed);
	for (int i = 0; i < m->num_tensors; i++)
		init_tensor(cfg, &m->tensors[i], m->params + m->tensors[i].offset, &rng);
	return 0;
}

void gpt_free(gpt_model *m)
{
	free(m->params);
	free(m->grads);
	free(m->tensors);
	free(m->rope_cos);
	free(m->rope_sin);
	free(m->acts.mem);
	free(m->inputs);
	free(m->targets);
	memset(m, 0, sizeof *m);
}

int gpt_zero_grad(gpt_model *m)
{
	if (!m->grads) {
		m->grads = calloc(m->num_params, sizeof(float));
		if (!m->grads)
			return lm_fail("out of memory for %zu gradients", m->num_params);
		point_weights(m, &m->g, m->grads);
		return 0;
	}
	memset(m->grads, 0, m->num_params * sizeof(float));
	return 0;
}

/* ---- the activations ------------------------------------------------------ */

/* Carve every buffer out of one allocation; sizes 0 when unused. */
static int acts_alloc(gpt_model *m, int B, int T)
{
	const lm_config *c = &m->cfg;
	size_t L = (size_t)c->n_layer, BT = (size_t)B * T, C = (size_t)c->d_model;
	size_t F = (size_t)c->d_ff, NH = (size_t)c->n_head, Vp = (size_t)c->padded_vocab;
	const layer_plan *plan = &m->plan;
	bool norm1 = layer_plan_has_op(plan, OP_NORM1), norm2 = layer_plan_has_op(plan, OP_NORM2);
	bool norms = config_has_final_norm(c), ln = plan->norm_kind == NORM_LAYERNORM;
	bool rope = plan->rope, gated = plan->mlp == MLP_SWIGLU;
	gpt_acts *a = &m->acts;
	struct { float **p; size_t n; } bufs[] = {
		{&a->x, (L + 1) * BT * C},
		{&a->n1, layer_plan_has_slot(plan, SLOT_N1) ? L * BT * C : 0},
		{&a->n1_mean, norm1 && ln ? L * BT : 0},
		{&a->n1_rstd, norm1 ? L * BT : 0},
		{&a->qkv, L * BT * 3 * C},
		{&a->qkvr, rope ? L * BT * 3 * C : 0},
		{&a->att, L * (size_t)B * NH * (size_t)T * (size_t)T},
		{&a->atty, L * BT * C},
		{&a->r1, L * BT * C},
		{&a->n2, layer_plan_has_slot(plan, SLOT_N2) ? L * BT * C : 0},
		{&a->n2_mean, norm2 && ln ? L * BT : 0},
		{&a->n2_rstd, norm2 ? L * BT : 0},
		{&a->fca, L * BT * F},
		{&a->fcg, gated ? L * BT * F : 0},
		{&a->fch, L * BT * F},
		{&a->r2, layer_plan_has_slot(plan, SLOT_R2) ? L * BT * C : 0},
		{&a->lnf, norms ? BT * C : 0},
		{&a->lnf_mean, norms && ln ? BT : 0},
		{&a->lnf_rstd, norms ? BT : 0},
		{&a->logits, BT * Vp},
		{&a->lse, BT},
		{&a->losses, BT},
		{&a->dx, BT * C},
		{&a->dr, BT * C},
		{&a->dn, BT * C},
		{&a->datty, BT * C},
		{&a->dqkv, BT * 3 * C},
		{&a->dqkvr, rope ? BT * 3 * C : 0},
		{&a->dfca, BT * F},
		{&a->dfcg, gated ? BT * F : 0},
		{&a->dfch, BT * F},
	};
	size_t total = 0;
	for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
		total += (bufs[i].n + 15) & ~(size_t)15;  /* 64-byte aligned starts */
	free(a->mem);
	memset(a, 0, sizeof *a);
	free(m->inputs);
	free(m->targets);
	m->inputs = malloc(BT * sizeof(int));
	m->targets = malloc(BT * sizeof(int));
	a->mem = aligned_alloc(64, total * sizeof(float));
	if (!a->mem || !m->inputs || !m->targets) {
		free(a->mem);
		a->mem = NULL;
		m->B = m->T = 0;
		m->cap_bt = m->cap_btt = 0;
		return lm_fail("out of memory for the activations of batch %d x %d (%zu MiB)",
			       B, T, total * sizeof(float) >> 20);
	}
	float *p = a->mem;
	for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) {
		*bufs[i].p = bufs[i].n ? p : NULL;
		p += (bufs[i].n + 15) & ~(size_t)15;
	}
	if (!rope) {
		a->qkvr = a->qkv;
		a->dqkvr = a->dqkv;
	}
	m->B = B;
	m->T = T;
	m->cap_bt = (long)B * T;
	m->cap_btt = (long)B * T * T;
	return 0;
}

/* ---- a layer -------------------------------------------------------------- */

/* Layer l's slice of a stacked tensor, NULL stays NULL. */
static inline float *at(float *p, int l, size_t n) { return p ? p + (size_t)l * n : NULL; }

/* Up to this many rows, a caller that asks for it (the KV cache's token a
 * call) gets matrix-vector products rather than the packed GEMM. */
#define MATVEC_MAX_ROWS 4

/* out = inp W^T + b over n rows. */
static void linear(bool matvec, float *out, const float *inp, const float *w, const float *b,
		   int n, int IC, int OC)
{
	if (matvec && n <= MATVEC_MAX_ROWS)
		matvec_forward(out, inp, w, b, n, IC, OC);
	else
		matmul_forward(out, inp, w, b, n, IC, OC);
}

static void norm_forward(const gpt_model *m, float *out, float *mean, float *rstd,
			 const float *inp, const float *w, const float *b, int N)
{
	const lm_config *c = &m->cfg;
	if (m->plan.norm_kind == NORM_LAYERNORM)
		layernorm_forward(out, mean, rstd, inp, w, b, N, c->d_model, (float)c->norm_eps);
	else
		rmsnorm_forward(out, rstd, inp, w, N, c->d_model, (float)c->norm_eps);
}

/* out = a + b, elementwise over n. */
static void residual_add(float *out, const float *a, const float *b, size_t n)
{
#pragma omp parallel for schedule(static) if (n >= PAR_MIN_WORK)
	for (size_t i = 0; i < n; i++)
		out[i] = a[i] + b[i];
}

/* out = resid + attention(inp) for layer l. */
static void attn_forward(const gpt_model *m, int l, const gpt_layer_io *io, const float *inp,
			 const float *resid, float *out)
{
	const lm_config *c = &m->cfg;
	int B = io->B, T = io->T, C = c->d_model, NH = c->n_head, BT = B * T;
	size_t half = (size_t)config_head_size(c) / 2;
	linear(io->matvec, io->qkv, inp, at(m->w.qkvw, l, 3 * (size_t)C * C),
	       at(m->w.qkvb, l, 3 * C), BT, C, 3 * C);
	if (m->plan.rope)  /* the tables from row pos: absolute positions */
		rope_forward(io->qkvr, io->qkv, m->rope_cos + io->pos * half,
			     m->rope_sin + io->pos * half, B, T, C, NH);
	if (io->kv)
		gpt_kv_attend(io->kv, l, io->atty, io->qkvr, BT, C);
	else
		attention_forward(io->atty, io->att, io->qkvr, B, T, C, NH);
	linear(io->matvec, out, io->atty, at(m->w.attprojw, l, (size_t)C * C),
	       at(m->w.attprojb, l, C), BT, C, C);
	residual_add(out, out, resid, (size_t)BT * C);
}

/* out = resid + mlp(inp) for layer l. */
static void mlp_forward(const gpt_model *m, int l, const gpt_layer_io *io, const float *inp,
			const float *resid, float *out)
{
	const lm_config *c = &m->cfg;
	int BT = io->B * io->T, C = c->d_model, F = c->d_ff;
	long btf = (long)BT * F;
	linear(io->matvec, io->fca, inp, at(m->w.fcw, l, (size_t)F * C), at(m->w.fcb, l, F),
	       BT, C, F);
	switch (m->plan.mlp) {
	case MLP_SWIGLU:
		linear(io->matvec, io->fcg, inp, at(m->w.fcgw, l, (size_t)F * C),
		       at(m->w.fcgb, l, F), BT, C, F);
		swiglu_forward(io->fch, io->fca, io->fcg, btf);
		break;
	case MLP_SILU: silu_forward(io->fch, io->fca, btf); break;
	case MLP_GELU: gelu_forward(io->fch, io->fca, btf); break;
	}
	linear(io->matvec, out, io->fch, at(m->w.fcprojw, l, (size_t)C * F),
	       at(m->w.fcprojb, l, C), BT, F, C);
	residual_add(out, out, resid, (size_t)BT * C);
}

/* Each step is  out = [resid +] op(in)  over the slots: for pre-norm (gpt2,
 * llama) n1 = norm1(x), r1 = x + attn(n1), n2 = norm2(r1), x' = r1 + mlp(n2);
 * layer_plan.c lists every placement. */
void gpt_layer_forward(const gpt_model *m, int l, const gpt_layer_io *io)
{
	int C = m->cfg.d_model, BT = io->B * io->T;
	for (int i = 0; i < m->plan.n_steps; i++) {
		const layer_step *s = &m->plan.steps[i];
		const float *in = io->slot[s->in];
		const float *resid = s->resid == SLOT_NONE ? NULL : io->slot[s->resid];
		float *out = io->slot[s->out];
		switch (s->op) {
		case OP_NORM1:
			norm_forward(m, out, io->n1_mean, io->n1_rstd, in, at(m->w.ln1w, l, C),
				     at(m->w.ln1b, l, C), BT);
			break;
		case OP_NORM2:
			norm_forward(m, out, io->n2_mean, io->n2_rstd, in, at(m->w.ln2w, l, C),
				     at(m->w.ln2b, l, C), BT);
			break;
		case OP_ATTN: attn_forward(m, l, io, in, resid, out); break;
		case OP_MLP: mlp_forward(m, l, io, in, resid, out); break;
		}
	}
}

void gpt_head_forward(const gpt_model *m, float *logits, float *lnf, float *mean, float *rstd,
		      const float *x, int n, bool matvec)
{
	const lm_config *c = &m->cfg;
	if (config_has_final_norm(c)) {
		norm_forward(m, lnf, mean, rstd, x, m->w.lnfw, m->w.lnfb, n);
		x = lnf;
	}
	linear(matvec, logits, x, m->w.lm_head, NULL, n, c->d_model, c->padded_vocab);
}

/* ---- forward --------------------------------------------------------------- */

/* Layer l's rows in the activations of the last forward's B x T. */
static void layer_io(gpt_model *m, int l, gpt_layer_io *io)
{
	const lm_config *c = &m->cfg;
	int B = m->B, T = m->T, BT = B * T;
	size_t btc = (size_t)BT * c->d_model, btf = (size_t)BT * c->d_ff;
	gpt_acts *a = &m->acts;
	*io = (gpt_layer_io){
		.B = B, .T = T,
		.slot = {
			[SLOT_X] = at(a->x, l, btc), [SLOT_N1] = at(a->n1, l, btc),
			[SLOT_R1] = at(a->r1, l, btc), [SLOT_N2] = at(a->n2, l, btc),
			[SLOT_R2] = at(a->r2, l, btc), [SLOT_XO] = at(a->x, l + 1, btc),
		},
		.n1_mean = at(a->n1_mean, l, BT), .n1_rstd = at(a->n1_rstd, l, BT),
		.n2_mean = at(a->n2_mean, l, BT), .n2_rstd = at(a->n2_rstd, l, BT),
		.qkv = at(a->qkv, l, 3 * btc), .qkvr = at(a->qkvr, l, 3 * btc),
		.att = at(a->att, l, (size_t)B * c->n_head * T * T), .atty = at(a->atty, l, btc),
		.fca = at(a->fca, l, btf), .fcg = at(a->fcg, l, btf), .fch = at(a->fch, l, btf),
	};
}

int gpt_check_batch(const lm_config *c, const int *inputs, const int *targets, int B, int T)
{
	if (B < 1 || T < 1 || T > c->ctx)
		return lm_fail("batch %d x %d does not fit the model (context %d)", B, T, c->ctx);
	for (long i = 0; i < (long)B * T; i++) {
		if (inputs[i] < 0 || inputs[i] >= c->vocab_size)
			return lm_fail("token id %d at position %ld is outside the vocabulary (%d)",
				       inputs[i], i, c->vocab_size);
		if (targets && (targets[i] < 0 || targets[i] >= c->vocab_size))
			return lm_fail("target id %d at position %ld is outside the vocabulary (%d)",
				       targets[i], i, c->vocab_size);
	}
	return 0;
}

int gpt_forward(gpt_model *m, const int *inputs, const int *targets, int B, int T, float *loss)
{
	const lm_config *c = &m->cfg;
	if (gpt_check_batch(c, inputs, targets, B, T) != 0)
		return -1;
	if ((long)B * T > m->cap_bt || (long)B * T * T > m->cap_btt) {
		if (acts_alloc(m, B, T) != 0)
			return -1;
	} else {  /* every buffer is indexed with the current B, T: they fit */
		m->B = B;
		m->T = T;
	}
	int BT = B * T, C = c->d_model, L = c->n_layer;
	gpt_acts *a = &m->acts;
	memcpy(m->inputs, inputs, (size_t)BT * sizeof(int));
	m->has_targets = targets != NULL;
	if (targets)
		memcpy(m->targets, targets, (size_t)BT * sizeof(int));

	embedding_forward(a->x, inputs, m->w.wte, m->w.wpe, B, T, C);
	for (int l = 0; l < L; l++) {
		gpt_layer_io io;
		layer_io(m, l, &io);
		gpt_layer_forward(m, l, &io);
	}
	gpt_head_forward(m, a->logits, a->lnf, a->lnf_mean, a->lnf_rstd, a->x + (size_t)L * BT * C,
			 BT, false);
	if (targets) {
		m->mean_loss = crossentropy_forward(a->losses, a->lse, a->logits, targets, BT,
						    c->vocab_size, c->padded_vocab);
		if (loss)
			*loss = m->mean_loss;
	}
	return 0;
}

/* ---- backward -------------------------------------------------------------- */

static void zero(float *p, size_t n) { memset(p, 0, n * sizeof(float)); }

/* dinp += norm'(inp)^T dout, and the norm's parameter gradients. */
static void norm_backward(const gpt_model *m, float *dinp, float *dw, float *db, const float *dout,
			  const float *inp, const float *w, const float *mean, const float *rstd)
{
	const lm_config *c = &m->cfg;
	int BT = m->B * m->T;
	if (m->plan.norm_kind == NORM_LAYERNORM)
		layernorm_backward(dinp, dw, db, dout, inp, w, mean, rstd, BT, c->d_model);
	else
		rmsnorm_backward(dinp, dw, dout, inp, w, rstd, BT, c->d_model);
}

/* din += the attention branch's input gradient, given dout at its output.
 * din may be dout itself: dout is spent (on the projection's gradients)
 * before din is written. */
static void attn_backward(gpt_model *m, int l, const gpt_layer_io *io, const float *inp,
			  const float *dout, float *din)
{
	const lm_config *c = &m->cfg;
	int B = m->B, T = m->T, C = c->d_model, NH = c->n_head, BT = B * T;
	gpt_acts *a = &m->acts;
	size_t btc = (size_t)BT * C;
	zero(a->datty, btc);
	matmul_backward(a->datty, at(m->g.attprojw, l, (size_t)C * C), at(m->g.attprojb, l, C),
			dout, io->atty, at(m->w.attprojw, l, (size_t)C * C), BT, C, C);
	zero(a->dqkvr, 3 * btc);
	attention_backward(a->dqkvr, a->datty, io->qkvr, io->att, B, T, C, NH);
	if (m->plan.rope) {
		zero(a->dqkv, 3 * btc);
		rope_backward(a->dqkv, a->dqkvr, m->rope_cos, m->rope_sin, B, T, C, NH);
	}
	matmul_backward(din, at(m->g.qkvw, l, 3 * (size_t)C * C), at(m->g.qkvb, l, 3 * C),
			a->dqkv, inp, at(m->w.qkvw, l, 3 * (size_t)C * C), BT, C, 3 * C);
}

/* din += the MLP branch's input gradient, given dout at its output; din may
 * be dout itself, as in attn_backward. */
static void mlp_backward(gpt_model *m, int l, const gpt_layer_io *io, const float *inp,
			 const float *dout, float *din)
{
	const lm_config *c = &m->cfg;
	int BT = m->B * m->T, C = c->d_model, F = c->d_ff;
	gpt_acts *a = &m->acts;
	size_t btf = (size_t)BT * F;
	zero(a->dfch, btf);
	matmul_backward(a->dfch, at(m->g.fcprojw, l, (size_t)C * F), at(m->g.fcprojb, l, C),
			dout, io->fch, at(m->w.fcprojw, l, (size_t)C * F), BT, F, C);
	zero(a->dfca, btf);
	switch (m->plan.mlp) {
	case MLP_SWIGLU:
		zero(a->dfcg, btf);
		swiglu_backward(a->dfca, a->dfcg, a->dfch, io->fca, io->fcg, (long)btf);
		matmul_backward(din, at(m->g.fcgw, l, (size_t)F * C), at(m->g.fcgb, l, F),
				a->dfcg, inp, at(m->w.fcgw, l, (size_t)F * C), BT, C, F);
		break;
	case MLP_SILU: silu_backward(a->dfca, io->fca, a->dfch, (long)btf); break;
	case MLP_GELU: gelu_backward(a->dfca, io->fca, a->dfch, (long)btf); break;
	}
	matmul_backward(din, at(m->g.fcw, l, (size_t)F * C), at(m->g.fcb, l, F),
			a->dfca, inp, at(m->w.fcw, l, (size_t)F * C), BT, C, F);
}

/* Layer l's steps undone in reverse (m->plan.back): d[0] holds d loss / d
 * x[l+1] on entry; returns the index of the buffer of d that holds d loss /
 * d x[l]. */
static int layer_backward(gpt_model *m, int l, float *const d[LAYER_MAX_GRADS])
{
	int C = m->cfg.d_model;
	size_t btc = (size_t)m->B * m->T * C;
	gpt_layer_io io;
	layer_io(m, l, &io);
	for (int i = 0; i < m->plan.n_steps; i++) {
		const layer_grad_step *s = &m->plan.back[i];
		const float *inp = io.slot[s->in], *dout = d[s->dout];
		float *din = d[s->din];
		if (s->fresh)
			zero(din, btc);
		switch (s->op) {
		case OP_NORM1:
			norm_backward(m, din, at(m->g.ln1w, l, C), at(m->g.ln1b, l, C), dout, inp,
				      at(m->w.ln1w, l, C), io.n1_mean, io.n1_rstd);
			break;
		case OP_NORM2:
			norm_backward(m, din, at(m->g.ln2w, l, C), at(m->g.ln2b, l, C), dout, inp,
				      at(m->w.ln2w, l, C), io.n2_mean, io.n2_rstd);
			break;
		case OP_ATTN: attn_backward(m, l, &io, inp, dout, din); break;
		case OP_MLP: mlp_backward(m, l, &io, inp, dout, din); break;
		}
	}
	return m->plan.dx;
}

int gpt_backward(gpt_model *m, float dloss)
{
	const lm_config *c = &m->cfg;
	if (!m->B || !m->has_targets)
		return lm_fail("backward needs a forward pass with targets first");
	if (!m->grads && gpt_zero_grad(m) != 0)
		return -1;
	int BT = m->B * m->T, C = c->d_model, L = c->n_layer;
	gpt_acts *a = &m->acts;
	size_t btc = (size_t)BT * C;
	float *dhead_w = c->tied_head ? m->g.wte : m->g.lm_head;

	crossentropy_backward(a->logits, a->lse, m->targets, BT, c->vocab_size, c->padded_vocab,
			      dloss / (float)BT);
	float *xL = a->x + (size_t)L * btc;
	if (config_has_final_norm(c)) {
		zero(a->dn, btc);
		matmul_backward(a->dn, dhead_w, NULL, a->logits, a->lnf, m->w.lm_head, BT, C,
				c->padded_vocab);
		zero(a->dx, btc);
		norm_backward(m, a->dx, m->g.lnfw, m->g.lnfb, a->dn, xL, m->w.lnfw, a->lnf_mean,
			      a->lnf_rstd);
	} else {
		zero(a->dx, btc);
		matmul_backward(a->dx, dhead_w, NULL, a->logits, xL, m->w.lm_head, BT, C,
				c->padded_vocab);
	}
	float *d[LAYER_MAX_GRADS] = {a->dx, a->dn, a->dr};  /* d[0]: the stream's gradient */
	for (int l = L - 1; l >= 0; l--) {
		int k = layer_backward(m, l, d);
		float *t = d[0];
		d[0] = d[k];
		d[k] = t;
	}
	embedding_backward(m->g.wte, m->g.wpe, d[0], m->inputs, m->B, m->T, C);
	m->has_targets = 0;  /* the logits now hold their gradient */
	return 0;
}
