/*
 * gguf.c — the GGUF writer (see gguf.h).
 *
 * The key/values and tensor infos go to a memory stream first (their size
 * decides where the data starts), then header, infos and data to the file.
 */
#include "ckpt/gguf.h"
#include "ckpt/hf_dir.h"
#include "model/accounting.h"
#include "tok/alphabet.h"
#include "util/error.h"
#include "util/io.h"

#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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

/* ---- reading --------------------------------------------------------------------------- */

typedef struct {
	char *name;
	int nd;
	uint64_t ne[4];
	uint32_t type;
	uint64_t offset;
} gg_info;

typedef struct {
	FILE *fp;
	const char *path;
	uint64_t size;          /* of the file */
	uint64_t n_tensors, n_kv;
	gg_info *infos;
	uint64_t data_start;
	/* the key/values we use */
	char arch[64];
	uint32_t alignment;
	uint32_t ctx, embd, blocks, ff, heads, heads_kv;
	double eps, rope_base;
	bool has_eps;
	/* the tokenizer: where its arrays start (0 when absent) */
	long tokens_at, types_at, merges_at;
	uint64_t n_tokens, n_merges;
	char tok_model[64];
	char name[64];          /* general.name */
} gg_file;

static int rd(gg_file *g, void *p, size_t n)
{
	if (fread(p, 1, n, g->fp) != n)
		return lm_fail("'%s': truncated GGUF header", g->path);
	return 0;
}

static int rd_u32(gg_file *g, uint32_t *v) { return rd(g, v, 4); }
static int rd_u64(gg_file *g, uint64_t *v) { return rd(g, v, 8); }

/* A string into buf (cap bytes, truncated), or skipped when buf is NULL. */
static int rd_str(gg_file *g, char *buf, size_t cap)
{
	uint64_t n;
	if (rd_u64(g, &n) != 0)
		return -1;
	if (n > g->size)
		return lm_fail("'%s': a string of %llu bytes in a file of %llu", g->path,
			       (unsigned long long)n, (unsigned long long)g->size);
	if (!buf)
		return fseeko(g->fp, (off_t)n, SEEK_CUR) == 0 ? 0 : lm_fail("'%s': truncated", g->path);
	char skip[256];
	for (uint64_t done = 0; done < n;) {
		size_t k = n - done < sizeof skip ? (size_t)(n - done) : sizeof skip;
		if (rd(g, skip, k) != 0)
			return -1;
		if (done < cap - 1)
			memcpy(buf + done, skip, done + k < cap - 1 ? k : cap - 1 - done);
		done += k;
	}
	buf[n < cap - 1 ? n : cap - 1] = 0;
	return 0;
}

