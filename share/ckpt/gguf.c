/*
 * gguf.c — the GGUF writer (see gguf.h).
 *
 * The key/values and tensor infos go to a memory stream first (their size
 * decides where the data starts), then header, infos and data to the file.
 */
#include "ckpt/gguf.h"
#include "ckpt/hf_dir.h"
#include "tok/alphabet.h"
#include "util/error.h"
#include "util/io.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GGUF_ALIGNMENT 32

/* gguf_type: the types of key/values */
enum { GT_UINT32 = 4, GT_INT32 = 5, GT_FLOAT32 = 6, GT_BOOL = 7, GT_STRING = 8, GT_ARRAY = 9 };
/* ggml_type */
enum { GGML_F32 = 0, GGML_F16 = 1, GGML_BF16 = 30 };
/* llama_ftype: the file's "mostly" type */
enum { FTYPE_ALL_F32 = 0, FTYPE_MOSTLY_F16 = 1, FTYPE_MOSTLY_BF16 = 32 };
/* llama_token_type */
enum { TOKEN_NORMAL = 1, TOKEN_CONTROL = 3, TOKEN_UNUSED = 5 };

/* ---- what llama.cpp expresses ----------------------------------------------------- */

int gguf_check(const lm_config *c)
{
	if (c->family == FAMILY_GPT2) {
		if (c->norm == NORM_PRE && c->pos == POS_LEARNED && c->mlp == MLP_GELU && c->bias)
			return 0;
	} else if (c->norm == NORM_PRE && c->pos == POS_ROPE && c->mlp == MLP_SWIGLU && !c->bias) {
		return 0;
	}
	return lm_fail("model '%s': llama.cpp's %s architecture has no %s/%s/%s%s variant",
		       c->name, c->family == FAMILY_GPT2 ? "gpt2" : "llama", config_norm_name(c->norm),
		       config_positions_name(c->pos), config_mlp_name(c->mlp),
		       c->bias ? "/biased" : "/bias-free");
}

/* ---- the tensors --------------------------------------------------------------------- */

typedef struct {
	char name[64];
	uint64_t ne[2];     /* ne[0] fastest: a matrix (out, in) is [in, out] */
	int nd;
	const float *data;  /* ne[0] * ne[1] floats, contiguous */
	uint32_t type;
	uint64_t offset;
} gg_tensor;

typedef struct {
	gg_tensor *t;
	int n, cap;
	uint32_t mtype;     /* the matrices' ggml type */
} gg_list;

static int add(gg_list *l, const char *name, const float *data, int rows, int cols)
{
	if (l->n == l->cap) {
		int cap = l->cap ? 2 * l->cap : 64;
		gg_tensor *t = realloc(l->t, (size_t)cap * sizeof *t);
		if (!t)
			return lm_fail("out of memory");
		l->t = t;
		l->cap = cap;
	}
	gg_tensor *t = &l->t[l->n++];
	memset(t, 0, sizeof *t);
	snprintf(t->name, sizeof t->name, "%s", name);
	t->data = data;
	if (cols) {
		t->nd = 2;
		t->ne[0] = (uint64_t)cols;
		t->ne[1] = (uint64_t)rows;
		t->type = l->mtype;
	} else {
		t->nd = 1;
		t->ne[0] = (uint64_t)rows;
		t->ne[1] = 1;
		t->type = GGML_F32;
	}
	return 0;
}

/* blk.L.NAME.weight (or .bias) */
static int add_blk(gg_list *l, int layer, const char *name, const float *data, int rows, int cols)
{
	char full[64];
	snprintf(full, sizeof full, "blk.%d.%s", layer, name);
	return add(l, full, data, rows, cols);
}

