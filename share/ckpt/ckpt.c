/*
 * ckpt.c — the mapping between our parameter tensors and HF's named tensors.
 *
 * Each of our tensors becomes one HF tensor, or three for the llama family's
 * fused qkv (q_proj, k_proj, v_proj). A part is a block of rows of our tensor
 * [row0, row0 + rows), stored transposed (GPT-2's Conv1D) or with q/k rows
 * permuted from adjacent-pair to half-split RoPE order.
 */
#include "ckpt/ckpt.h"
#include "ckpt/format.h"
#include "ckpt/gguf.h"
#include "ckpt/llmc.h"
#include "ckpt/safetensors.h"
#include "util/error.h"
#include "util/io.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- the name mapping ------------------------------------------------------- */

typedef struct {
	char name[96];
	const gpt_tensor *t;
	int row0, rows;     /* the block of our rows */
	int cols;           /* 0 for a vector */
	bool transpose;     /* HF stores (cols, rows) */
	bool rope_permute;  /* q or k rows: adjacent pairs -> halves, per head */
} hf_part;

static const char *gpt2_suffix(gpt_tensor_kind k)
{
	switch (k) {
	case GPT_WTE: return "wte.weight";
	case GPT_WPE: return "wpe.weight";
	case GPT_LN1W: return "ln_1.weight";
	case GPT_LN1B: return "ln_1.bias";
	case GPT_QKVW: return "attn.c_attn.weight";
	case GPT_QKVB: return "attn.c_attn.bias";
	case GPT_ATTPROJW: return "attn.c_proj.weight";
	case GPT_ATTPROJB: return "attn.c_proj.bias";
	case GPT_LN2W: return "ln_2.weight";
	case GPT_LN2B: return "ln_2.bias";
	case GPT_FCW: return "mlp.c_fc.weight";
	case GPT_FCB: return "mlp.c_fc.bias";
	case GPT_FCGW: return "mlp.c_gate.weight";
	case GPT_FCGB: return "mlp.c_gate.bias";
	case GPT_FCPROJW: return "mlp.c_proj.weight";
	case GPT_FCPROJB: return "mlp.c_proj.bias";
	case GPT_LNFW: return "ln_f.weight";
	case GPT_LNFB: return "ln_f.bias";
	default: return "lm_head.weight";
	}
}

static const char *llama_suffix(gpt_tensor_kind k, bool gated)
{
	switch (k) {
	case GPT_WTE: return "embed_tokens.weight";
	case GPT_WPE: return "embed_positions.weight";
	case GPT_LN1W: return "input_layernorm.weight";
	case GPT_LN1B: return "input_layernorm.bias";
	case GPT_QKVW: return "weight";   /* self_attn.{q,k,v}_proj. */
	case GPT_QKVB: return "bias";
	case GPT_ATTPROJW: return "self_attn.o_proj.weight";
	case GPT_ATTPROJB: return "self_attn.o_proj.bias";
	case GPT_LN2W: return "post_attention_layernorm.weight";
	case GPT_LN2B: return "post_attention_layernorm.bias";
	case GPT_FCW: return gated ? "mlp.gate_proj.weight" : "mlp.up_proj.weight";
	case GPT_FCB: return gated ? "mlp.gate_proj.bias" : "mlp.up_proj.bias";
	case GPT_FCGW: return "mlp.up_proj.weight";
	case GPT_FCGB: return "mlp.up_proj.bias";
	case GPT_FCPROJW: return "mlp.down_proj.weight";
	case GPT_FCPROJB: return "mlp.down_proj.bias";
	case GPT_LNFW: return "norm.weight";
	case GPT_LNFB: return "norm.bias";
	default: return "lm_head.weight";
	}
}

static bool is_vocab(gpt_tensor_kind k) { return k == GPT_WTE || k == GPT_LM_HEAD; }

