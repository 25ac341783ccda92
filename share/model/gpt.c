/*
 * gpt.c — the model wired from its ops: the parameter table, GPT-2's
 * initialization, the forward pass and the backward pass.
 *
 * Sections: the parameter table; allocation and initialization; the
 * activations; forward; backward. Shapes use B, T, C, NH, HS, F (d_ff),
 * L, V and Vp (padded vocabulary) throughout.
 */
#include "model/gpt.h"
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
	bool norms = c->norm != NORM_NONE, ln = c->norm_kind == NORM_LAYERNORM;
	bool rope = c->pos == POS_ROPE, gated = config_mlp_gated(c);
	bool pre = c->norm == NORM_PRE, post = c->norm == NORM_POST;
	gpt_acts *a = &m->acts;
	struct { float **p; size_t n; } bufs[] = {
		{&a->x, (L + 1) * BT * C},
		{&a->n1, norms ? L * BT * C : 0},
		{&a->n1_mean, norms && ln ? L * BT : 0},
		{&a->n1_rstd, norms ? L * BT : 0},
		{&a->qkv, L * BT * 3 * C},
		{&a->qkvr, rope ? L * BT * 3 * C : 0},
		{&a->att, L * (size_t)B * NH * (size_t)T * (size_t)T},
		{&a->atty, L * BT * C},
		{&a->r1, L * BT * C},
		{&a->n2, pre ? L * BT * C : 0},
		{&a->n2_mean, norms && ln ? L * BT : 0},
		{&a->n2_rstd, norms ? L * BT : 0},
		{&a->fca, L * BT * F},
		{&a->fcg, gated ? L * BT * F : 0},
		{&a->fch, L * BT * F},
		{&a->r2, post ? L * BT * C : 0},
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

/* ---- forward --------------------------------------------------------------- */

/* Layer l's slice of a stacked tensor, NULL stays NULL. */
static inline float *at(float *p, int l, size_t n) { return p ? p + (size_t)l * n : NULL; }

static void norm_forward(const gpt_model *m, float *out, float *mean, float *rstd,
			 const float *inp, const float *w, const float *b, int N)
{
	const lm_config *c = &m->cfg;
	if (c->norm_kind == NORM_LAYERNORM)
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
static void attn_block_forward(gpt_model *m, int l, const float *inp, const float *resid,
			       float *out)
{
	const lm_config *c = &m->cfg;
	int B = m->B, T = m->T, C = c->d_model, NH = c->n_head, BT = B * T;
	gpt_acts *a = &m->acts;
	size_t btc = (size_t)BT * C;
	float *qkv = a->qkv + l * 3 * btc, *qkvr = a->qkvr + l * 3 * btc;
	float *att = a->att + (size_t)l * B * NH * T * T, *atty = a->atty + l * btc;
	matmul_forward(qkv, inp, at(m->w.qkvw, l, 3 * (size_t)C * C), at(m->w.qkvb, l, 3 * C),
		       BT, C, 3 * C);
	if (c->pos == POS_ROPE)
		rope_forward(qkvr, qkv, m->rope_cos, m->rope_sin, B, T, C, NH);
	attention_forward(atty, att, qkvr, B, T, C, NH);
	matmul_forward(out, atty, at(m->w.attprojw, l, (size_t)C * C), at(m->w.attprojb, l, C),
		       BT, C, C);
	residual_add(out, out, resid, btc);
}

/* out = resid + mlp(inp) for layer l. */
static void mlp_block_forward(gpt_model *m, int l, const float *inp, const float *resid,
			      float *out)
{
	const lm_config *c = &m->cfg;
	int BT = m->B * m->T, C = c->d_model, F = c->d_ff;
	gpt_acts *a = &m->acts;
	size_t btf = (size_t)BT * F;
	float *fca = a->fca + l * btf, *fch = a->fch + l * btf;
	matmul_forward(fca, inp, at(m->w.fcw, l, (size_t)F * C), at(m->w.fcb, l, F), BT, C, F);
	if (c->mlp == MLP_SWIGLU) {
		float *fcg = a->fcg + l * btf;
		matmul_forward(fcg, inp, at(m->w.fcgw, l, (size_t)F * C), at(m->w.fcgb, l, F), BT, C, F);
		swiglu_forward(fch, fca, fcg, (long)btf);
	} else if (c->mlp == MLP_SILU) {
		silu_forward(fch, fca, (long)btf);
	} else {
		gelu_forward(fch, fca, (long)btf);
	}
	matmul_forward(out, fch, at(m->w.fcprojw, l, (size_t)C * F), at(m->w.fcprojb, l, C),
		       BT, F, C);
	residual_add(out, out, resid, (size_t)BT * C);
}

static void layer_forward(gpt_model *m, int l)
{
	const lm_config *c = &m->cfg;
	int BT = m->B * m->T, C = c->d_model;
	gpt_acts *a = &m->acts;
	size_t btc = (size_t)BT * C;
	float *x = a->x + l * btc, *xo = a->x + (l + 1) * btc, *r1 = a->r1 + l * btc;
	float *n1 = at(a->n1, l, btc), *n1m = at(a->n1_mean, l, BT), *n1r = at(a->n1_rstd, l, BT);
	float *n2m = at(a->n2_mean, l, BT), *n2r = at(a->n2_rstd, l, BT);
	const float *ln1w = at(m->w.ln1w, l, C), *ln1b = at(m->w.ln1b, l, C);
	const float *ln2w = at(m->w.ln2w, l, C), *ln2b = at(m->w.ln2b, l, C);
	switch (c->norm) {
	case NORM_PRE: {
		float *n2 = a->n2 + l * btc;
		norm_forward(m, n1, n1m, n1r, x, ln1w, ln1b, BT);
		attn_block_forward(m, l, n1, x, r1);
		norm_forward(m, n2, n2m, n2r, r1, ln2w, ln2b, BT);
		mlp_block_forward(m, l, n2, r1, xo);
		break;
	}
	case NORM_POST: {
		float *r2 = a->r2 + l * btc;
		attn_block_forward(m, l, x, x, r1);
		norm_forward(m, n1, n1m, n1r, r1, ln1w, ln1b, BT);
		mlp_block_forward(m, l, n1, n1, r2);
		norm_forward(m, xo, n2m, n2r, r2, ln2w, ln2b, BT);
		break;
	}
	case NORM_NONE:
		attn_block_forward(m, l, x, x, r1);
		mlp_block_forward(m, l, r1, r1, xo);
		break;
	}
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
	for (int l = 0; l < L; l++)
		layer_forward(m, l);
	float *head_in = a->x + (size_t)L * BT * C;
	if (c->norm != NORM_NONE) {
		norm_forward(m, a->lnf, a->lnf_mean, a->lnf_rstd, head_in, m->w.lnfw, m->w.lnfb, BT);
		head_in = a->lnf;
	}
	matmul_forward(a->logits, head_in, m->w.lm_head, NULL, BT, C, c->padded_vocab);
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
	if (c->norm_kind == NORM_LAYERNORM)
		layernorm_backward(dinp, dw, db, dout, inp, w, mean, rstd, BT, c->d_model);
	else
		rmsnorm_backward(dinp, dw, dout, inp, w, rstd, BT, c->d_model);
}

/* din += the attention branch's input gradient, given dout at its output. */
static void attn_block_backward(gpt_model *m, int l, const float *inp, const float *dout,
				float *din)
{
	const lm_config *c = &m->cfg;
	int B = m->B, T = m->T, C = c->d_model, NH = c->n_head, BT = B * T;
	gpt_acts *a = &m->acts;
	size_t btc = (size_t)BT * C;
	const float *qkvr = a->qkvr + l * 3 * btc, *atty = a->atty + l * btc;
	const float *att = a->att + (size_t)l * B * NH * T * T;
	zero(a->datty, btc);
	matmul_backward(a->datty, at(m->g.attprojw, l, (size_t)C * C), at(m->g.attprojb, l, C),
			dout, atty, at(m->w.attprojw, l, (size_t)C * C), BT, C, C);
	zero(a->dqkvr, 3 * btc);
	attention_backward(a->dqkvr, a->datty, qkvr, att, B, T, C, NH);
	if (c->pos == POS_ROPE) {
		zero(a->dqkv, 3 * btc);
		rope_backward(a->dqkv, a->dqkvr, m->rope_cos, m->rope_sin, B, T, C, NH);
	}
	matmul_backward(din, at(m->g.qkvw, l, 3 * (size_t)C * C), at(m->g.qkvb, l, 3 * C),
			a->dqkv, inp, at(m->w.qkvw, l, 3 * (size_t)C * C), BT, C, 3 * C);
}

/* din += the MLP branch's input gradient, given dout at its output. */
static void mlp_block_backward(gpt_model *m, int l, const float *inp, const float *dout,
			       float *din)
{
	const lm_config *c = &m->cfg;
	int BT = m->B * m->T, C = c->d_model, F = c->d_ff;
	gpt_acts *a = &m->acts;
	size_t btf = (size_t)BT * F;
	const float *fca = a->fca + l * btf, *fch = a->fch + l * btf;
	zero(a->dfch, btf);
	matmul_backward(a->dfch, at(m->g.fcprojw, l, (size_t)C * F), at(m->g.fcprojb, l, C),
			dout, fch, at(m->w.fcprojw, l, (size_t)C * F), BT, F, C);
	zero(a->dfca, btf);
	if (c->mlp == MLP_SWIGLU) {
		zero(a->dfcg, btf);
		swiglu_backward(a->dfca, a->dfcg, a->dfch, fca, a->fcg + l * btf, (long)btf);
		matmul_backward(din, at(m->g.fcgw, l, (size_t)F * C), at(m->g.fcgb, l, F),
				a->dfcg, inp, at(m->w.fcgw, l, (size_t)F * C), BT, C, F);
	} else if (c->mlp == MLP_SILU) {
		silu_backward(a->dfca, fca, a->dfch, (long)btf);
	} else {
		gelu_backward(a->dfca, fca, a->dfch, (long)btf);
	}
	matmul_backward(din, at(m->g.fcw, l, (size_t)F * C), at(m->g.fcb, l, F),
			a->dfca, inp, at(m->w.fcw, l, (size_t)F * C), BT, C, F);
}

/* On entry a->dx holds d loss / d x[l+1]; on return d loss / d x[l]. */
static void layer_backward(gpt_model *m, int l)
{
	const lm_config *c = &m->cfg;
	int BT = m->B * m->T, C = c->d_model;
	gpt_acts *a = &m->acts;
	size_t btc = (size_t)BT * C, bytes = btc * sizeof(float);
	const float *x = a->x + l * btc, *r1 = a->r1 + l * btc;
	const float *n1 = at(a->n1, l, btc);
	const float *n1m = at(a->n1_mean, l, BT), *n1r = at(a->n1_rstd, l, BT);
	const float *n2m = at(a->n2_mean, l, BT), *n2r = at(a->n2_rstd, l, BT);
	const float *ln1w = at(m->w.ln1w, l, C), *ln2w = at(m->w.ln2w, l, C);
	float *gln1w = at(m->g.ln1w, l, C), *gln1b = at(m->g.ln1b, l, C);
	float *gln2w = at(m->g.ln2w, l, C), *gln2b = at(m->g.ln2b, l, C);
	switch (c->norm) {
	case NORM_PRE:  /* xo = r1 + mlp(n2), n2 = norm2(r1), r1 = x + attn(n1), n1 = norm1(x) */
		zero(a->dn, btc);
		mlp_block_backward(m, l, a->n2 + l * btc, a->dx, a->dn);
		memcpy(a->dr, a->dx, bytes);
		norm_backward(m, a->dr, gln2w, gln2b, a->dn, r1, ln2w, n2m, n2r);
		zero(a->dn, btc);
		attn_block_backward(m, l, n1, a->dr, a->dn);
		norm_backward(m, a->dr, gln1w, gln1b, a->dn, x, ln1w, n1m, n1r);
		memcpy(a->dx, a->dr, bytes);
		break;
	case NORM_POST:  /* r1 = x + attn(x), n1 = norm1(r1), r2 = n1 + mlp(n1), xo = norm2(r2) */
		zero(a->dr, btc);
		norm_backward(m, a->dr, gln2w, gln2b, a->dx, a->r2 + l * btc, ln2w, n2m, n2r);
		memcpy(a->dn, a->dr, bytes);
		mlp_block_backward(m, l, n1, a->dr, a->dn);
		zero(a->dr, btc);
		norm_backward(m, a->dr, gln1w, gln1b, a->dn, r1, ln1w, n1m, n1r);
		memcpy(a->dx, a->dr, bytes);
		attn_block_backward(m, l, x, a->dr, a->dx);
		break;
	case NORM_NONE:  /* r1 = x + attn(x), xo = r1 + mlp(r1) */
		memcpy(a->dr, a->dx, bytes);
		mlp_block_backward(m, l, r1, a->dx, a->dr);
		memcpy(a->dx, a->dr, bytes);
		attn_block_backward(m, l, x, a->dr, a->dx);
		break;
	}
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
	if (c->norm != NORM_NONE) {
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
	for (int l = L - 1; l >= 0; l--)
		layer_backward(m, l);
	embedding_backward(m->g.wte, m->g.wpe, a->dx, m->inputs, m->B, m->T, C);
	m->has_targets = 0;  /* the logits now hold their gradient */
	return 0;
}