static int list_tensors(const gpt_model *m, gg_list *l)
{
	const lm_config *c = &m->cfg;
	const gpt_weights *w = &m->w;
	size_t C = (size_t)c->d_model, F = (size_t)c->d_ff;
	int V = c->vocab_size, iC = c->d_model, iF = c->d_ff;
	bool gpt2 = c->family == FAMILY_GPT2;
	int rc = add(l, "token_embd.weight", w->wte, V, iC);
	if (rc == 0 && gpt2)
		rc = add(l, "position_embd.weight", w->wpe, c->ctx, iC);
	for (int i = 0; rc == 0 && i < c->n_layer; i++) {
		size_t L = (size_t)i;
		const float *qkv = w->qkvw + L * 3 * C * C;
		rc = add_blk(l, i, "attn_norm.weight", w->ln1w + L * C, iC, 0);
		if (gpt2) {
			rc = rc ? rc : add_blk(l, i, "attn_norm.bias", w->ln1b + L * C, iC, 0);
			rc = rc ? rc : add_blk(l, i, "attn_qkv.weight", qkv, 3 * iC, iC);
			rc = rc ? rc : add_blk(l, i, "attn_qkv.bias", w->qkvb + L * 3 * C, 3 * iC, 0);
		} else {
			rc = rc ? rc : add_blk(l, i, "attn_q.weight", qkv, iC, iC);
			rc = rc ? rc : add_blk(l, i, "attn_k.weight", qkv + C * C, iC, iC);
			rc = rc ? rc : add_blk(l, i, "attn_v.weight", qkv + 2 * C * C, iC, iC);
		}
		rc = rc ? rc : add_blk(l, i, "attn_output.weight", w->attprojw + L * C * C, iC, iC);
		rc = rc ? rc : add_blk(l, i, "ffn_norm.weight", w->ln2w + L * C, iC, 0);
		if (gpt2) {
			rc = rc ? rc : add_blk(l, i, "attn_output.bias", w->attprojb + L * C, iC, 0);
			rc = rc ? rc : add_blk(l, i, "ffn_norm.bias", w->ln2b + L * C, iC, 0);
			rc = rc ? rc : add_blk(l, i, "ffn_up.weight", w->fcw + L * F * C, iF, iC);
			rc = rc ? rc : add_blk(l, i, "ffn_up.bias", w->fcb + L * F, iF, 0);
			rc = rc ? rc : add_blk(l, i, "ffn_down.bias", w->fcprojb + L * C, iC, 0);
		} else {
			/* our W1 is the activated one: llama.cpp's gate; W3 its up */
			rc = rc ? rc : add_blk(l, i, "ffn_gate.weight", w->fcw + L * F * C, iF, iC);
			rc = rc ? rc : add_blk(l, i, "ffn_up.weight", w->fcgw + L * F * C, iF, iC);
		}
		rc = rc ? rc : add_blk(l, i, "ffn_down.weight", w->fcprojw + L * C * F, iC, iF);
	}
	if (rc == 0)
		rc = add(l, "output_norm.weight", w->lnfw, iC, 0);
	if (rc == 0 && gpt2)
		rc = add(l, "output_norm.bias", w->lnfb, iC, 0);
	/* the head always, tied or not, as llama.cpp's converter writes GPT-2's */
	if (rc == 0)
		rc = add(l, "output.weight", w->lm_head ? w->lm_head : w->wte, V, iC);
	return rc;
}

static size_t type_size(uint32_t type)
{
	return type == GGML_F32 ? 4 : 2;
}

static uint64_t align_up(uint64_t x)
{
	return (x + GGUF_ALIGNMENT - 1) / GGUF_ALIGNMENT * GGUF_ALIGNMENT;
}

/* ---- key/values ------------------------------------------------------------------------ */

typedef struct {
	FILE *fp;
	uint64_t n;
} gg_kv;

static void put_u32(FILE *fp, uint32_t v) { fwrite(&v, 4, 1, fp); }
static void put_u64(FILE *fp, uint64_t v) { fwrite(&v, 8, 1, fp); }

static void put_str(FILE *fp, const char *s, size_t n)
{
	put_u64(fp, n);
	fwrite(s, 1, n, fp);
}

static void kv_key(gg_kv *kv, const char *key, uint32_t type)
{
	put_str(kv->fp, key, strlen(key));
	put_u32(kv->fp, type);
	kv->n++;
}

static void kv_u32(gg_kv *kv, const char *key, uint32_t v)
{
	kv_key(kv, key, GT_UINT32);
	put_u32(kv->fp, v);
}

static void kv_f32(gg_kv *kv, const char *key, double v)
{
	float f = (float)v;
	kv_key(kv, key, GT_FLOAT32);
	fwrite(&f, 4, 1, kv->fp);
}

static void kv_bool(gg_kv *kv, const char *key, bool v)
{
	uint8_t b = v;
	kv_key(kv, key, GT_BOOL);
	fwrite(&b, 1, 1, kv->fp);
}

static void kv_str(gg_kv *kv, const char *key, const char *v)
{
	kv_key(kv, key, GT_STRING);
	put_str(kv->fp, v, strlen(v));
}

static void kv_array(gg_kv *kv, const char *key, uint32_t type, uint64_t n)
{
	kv_key(kv, key, GT_ARRAY);
	put_u32(kv->fp, type);
	put_u64(kv->fp, n);
}