/* The HF parts of every tensor of m; *n gets their number. */
static hf_part *hf_parts(const gpt_model *m, int *n)
{
	const lm_config *c = &m->cfg;
	hf_part *parts = calloc((size_t)m->num_tensors * 3, sizeof *parts);
	if (!parts) {
		lm_fail("out of memory");
		return NULL;
	}
	int np = 0;
	bool llama = c->family == FAMILY_LLAMA, gated = config_mlp_gated(c);
	for (int i = 0; i < m->num_tensors; i++) {
		const gpt_tensor *t = &m->tensors[i];
		hf_part base = {.t = t, .row0 = 0, .rows = t->shape[0],
				.cols = t->ndim == 2 ? t->shape[1] : 0};
		if (is_vocab(t->kind))
			base.rows = c->vocab_size;
		if (!llama) {
			base.transpose = t->ndim == 2 && !is_vocab(t->kind) && t->kind != GPT_WPE;
			if (t->kind == GPT_LM_HEAD)
				snprintf(base.name, sizeof base.name, "lm_head.weight");
			else if (t->layer < 0)
				snprintf(base.name, sizeof base.name, "transformer.%s", gpt2_suffix(t->kind));
			else
				snprintf(base.name, sizeof base.name, "transformer.h.%d.%s", t->layer,
					 gpt2_suffix(t->kind));
			parts[np++] = base;
			continue;
		}
		if (t->kind == GPT_QKVW || t->kind == GPT_QKVB) {
			static const char qkv[3] = {'q', 'k', 'v'};
			int C = c->d_model;
			for (int j = 0; j < 3; j++) {
				hf_part p = base;
				p.row0 = j * C;
				p.rows = C;
				p.rope_permute = j < 2;
				snprintf(p.name, sizeof p.name, "model.layers.%d.self_attn.%c_proj.%s",
					 t->layer, qkv[j], llama_suffix(t->kind, gated));
				parts[np++] = p;
			}
			continue;
		}
		if (t->kind == GPT_LM_HEAD)
			snprintf(base.name, sizeof base.name, "lm_head.weight");
		else if (t->layer < 0)
			snprintf(base.name, sizeof base.name, "model.%s", llama_suffix(t->kind, gated));
		else
			snprintf(base.name, sizeof base.name, "model.layers.%d.%s", t->layer,
				 llama_suffix(t->kind, gated));
		parts[np++] = base;
	}
	*n = np;
	return parts;
}

/* Our row for HF row r of a q/k block: HF's halves (i, i + HS/2) are our
 * adjacent pair (2i, 2i + 1). */
static int rope_row(int r, int HS)
{
	int h = r / HS, j = r % HS, half = HS / 2;
	return h * HS + (j < half ? 2 * j : 2 * (j - half) + 1);
}

static size_t part_numel(const hf_part *p) { return (size_t)p->rows * (size_t)(p->cols ? p->cols : 1); }

/* HF element of part p <-> our element, in either direction. */
static void part_copy(const gpt_model *m, const hf_part *p, float *hf, float *ours, bool to_hf)
{
	int HS = config_head_size(&m->cfg), cols = p->cols ? p->cols : 1;
	for (int r = 0; r < p->rows; r++) {
		int src_row = p->row0 + (p->rope_permute ? rope_row(r, HS) : r);
		float *o = ours + (size_t)src_row * (size_t)cols;
		for (int c = 0; c < cols; c++) {
			size_t h = p->transpose ? (size_t)c * (size_t)p->rows + (size_t)r
						: (size_t)r * (size_t)cols + (size_t)c;
			if (to_hf)
				hf[h] = o[c];
			else
				o[c] = hf[h];
		}
	}
}

static void part_shape(const hf_part *p, int *ndim, int64_t shape[ST_MAX_DIMS])
{
	*ndim = p->cols ? 2 : 1;
	shape[0] = p->transpose ? p->cols : p->rows;
	shape[1] = p->transpose ? p->rows : p->cols;
}

/* ---- saving ----------------------------------------------------------------- */

int ckpt_save(const gpt_model *m, const char *path, const char *const *meta, int nmeta,
	      bool overwrite)
{
	int n, rc = -1;
	hf_part *parts = hf_parts(m, &n);
	if (!parts)
		return -1;
	st_tensor *ts = calloc((size_t)n, sizeof *ts);
	float *buf = malloc(sizeof(float) * (m->num_params ? m->num_params : 1));
	char *cfg_json = config_to_json(&m->cfg);
	const char **all = calloc((size_t)(nmeta + 3) * 2, sizeof *all);
	if (!ts || !buf || !cfg_json || !all) {
		lm_fail("out of memory saving '%s'", path);
		goto out;
	}
	float *at = buf;
	for (int i = 0; i < n; i++) {
		part_copy(m, &parts[i], at, m->params + parts[i].t->offset, true);
		ts[i].name = parts[i].name;
		part_shape(&parts[i], &ts[i].ndim, ts[i].shape);
		ts[i].data = at;
		at += part_numel(&parts[i]);
	}
	const char *fixed[] = {"format", "pt", "producer", "lmpipe", "config", cfg_json};
	memcpy(all, fixed, sizeof fixed);
	for (int i = 0; i < 2 * nmeta; i++)
		all[6 + i] = meta[i];
	rc = st_write(path, ts, n, all, nmeta + 3, overwrite);
out:
	free(all);
	free(cfg_json);
	free(buf);
	free(ts);
	free(parts);
	return rc;
}

/* ---- loading ---------------------------------------------------------------- */

/* The name under which f holds part p: as is, or without the base prefix. */
static const char *find_name(const st_file *f, const char *name)
{
	int nd;
	int64_t shape[ST_MAX_DIMS];
	if (st_shape(f, name, &nd, shape))
		return name;
	static const char *const prefixes[] = {"transformer.", "model."};
	for (int i = 0; i < 2; i++) {
		size_t n = strlen(prefixes[i]);
		if (strncmp(name, prefixes[i], n) == 0 && st_shape(f, name + n, &nd, shape))
			return name + n;
	}
	return NULL;
}