static size_t scalar_size(uint32_t type)
{
	static const size_t sizes[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
	return type < sizeof sizes / sizeof *sizes ? sizes[type] : 0;
}

/* A value of TYPE: a number into *num (when not NULL), a string into str. */
static int rd_value(gg_file *g, uint32_t type, double *num, char *str, size_t cap)
{
	if (type == GT_STRING)
		return rd_str(g, str, cap);
	if (type == GT_ARRAY) {
		uint32_t et;
		uint64_t n;
		if (rd_u32(g, &et) != 0 || rd_u64(g, &n) != 0)
			return -1;
		for (uint64_t i = 0; i < n; i++)
			if (rd_value(g, et, NULL, NULL, 0) != 0)
				return -1;
		return 0;
	}
	size_t sz = scalar_size(type);
	unsigned char b[8] = {0};
	if (!sz)
		return lm_fail("'%s': unknown GGUF value type %u", g->path, type);
	if (rd(g, b, sz) != 0)
		return -1;
	if (!num)
		return 0;
	uint32_t u32;
	uint64_t u64;
	float f;
	double d;
	memcpy(&u32, b, 4);
	memcpy(&u64, b, 8);
	memcpy(&f, b, 4);
	memcpy(&d, b, 8);
	switch (type) {
	case GT_UINT32: *num = u32; break;
	case GT_INT32: *num = (int32_t)u32; break;
	case GT_FLOAT32: *num = f; break;
	case 10: *num = (double)u64; break;   /* uint64 */
	case 11: *num = (double)(int64_t)u64; break;
	case 12: *num = d; break;
	default: *num = b[0]; break;
	}
	return 0;
}

/* KEY's number into *v: a whole number that a uint32 holds, else an error
 * (a cast of any other double is undefined). */
static int as_u32(const gg_file *g, const char *key, double num, uint32_t *v)
{
	if (!(num >= 0 && num <= UINT32_MAX) || num != floor(num))
		return lm_fail("'%s': %s is %g, not a whole number below 2^32", g->path, key, num);
	*v = (uint32_t)num;
	return 0;
}

/* arch.KEY's number into *v (uint32); 0 when KEY is another key */
static int take_u32(gg_file *g, const char *key, const char *want, double num, uint32_t *v)
{
	size_t n = strlen(g->arch);
	if (n && !strncmp(key, g->arch, n) && key[n] == '.' && !strcmp(key + n + 1, want))
		return as_u32(g, key, num, v);
	return 0;
}

static int read_kv(gg_file *g)
{
	char key[256], str[64];
	uint32_t type;
	double num = 0;
	if (rd_str(g, key, sizeof key) != 0 || rd_u32(g, &type) != 0)
		return -1;
	long at = ftello(g->fp);
	str[0] = 0;
	if (type == GT_ARRAY && !strncmp(key, "tokenizer.ggml.", 15)) {
		uint32_t et;
		uint64_t n;
		if (rd_u32(g, &et) != 0 || rd_u64(g, &n) != 0)
			return -1;
		if (!strcmp(key + 15, "tokens") && et == GT_STRING) {
			g->tokens_at = at;
			g->n_tokens = n;
		} else if (!strcmp(key + 15, "token_type") && et == GT_INT32) {
			g->types_at = at;
		} else if (!strcmp(key + 15, "merges") && et == GT_STRING) {
			g->merges_at = at;
			g->n_merges = n;
		}
		if (fseeko(g->fp, at, SEEK_SET) != 0)
			return lm_fail_errno("cannot seek in '%s'", g->path);
	}
	if (rd_value(g, type, &num, str, sizeof str) != 0)
		return -1;
	if (!strcmp(key, "general.architecture"))
		snprintf(g->arch, sizeof g->arch, "%s", str);
	else if (!strcmp(key, "general.name"))
		snprintf(g->name, sizeof g->name, "%s", str);
	else if (!strcmp(key, "general.alignment") && as_u32(g, key, num, &g->alignment) != 0)
		return -1;
	else if (!strcmp(key, "tokenizer.ggml.model"))
		snprintf(g->tok_model, sizeof g->tok_model, "%s", str);
	if (take_u32(g, key, "context_length", num, &g->ctx) != 0 ||
	    take_u32(g, key, "embedding_length", num, &g->embd) != 0 ||
	    take_u32(g, key, "block_count", num, &g->blocks) != 0 ||
	    take_u32(g, key, "feed_forward_length", num, &g->ff) != 0 ||
	    take_u32(g, key, "attention.head_count", num, &g->heads) != 0 ||
	    take_u32(g, key, "attention.head_count_kv", num, &g->heads_kv) != 0)
		return -1;
	size_t n = strlen(g->arch);
	if (n && !strncmp(key, g->arch, n) && key[n] == '.') {
		const char *k = key + n + 1;
		if (!strcmp(k, "attention.layer_norm_epsilon") ||
		    !strcmp(k, "attention.layer_norm_rms_epsilon")) {
			g->eps = num;
			g->has_eps = true;
		} else if (!strcmp(k, "rope.freq_base")) {
			g->rope_base = num;
		}
	}
	return 0;
}

static void gg_close(gg_file *g)
{
	for (uint64_t i = 0; g->infos && i < g->n_tensors; i++)
		free(g->infos[i].name);
	free(g->infos);
	if (g->fp)
		fclose(g->fp);
}

/* Tensor t's data lies inside the file, for the types we read (another
 * type is refused when read): so no size taken from the header is
 * allocated before the file bears it out. */
static int gg_check_extent(const gg_file *g, const gg_info *t)
{
	if (t->type != GGML_F32 && t->type != GGML_F16 && t->type != GGML_BF16)
		return 0;
	uint64_t bytes = type_size(t->type);
	for (int d = 0; d < t->nd; d++) {
		if (t->ne[d] && bytes > g->size / t->ne[d]) {
			bytes = UINT64_MAX;
			break;
		}
		bytes *= t->ne[d];
	}
	if (g->data_start > g->size || t->offset > g->size - g->data_start ||
	    bytes > g->size - g->data_start - t->offset)
		return lm_fail("'%s': tensor '%s' runs past the end of the file (truncated?)", g->path,
			       t->name);
	return 0;
}

/* Header, key/values and tensor infos, checked against the file's size. */
static int gg_open(gg_file *g, const char *path)
{
	memset(g, 0, sizeof *g);
	g->path = path;
	g->alignment = GGUF_ALIGNMENT;
	g->rope_base = 10000.0;
	if (!(g->fp = fopen(path, "rb")))
		return lm_fail_errno("cannot open '%s'", path);
	struct stat st;
	if (fstat(fileno(g->fp), &st) != 0)
		return lm_fail_errno("cannot stat '%s'", path);
	g->size = (uint64_t)st.st_size;
	char magic[4];
	uint32_t version;
	if (rd(g, magic, 4) != 0 || rd_u32(g, &version) != 0 || rd_u64(g, &g->n_tensors) != 0 ||
	    rd_u64(g, &g->n_kv) != 0)
		return -1;
	if (memcmp(magic, "GGUF", 4) != 0)
		return lm_fail("'%s': not a GGUF file (bad magic)", path);
	if (version != 2 && version != 3)
		return lm_fail("'%s': GGUF version %u (2 or 3 expected)", path, version);
	if (g->n_tensors > g->size / 16 || g->n_kv > g->size / 8)
		return lm_fail("'%s': %llu tensors and %llu keys do not fit in %llu bytes", path,
			       (unsigned long long)g->n_tensors, (unsigned long long)g->n_kv,
			       (unsigned long long)g->size);
	for (uint64_t i = 0; i < g->n_kv; i++)
		if (read_kv(g) != 0)
			return -1;
	if (!g->alignment || (g->alignment & (g->alignment - 1)))
		return lm_fail("'%s': alignment %u is not a power of two", path, g->alignment);
	if (!(g->infos = calloc(g->n_tensors ? g->n_tensors : 1, sizeof *g->infos)))
		return lm_fail("out of memory");
	for (uint64_t i = 0; i < g->n_tensors; i++) {
		gg_info *t = &g->infos[i];
		uint32_t nd;
		char name[128];
		if (rd_str(g, name, sizeof name) != 0 || rd_u32(g, &nd) != 0)
			return -1;
		if (nd < 1 || nd > 4)
			return lm_fail("'%s': tensor '%s' has %u dimensions", path, name, nd);
		t->nd = (int)nd;
		for (uint32_t d = 0; d < nd; d++)
			if (rd_u64(g, &t->ne[d]) != 0)
				return -1;
		if (rd_u32(g, &t->type) != 0 || rd_u64(g, &t->offset) != 0 || !(t->name = strdup(name)))
			return -1;
	}
	uint64_t at = (uint64_t)ftello(g->fp), a = g->alignment;
	g->data_start = (at + a - 1) / a * a;
	for (uint64_t i = 0; i < g->n_tensors; i++)
		if (gg_check_extent(g, &g->infos[i]) != 0)
			return -1;
	return 0;
}

static const gg_info *gg_find(const gg_file *g, const char *name)
{
	for (uint64_t i = 0; i < g->n_tensors; i++)
		if (!strcmp(g->infos[i].name, name))
			return &g->infos[i];
	return NULL;
}

static int gg_config(const gg_file *g, lm_config *c)
{
	bool gpt2 = !strcmp(g->arch, "gpt2");
	if (!gpt2 && strcmp(g->arch, "llama") != 0)
		return lm_fail("'%s': llama.cpp architecture '%s'; we read gpt2 and llama", g->path,
			       g->arch);
	const gg_info *emb = gg_find(g, "token_embd.weight");
	if (!emb || emb->nd != 2)
		return lm_fail("'%s': no 2-D token_embd.weight", g->path);
	if (g->heads_kv && g->heads_kv != g->heads)
		return lm_fail("'%s': %u key/value heads for %u query heads (grouped-query "
			       "attention) is not a model we have", g->path, g->heads_kv, g->heads);
	config_family_defaults(c, gpt2 ? FAMILY_GPT2 : FAMILY_LLAMA);
	const char *base = strrchr(g->path, '/');
	snprintf(c->name, sizeof c->name, "%s", g->name[0] ? g->name : base ? base + 1 : g->path);
	c->n_layer = (int)g->blocks;
	c->d_model = (int)g->embd;
	c->n_head = (int)g->heads;
	c->d_ff = (int)g->ff;
	c->ctx = (int)g->ctx;
	c->vocab_size = (int)emb->ne[1];
	if (g->has_eps)
		c->norm_eps = g->eps;
	c->rope_theta = g->rope_base;
	c->bias = gpt2;
	if (c->d_ff <= 0 || c->ctx <= 0 || (uint64_t)c->d_model != emb->ne[0])
		return lm_fail("'%s': its sizes (embedding %u, ff %u, context %u) disagree with "
			       "token_embd.weight", g->path, g->embd, g->ff, g->ctx);
	if (config_finish(c) != 0)
		return lm_fail("'%s': %s", g->path, lm_last_error());
	return 0;
}

/* Read tensor t's data into out (n floats), its dims checked to be [cols, rows]. */
static int gg_read(gg_file *g, const gg_info *t, const gg_tensor *want, float *out)
{
	uint64_t rows = want->nd == 2 ? want->ne[1] : 1;
	bool same = t->ne[0] == want->ne[0] && (t->nd == 1 ? 1 : t->ne[1]) == rows;
	for (int d = 2; d < t->nd; d++)
		same = same && t->ne[d] == 1;
	if (!same)
		return lm_fail("'%s': tensor '%s' is [%llu, %llu], the header's sizes say [%llu, %llu]",
			       g->path, t->name, (unsigned long long)t->ne[0],
			       (unsigned long long)(t->nd > 1 ? t->ne[1] : 1),
			       (unsigned long long)want->ne[0], (unsigned long long)rows);
	if (t->type != GGML_F32 && t->type != GGML_F16 && t->type != GGML_BF16)
		return lm_fail("'%s': tensor '%s' has ggml type %u; we read f32, f16 and bf16 "
			       "(not quantized ones)", g->path, t->name, t->type);
	ckpt_dtype dt = t->type == GGML_F32 ? DT_F32 : t->type == GGML_F16 ? DT_F16 : DT_BF16;
	size_t n = (size_t)(want->ne[0] * rows);
	uint64_t begin = g->data_start + t->offset;
	if (t->offset > g->size || begin + n * type_size(t->type) > g->size)
		return lm_fail("'%s': tensor '%s' runs past the end of the file (truncated?)",
			       g->path, t->name);
	if (fseeko(g->fp, (off_t)begin, SEEK_SET) != 0 || ckpt_read_floats(g->fp, out, n, dt) != 0)
		return lm_fail("'%s': cannot read tensor '%s'", g->path, t->name);
	return 0;
}

/* A tied head: no output.weight, or one equal to token_embd. */
static int gg_tied(gg_file *g, const gg_info *out, const gg_info *emb, size_t n, bool *tied)
{
	*tied = true;
	if (!out)
		return 0;
	if (out->type != emb->type || out->ne[0] != emb->ne[0] || out->ne[1] != emb->ne[1]) {
		*tied = false;
		return 0;
	}
	size_t bytes = n * type_size(emb->type);
	unsigned char *a = malloc(bytes ? bytes : 1), *b = malloc(bytes ? bytes : 1);
	int rc = -1;
	if (!a || !b) {
		lm_fail("out of memory");
		goto out;
	}
	if (g->data_start + out->offset + bytes > g->size || g->data_start + emb->offset + bytes > g->size) {
		lm_fail("'%s': the embedding runs past the end of the file (truncated?)", g->path);
		goto out;
	}
	if (fseeko(g->fp, (off_t)(g->data_start + emb->offset), SEEK_SET) != 0 ||
	    fread(a, 1, bytes, g->fp) != bytes ||
	    fseeko(g->fp, (off_t)(g->data_start + out->offset), SEEK_SET) != 0 ||
	    fread(b, 1, bytes, g->fp) != bytes) {
		lm_fail("'%s': cannot read its embedding", g->path);
		goto out;
	}
	*tied = memcmp(a, b, bytes) == 0;
	rc = 0;
out:
	free(a);
	free(b);
	return rc;
}

/* The config, its head tied or not, of the open file g. */
static int gg_full_config(gg_file *g, lm_config *c)
{
	if (gg_config(g, c) != 0)
		return -1;
	const gg_info *emb = gg_find(g, "token_embd.weight");
	return gg_tied(g, gg_find(g, "output.weight"), emb, (size_t)(emb->ne[0] * emb->ne[1]),
		       &c->tied_head);
}

int gguf_config(lm_config *c, const char *path)
{
	gg_file g;
	int rc = gg_open(&g, path) == 0 && gg_full_config(&g, c) == 0 ? 0 : -1;
	gg_close(&g);
	return rc;
}

/* The file can hold a model of config c: at two bytes a parameter at the
 * least, so a header's sizes are not allocated before the file bears them
 * out. */
static int gg_holds(const gg_file *g, const lm_config *c)
{
	lm_accounting a;
	accounting_compute(c, c->ctx, &a);
	if (a.p_total > g->size / 2)
		return lm_fail("'%s': a model of %llu parameters cannot be in %llu bytes (truncated?)",
			       g->path, (unsigned long long)a.p_total, (unsigned long long)g->size);
	return 0;
}

int gguf_open_model(gpt_model *m, const char *path)
{
	memset(m, 0, sizeof *m);
	gg_file g;
	lm_config c;
	gg_list l = {.mtype = GGML_F32};
	int rc = -1;
	if (gg_open(&g, path) != 0 || gg_full_config(&g, &c) != 0 || gg_holds(&g, &c) != 0 ||
	    gpt_alloc(m, &c) != 0 || list_tensors(m, &l) != 0)
		goto out;
	for (int i = 0; i < l.n; i++) {
		if (c.tied_head && !strcmp(l.t[i].name, "output.weight"))
			continue;
		const gg_info *t = gg_find(&g, l.t[i].name);
		if (!t) {
			lm_fail("'%s': no tensor '%s' (a %s model needs it)", path, l.t[i].name, g.arch);
			goto out;
		}
		if (gg_read(&g, t, &l.t[i], (float *)l.t[i].data) != 0)
			goto out;
	}
	rc = 0;
out:
	free(l.t);
	gg_close(&g);
	if (rc != 0 && m->params)
		gpt_free(m);
	return rc;
}

/* ---- reading the tokenizer ---------------------------------------------------------------- */

/* String i of the string array at AT (where its element type begins);
 * *s allocated, *len its length. */
static int gg_string_at(gg_file *g, long at, uint64_t i, char **s, uint64_t *len)
{
	if (fseeko(g->fp, at + 12, SEEK_SET) != 0)
		return lm_fail_errno("cannot seek in '%s'", g->path);
	for (uint64_t k = 0; k < i; k++)
		if (rd_str(g, NULL, 0) != 0)
			return -1;
	if (rd_u64(g, len) != 0)
		return -1;
	if (*len > g->size || !(*s = malloc(*len + 1)))
		return lm_fail("'%s': a string of %llu bytes", g->path, (unsigned long long)*len);
	if (rd(g, *s, *len) != 0) {
		free(*s);
		return -1;
	}
	(*s)[*len] = 0;
	return 0;
}

int gguf_tokenizer_meta(const char *path, char **merges, char **specials)
{
	gg_file g;
	*merges = *specials = NULL;
	int rc = gg_open(&g, path);
	if (rc != 0)
		goto out;
	if (strcmp(g.tok_model, "gpt2") != 0 || !g.tokens_at || !g.merges_at || !g.types_at) {
		rc = 1;
		goto out;
	}
	char *text = NULL;
	size_t text_len = 0;
	FILE *fp = open_memstream(&text, &text_len);
	json_t *sp = json_array();
	if (!fp || !sp) {
		rc = lm_fail("out of memory");
		goto out;
	}
	fputs("#version: 0.2\n", fp);
	if (fseeko(g.fp, g.merges_at + 12, SEEK_SET) != 0)
		rc = lm_fail_errno("cannot seek in '%s'", path);
	for (uint64_t i = 0; rc == 0 && i < g.n_merges; i++) {
		uint64_t n;
		char buf[1024];
		if (rd_u64(&g, &n) != 0 || n >= sizeof buf || rd(&g, buf, n) != 0)
			rc = lm_fail("'%s': merge %llu unreadable", path, (unsigned long long)i);
		else {
			fwrite(buf, 1, n, fp);
			fputc('\n', fp);
		}
	}
	/* the control tokens after the merges, in id order */
	for (uint64_t id = 256 + g.n_merges; rc == 0 && id < g.n_tokens; id++) {
		int32_t type;
		if (fseeko(g.fp, g.types_at + 12 + (long)(4 * id), SEEK_SET) != 0 || rd(&g, &type, 4) != 0) {
			rc = -1;
			break;
		}
		if (type != TOKEN_CONTROL)
			continue;
		char *s;
		uint64_t len;
		if (gg_string_at(&g, g.tokens_at, id, &s, &len) != 0) {
			rc = -1;
			break;
		}
		json_array_append_new(sp, json_string(s));
		free(s);
	}
	if (fclose(fp) != 0 && rc == 0)
		rc = lm_fail("out of memory");
	*specials = rc == 0 ? json_dumps(sp, JSON_COMPACT) : NULL;
	json_decref(sp);
	if (rc == 0 && !*specials)
		rc = lm_fail("out of memory");
	if (rc == 0)
		*merges = text;
	else
		free(text);
out:
	gg_close(&g);
	return rc;
}