/* "gpt2.block_count" and the like */
static void kv_arch_u32(gg_kv *kv, const char *arch, const char *key, uint32_t v)
{
	char full[96];
	snprintf(full, sizeof full, "%s.%s", arch, key);
	kv_u32(kv, full, v);
}

static void kv_arch_f32(gg_kv *kv, const char *arch, const char *key, double v)
{
	char full[96];
	snprintf(full, sizeof full, "%s.%s", arch, key);
	kv_f32(kv, full, v);
}

static void model_kvs(gg_kv *kv, const lm_config *c, ckpt_dtype dt)
{
	const char *arch = c->family == FAMILY_GPT2 ? "gpt2" : "llama";
	kv_str(kv, "general.architecture", arch);
	kv_str(kv, "general.name", c->name);
	kv_u32(kv, "general.file_type", dt == DT_F32 ? FTYPE_ALL_F32
				       : dt == DT_F16 ? FTYPE_MOSTLY_F16 : FTYPE_MOSTLY_BF16);
	kv_u32(kv, "general.alignment", GGUF_ALIGNMENT);
	kv_arch_u32(kv, arch, "context_length", (uint32_t)c->ctx);
	kv_arch_u32(kv, arch, "embedding_length", (uint32_t)c->d_model);
	kv_arch_u32(kv, arch, "block_count", (uint32_t)c->n_layer);
	kv_arch_u32(kv, arch, "feed_forward_length", (uint32_t)c->d_ff);
	kv_arch_u32(kv, arch, "attention.head_count", (uint32_t)c->n_head);
	if (c->family == FAMILY_GPT2) {
		kv_arch_f32(kv, arch, "attention.layer_norm_epsilon", c->norm_eps);
		return;
	}
	kv_arch_u32(kv, arch, "attention.head_count_kv", (uint32_t)c->n_head);
	kv_arch_f32(kv, arch, "attention.layer_norm_rms_epsilon", c->norm_eps);
	kv_arch_f32(kv, arch, "rope.freq_base", c->rope_theta);
	kv_arch_u32(kv, arch, "rope.dimension_count", (uint32_t)config_head_size(c));
	kv_arch_u32(kv, arch, "vocab_size", (uint32_t)c->vocab_size);
}

/* The V tokens in GPT-2's alphabet (specials as text), "[PADn]" past tok's. */
static int tokenizer_kvs(gg_kv *kv, const bpe_merges *tok, int V)
{
	uint32_t longest = 1, first_special = 256 + tok->n_merges;
	for (uint32_t i = 0; i < tok->vocab_size; i++)
		if (tok->token_len[i] > longest)
			longest = tok->token_len[i];
	char *a = malloc(4 * (size_t)longest + 32), *b = malloc(2 * (size_t)longest + 1);
	if (!a || !b) {
		free(a);
		free(b);
		return lm_fail("out of memory");
	}
	int eot = hf_dir_eot(tok);
	kv_str(kv, "tokenizer.ggml.model", "gpt2");
	kv_str(kv, "tokenizer.ggml.pre", "gpt-2");
	kv_array(kv, "tokenizer.ggml.tokens", GT_STRING, (uint64_t)V);
	for (uint32_t id = 0; id < (uint32_t)V; id++) {
		size_t n;
		if (id >= tok->vocab_size)
			n = (size_t)snprintf(a, 32, "[PAD%u]", id);
		else if (id >= first_special)
			memcpy(a, tok->token_bytes[id], n = tok->token_len[id]);
		else
			n = alphabet_encode(tok->token_bytes[id], tok->token_len[id], a);
		put_str(kv->fp, a, n);
	}
	kv_array(kv, "tokenizer.ggml.token_type", GT_INT32, (uint64_t)V);
	for (uint32_t id = 0; id < (uint32_t)V; id++) {
		int32_t t = id >= tok->vocab_size ? TOKEN_UNUSED
			  : id >= first_special ? TOKEN_CONTROL : TOKEN_NORMAL;
		fwrite(&t, 4, 1, kv->fp);
	}
	kv_array(kv, "tokenizer.ggml.merges", GT_STRING, tok->n_merges);
	for (uint32_t i = 0; i < tok->n_merges; i++) {
		bpe_pair p = tok->merges[i];
		size_t n = alphabet_encode(tok->token_bytes[p.left], tok->token_len[p.left], a);
		size_t k = alphabet_encode(tok->token_bytes[p.right], tok->token_len[p.right], b);
		a[n] = ' ';
		memcpy(a + n + 1, b, k);
		put_str(kv->fp, a, n + 1 + k);
	}
	if (eot >= 0) {
		kv_u32(kv, "tokenizer.ggml.bos_token_id", (uint32_t)eot);
		kv_u32(kv, "tokenizer.ggml.eos_token_id", (uint32_t)eot);
	}
	kv_bool(kv, "tokenizer.ggml.add_bos_token", false);
	kv_bool(kv, "tokenizer.ggml.add_eos_token", false);
	free(a);
	free(b);
	return 0;
}