static char *model_file(const char *path)
{
	struct stat st;
	char *file = malloc(strlen(path) + 32);
	if (!file)
		return NULL;
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		sprintf(file, "%s/model.safetensors", path);
	else
		strcpy(file, path);
	return file;
}

/* A NaN or an infinity in the weights would only come out as empty text or
 * a loss of nan much later: refuse it here, naming the tensor. */
static int check_finite(const st_file *f, const char *name, const float *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isfinite(v[i]))
			return lm_fail("'%s': tensor '%s' holds %s at element %zu (a diverged run?)",
				       st_path(f), name, isnan(v[i]) ? "NaN" : "an infinity", i);
	return 0;
}

int ckpt_load(gpt_model *m, const char *path)
{
	char *file = model_file(path);
	if (!file)
		return lm_fail("out of memory");
	st_file *f = st_open(file);
	free(file);
	if (!f)
		return -1;
	int n, rc = -1;
	hf_part *parts = hf_parts(m, &n);
	float *tmp = NULL;
	size_t tmp_size = 0;
	if (!parts)
		goto out;
	for (int i = 0; i < n; i++) {
		const char *name = find_name(f, parts[i].name);
		if (!name) {
			lm_fail("'%s': no tensor '%s' (is it a %s-family checkpoint?)", st_path(f),
				parts[i].name, config_family_name(m->cfg.family));
			goto out;
		}
		size_t need = part_numel(&parts[i]);
		if (need > tmp_size) {
			free(tmp);
			tmp = malloc(need * sizeof(float));
			tmp_size = need;
			if (!tmp) {
				lm_fail("out of memory loading '%s'", st_path(f));
				goto out;
			}
		}
		int nd;
		int64_t shape[ST_MAX_DIMS];
		part_shape(&parts[i], &nd, shape);
		if (st_read(f, name, nd, shape, tmp) != 0 || check_finite(f, name, tmp, need) != 0)
			goto out;
		part_copy(m, &parts[i], tmp, m->params + parts[i].t->offset, false);
	}
	/* the padded vocabulary rows: zero, whatever was there */
	const lm_config *c = &m->cfg;
	size_t pad = (size_t)(c->padded_vocab - c->vocab_size) * (size_t)c->d_model;
	memset(m->w.wte + (size_t)c->vocab_size * c->d_model, 0, pad * sizeof(float));
	if (!c->tied_head)
		memset(m->w.lm_head + (size_t)c->vocab_size * c->d_model, 0, pad * sizeof(float));
	rc = 0;
out:
	free(tmp);
	free(parts);
	st_close(f);
	return rc;
}

int ckpt_open_model(gpt_model *m, const char *path)
{
	lm_config cfg;
	ckpt_format fmt;
	memset(m, 0, sizeof *m);
	if (ckpt_sniff(path, &fmt) != 0)
		return -1;
	if (fmt == FMT_LLMC)
		return llmc_open_model(m, path);
	if (fmt == FMT_GGUF)
		return gguf_open_model(m, path);
	if (fmt != FMT_SAFETENSORS && fmt != FMT_HF_DIR)
		return lm_fail("'%s'%s%s%s is not a checkpoint we read (safetensors, a transformers "
			       "directory, llm.c's .bin, or GGUF)", path, fmt == FMT_UNKNOWN ? "" : " (",
			       fmt == FMT_UNKNOWN ? "" : ckpt_format_name(fmt),
			       fmt == FMT_UNKNOWN ? "" : ")");
	if (ckpt_load_config(&cfg, path) != 0 || config_finish(&cfg) != 0 || gpt_alloc(m, &cfg) != 0)
		return -1;
	if (ckpt_load(m, path) != 0) {
		gpt_free(m);
		return -1;
	}
	return 0;
}

/* ---- the tokenizer in the metadata ------------------------------------------- */

int ckpt_tokenizer_meta(const bpe_merges *tok, char **merges, char **specials)
{
	*merges = merges_text(tok);
	json_t *sp = json_array();
	for (uint32_t i = 0; sp && i < tok->n_specials; i++)
		json_array_append_new(sp, json_string(tok->specials[i]));
	*specials = sp ? json_dumps(sp, JSON_COMPACT) : NULL;
	json_decref(sp);
	if (*merges && *specials)
		return 0;
	free(*merges);
	free(*specials);
	*merges = *specials = NULL;
	return lm_fail("out of memory");
}

int ckpt_save_with_tokenizer(const gpt_model *m, const char *path, const bpe_merges *tok,
			     bool overwrite)
{
	if (!tok)
		return ckpt_save(m, path, NULL, 0, overwrite);
	char *merges, *specials;
	if (ckpt_tokenizer_meta(tok, &merges, &specials) != 0)
		return -1;
	const char *meta[] = {"tokenizer_merges", merges, "tokenizer_specials", specials};
	int rc = ckpt_save(m, path, meta, 2, overwrite);
	free(merges);
	free(specials);
	return rc;
}