/* ---- the file ---------------------------------------------------------------------------- */

static void tensor_infos(FILE *fp, gg_list *l)
{
	uint64_t at = 0;
	for (int i = 0; i < l->n; i++) {
		gg_tensor *t = &l->t[i];
		t->offset = at;
		put_str(fp, t->name, strlen(t->name));
		put_u32(fp, (uint32_t)t->nd);
		for (int d = 0; d < t->nd; d++)
			put_u64(fp, t->ne[d]);
		put_u32(fp, t->type);
		put_u64(fp, t->offset);
		at = align_up(at + t->ne[0] * t->ne[1] * type_size(t->type));
	}
}

static int pad_to(FILE *fp, uint64_t *at)
{
	static const char zeros[GGUF_ALIGNMENT];
	uint64_t to = align_up(*at);
	if (to > *at && fwrite(zeros, 1, to - *at, fp) != to - *at)
		return -1;
	*at = to;
	return 0;
}

static int write_data(FILE *fp, const gg_list *l, uint64_t at)
{
	for (int i = 0; i < l->n; i++) {
		const gg_tensor *t = &l->t[i];
		ckpt_dtype dt = t->type == GGML_F32 ? DT_F32 : t->type == GGML_F16 ? DT_F16 : DT_BF16;
		size_t n = t->ne[0] * t->ne[1];
		if (pad_to(fp, &at) != 0 || ckpt_write_floats(fp, t->data, n, dt) != 0)
			return -1;
		at += n * type_size(t->type);
	}
	return pad_to(fp, &at);
}

int gguf_save(const gpt_model *m, const bpe_merges *tok, const char *path, ckpt_dtype dt,
	      bool overwrite)
{
	const lm_config *c = &m->cfg;
	if (gguf_check(c) != 0)
		return -1;
	if (!tok)
		return lm_fail("'%s': GGUF carries the tokenizer, and this model has none (give "
			       "--tokenizer FILE)", path);
	if (tok->vocab_size > (uint32_t)c->vocab_size)
		return lm_fail("'%s': the tokenizer has %u tokens, the model's vocabulary %d", path,
			       tok->vocab_size, c->vocab_size);
	gg_list l = {.mtype = dt == DT_F32 ? GGML_F32 : dt == DT_F16 ? GGML_F16 : GGML_BF16};
	char *meta = NULL;
	size_t meta_len = 0;
	gg_kv kv = {.fp = open_memstream(&meta, &meta_len)};
	int rc = -1;
	if (!kv.fp) {
		lm_fail("out of memory");
		goto out;
	}
	model_kvs(&kv, c, dt);
	if (tokenizer_kvs(&kv, tok, c->vocab_size) != 0 || list_tensors(m, &l) != 0)
		goto out;
	tensor_infos(kv.fp, &l);
	if (fclose(kv.fp) != 0) {
		kv.fp = NULL;
		lm_fail("out of memory");
		goto out;
	}
	kv.fp = NULL;
	atomic_file af;
	if (atomic_file_open(&af, path, overwrite) != 0)
		goto out;
	uint64_t at = 4 + 4 + 8 + 8 + meta_len;
	uint32_t version = GGUF_VERSION;
	uint64_t counts[2] = {(uint64_t)l.n, kv.n};
	int bad = fwrite("GGUF", 1, 4, af.fp) != 4 || fwrite(&version, 4, 1, af.fp) != 1 ||
		  fwrite(counts, 8, 2, af.fp) != 2 || fwrite(meta, 1, meta_len, af.fp) != meta_len ||
		  pad_to(af.fp, &at) != 0 || write_data(af.fp, &l, 0) != 0;
	if (bad) {
		lm_fail_errno("cannot write '%s'", path);
		atomic_file_abort(&af);
		goto out;
	}
	rc = atomic_file_commit(&af);
out:
	if (kv.fp)
		fclose(kv.fp);
	free(meta);
	free(l.t);
	return rc;
}
