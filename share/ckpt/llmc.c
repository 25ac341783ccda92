/*
 * llmc.c — llm.c's checkpoint and tokenizer files (see llmc.h).
 */
#include "ckpt/llmc.h"
#include "tok/tiktoken_ranks.h"
#include "util/error.h"
#include "util/io.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum { H_MAGIC, H_VERSION, H_CTX, H_VOCAB, H_LAYERS, H_HEADS, H_CHANNELS, H_PADDED_VOCAB };
enum { VERSION_F32 = 3, VERSION_BF16 = 5 };
#define LLMC_NORM_EPS 1e-5   /* llm.c's layernorm_forward */
#define LLMC_TOKENIZER_V1_EOT 50256
#define NUM_PARTS 15

/* ---- the tensors, in the file's order --------------------------------------- */

typedef struct {
	float *p;
	size_t n;
} llmc_part;

/* Every tensor after wte, in llm.c's order (wte is (Vp, C), Vp the file's). */
static void layout(const gpt_model *m, llmc_part parts[NUM_PARTS])
{
	const lm_config *c = &m->cfg;
	size_t L = (size_t)c->n_layer, C = (size_t)c->d_model, F = (size_t)c->d_ff;
	const gpt_weights *w = &m->w;
	llmc_part p[NUM_PARTS] = {
		{w->wpe, (size_t)c->ctx * C}, {w->ln1w, L * C}, {w->ln1b, L * C},
		{w->qkvw, L * 3 * C * C}, {w->qkvb, L * 3 * C}, {w->attprojw, L * C * C},
		{w->attprojb, L * C}, {w->ln2w, L * C}, {w->ln2b, L * C}, {w->fcw, L * F * C},
		{w->fcb, L * F}, {w->fcprojw, L * C * F}, {w->fcprojb, L * C}, {w->lnfw, C},
		{w->lnfb, C},
	};
	memcpy(parts, p, sizeof p);
}

int llmc_check(const lm_config *c)
{
	if (c->family != FAMILY_GPT2 || c->norm != NORM_PRE || c->pos != POS_LEARNED ||
	    c->mlp != MLP_GELU || !c->bias || !c->tied_head || c->d_ff != 4 * c->d_model)
		return lm_fail("model '%s': llm.c's checkpoint holds only GPT-2 (pre-norm, learned "
			       "positions, GELU MLP of width 4C, biases, tied head), not this "
			       "%s/%s/%s/%s%s%s model", c->name, config_family_name(c->family),
			       config_norm_name(c->norm), config_positions_name(c->pos),
			       config_mlp_name(c->mlp), c->bias ? "" : "/bias-free",
			       c->tied_head ? "" : "/untied");
	if (c->norm_eps != LLMC_NORM_EPS)
		return lm_fail("model '%s': llm.c's LayerNorm epsilon is 1e-5, not %g", c->name,
			       c->norm_eps);
	return 0;
}

/* ---- the checkpoint: reading ------------------------------------------------ */

static int read_header(FILE *fp, const char *path, int32_t h[LLMC_HEADER_INTS], uint32_t magic,
		       const char *what)
{
	if (fread(h, sizeof(int32_t), LLMC_HEADER_INTS, fp) != LLMC_HEADER_INTS)
		return lm_fail("'%s': truncated %s header (%d bytes expected)", path, what,
			       (int)(LLMC_HEADER_INTS * sizeof(int32_t)));
	if ((uint32_t)h[H_MAGIC] != magic)
		return lm_fail("'%s': bad magic %d, not %s (%u)", path, h[H_MAGIC], what, magic);
	return 0;
}

/* The header's config and element type; the file size checked against it. */
static int header_config(lm_config *c, ckpt_dtype *dt, int *Vp, FILE *fp, const char *path)
{
	int32_t h[LLMC_HEADER_INTS];
	if (read_header(fp, path, h, LLMC_MAGIC, "an llm.c checkpoint") != 0)
		return -1;
	if (h[H_VERSION] != VERSION_F32 && h[H_VERSION] != VERSION_BF16)
		return lm_fail("'%s': llm.c checkpoint version %d (3 fp32 or 5 bf16 expected)",
			       path, h[H_VERSION]);
	*dt = h[H_VERSION] == VERSION_F32 ? DT_F32 : DT_BF16;
	for (int i = H_CTX; i <= H_PADDED_VOCAB; i++)
		if (h[i] <= 0 || h[i] > (1 << 24))
			return lm_fail("'%s': implausible llm.c header value %d at position %d",
				       path, h[i], i);
	if (h[H_PADDED_VOCAB] < h[H_VOCAB])
		return lm_fail("'%s': padded vocabulary %d is smaller than the vocabulary %d",
			       path, h[H_PADDED_VOCAB], h[H_VOCAB]);
	config_family_defaults(c, FAMILY_GPT2);
	const char *base = strrchr(path, '/');
	snprintf(c->name, sizeof c->name, "%s", base ? base + 1 : path);
	c->ctx = h[H_CTX];
	c->vocab_size = h[H_VOCAB];
	c->n_layer = h[H_LAYERS];
	c->n_head = h[H_HEADS];
	c->d_model = h[H_CHANNELS];
	c->norm_eps = LLMC_NORM_EPS;
	*Vp = h[H_PADDED_VOCAB];
	if (config_finish(c) != 0)
		return lm_fail("'%s': %s", path, lm_last_error());
	/* the size the header promises */
	size_t C = (size_t)c->d_model, L = (size_t)c->n_layer;
	size_t numel = (size_t)*Vp * C + (size_t)c->ctx * C + L * (12 * C * C + 13 * C) + 2 * C;
	long long want = (long long)(LLMC_HEADER_INTS * 4) + (long long)(numel * ckpt_dtype_size(*dt));
	struct stat st;
	if (fstat(fileno(fp), &st) != 0)
		return lm_fail_errno("cannot stat '%s'", path);
	if ((long long)st.st_size != want)
		return lm_fail("'%s': %lld bytes, but its header (L=%d C=%d NH=%d V=%d Vp=%d T=%d, %s) "
			       "needs %lld", path, (long long)st.st_size, c->n_layer, c->d_model,
			       c->n_head, c->vocab_size, *Vp, c->ctx, ckpt_dtype_name(*dt), want);
	return 0;
}

int llmc_config(lm_config *c, const char *path)
{
	FILE *fp = fopen(path, "rb");
	if (!fp)
		return lm_fail_errno("cannot open '%s'", path);
	ckpt_dtype dt;
	int Vp, rc = header_config(c, &dt, &Vp, fp, path);
	fclose(fp);
	return rc;
}

int llmc_open_model(gpt_model *m, const char *path)
{
	memset(m, 0, sizeof *m);
	FILE *fp = fopen(path, "rb");
	if (!fp)
		return lm_fail_errno("cannot open '%s'", path);
	lm_config c;
	ckpt_dtype dt;
	int Vp, rc = -1;
	if (header_config(&c, &dt, &Vp, fp, path) != 0 || gpt_alloc(m, &c) != 0)
		goto out;
	size_t C = (size_t)c.d_model, V = (size_t)c.vocab_size;
	llmc_part parts[NUM_PARTS];
	layout(m, parts);
	/* wte: the V real rows; the file's padding rows are skipped, ours stay zero */
	if (ckpt_read_floats(fp, m->w.wte, V * C, dt) != 0 ||
	    fseeko(fp, (off_t)(((size_t)Vp - V) * C * ckpt_dtype_size(dt)), SEEK_CUR) != 0)
		goto bad;
	for (int i = 0; i < NUM_PARTS; i++)
		if (ckpt_read_floats(fp, parts[i].p, parts[i].n, dt) != 0)
			goto bad;
	rc = 0;
	goto out;
bad:
	lm_fail("'%s': cannot read its tensors (truncated file?)", path);
out:
	fclose(fp);
	if (rc != 0 && m->params)
		gpt_free(m);
	return rc;
}

/* ---- the checkpoint: writing ------------------------------------------------ */

int llmc_save(const gpt_model *m, const char *path, ckpt_dtype dt, bool overwrite)
{
	const lm_config *c = &m->cfg;
	if (dt == DT_F16)
		return lm_fail("'%s': llm.c's checkpoint holds fp32 or bf16, not f16", path);
	if (llmc_check(c) != 0)
		return -1;
	int32_t h[LLMC_HEADER_INTS] = {0};
	h[H_MAGIC] = LLMC_MAGIC;
	h[H_VERSION] = dt == DT_F32 ? VERSION_F32 : VERSION_BF16;
	h[H_CTX] = c->ctx;
	h[H_VOCAB] = c->vocab_size;
	h[H_LAYERS] = c->n_layer;
	h[H_HEADS] = c->n_head;
	h[H_CHANNELS] = c->d_model;
	h[H_PADDED_VOCAB] = c->padded_vocab;
	atomic_file af;
	if (atomic_file_open(&af, path, overwrite) != 0)
		return -1;
	llmc_part parts[NUM_PARTS];
	layout(m, parts);
	int bad = fwrite(h, sizeof h, 1, af.fp) != 1 ||
		  ckpt_write_floats(af.fp, m->w.wte, (size_t)c->padded_vocab * c->d_model, dt) != 0;
	for (int i = 0; !bad && i < NUM_PARTS; i++)
		bad = ckpt_write_floats(af.fp, parts[i].p, parts[i].n, dt) != 0;
	if (bad) {
		lm_fail_errno("cannot write '%s'", path);
		atomic_file_abort(&af);
		return -1;
	}
	return atomic_file_commit(&af);
}

/* ---- the tokenizer ------------------------------------------------------------- */

int llmc_tokenizer_read(bpe_merges *m, const char *path)
{
	memset(m, 0, sizeof *m);
	FILE *fp = fopen(path, "rb");
	if (!fp)
		return lm_fail_errno("cannot open '%s'", path);
	int32_t h[LLMC_HEADER_INTS];
	uint8_t **bytes = NULL;
	uint32_t *len = NULL;
	size_t n = 0;
	int rc = -1;
	if (read_header(fp, path, h, LLMC_TOKENIZER_MAGIC, "an llm.c tokenizer") != 0)
		goto out;
	if (h[1] != 1 && h[1] != 2) {
		lm_fail("'%s': llm.c tokenizer version %d (1 or 2 expected)", path, h[1]);
		goto out;
	}
	int eot = h[1] == 1 ? LLMC_TOKENIZER_V1_EOT : h[3];
	if (h[2] <= 256 || h[2] > (1 << 24) || eot != h[2] - 1) {
		lm_fail("'%s': %d tokens with EOT %d: only a tokenizer whose EOT is its last token "
			"is read", path, h[2], eot);
		goto out;
	}
	n = (size_t)h[2];
	bytes = calloc(n, sizeof *bytes);
	len = calloc(n, sizeof *len);
	if (!bytes || !len) {
		lm_fail("out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char l;
		if (fread(&l, 1, 1, fp) != 1 || l == 0 || !(bytes[i] = malloc(l + 1u)) ||
		    fread(bytes[i], 1, l, fp) != l) {
			lm_fail("'%s': token %zu: truncated or empty", path, i);
			goto out;
		}
		bytes[i][l] = 0;
		len[i] = l;
	}
	if (fgetc(fp) != EOF) {
		lm_fail("'%s': bytes after its %zu tokens", path, n);
		goto out;
	}
	const char *special = (const char *)bytes[n - 1];
	if (strlen(special) != len[n - 1]) {
		lm_fail("'%s': EOT token %zu holds a NUL byte", path, n - 1);
		goto out;
	}
	rc = tiktoken_ranks_build(m, path, bytes, len, n - 1);
	if (rc == 0 && (rc = merges_add_specials(m, &special, 1)) != 0)
		merges_free(m);
out:
	for (size_t i = 0; bytes && i < n; i++)
		free(bytes[i]);
	free(bytes);
	free(len);
	fclose(fp);
	return rc;
}

int llmc_tokenizer_write(const bpe_merges *m, const char *path, bool overwrite)
{
	int eot = -1;
	for (uint32_t i = 0; i < m->n_specials; i++)
		if (!strcmp(m->specials[i], "<|endoftext|>"))
			eot = (int)(256 + m->n_merges + i);
	if (eot < 0)
		return lm_fail("'%s': llm.c's tokenizer needs an <|endoftext|> token, and this "
			       "one has none", path);
	for (uint32_t i = 0; i < m->vocab_size; i++)
		if (m->token_len[i] > 255)
			return lm_fail("'%s': token %u is %u bytes long; llm.c's tokenizer holds "
				       "at most 255", path, i, m->token_len[i]);
	int32_t h[LLMC_HEADER_INTS] = {LLMC_TOKENIZER_MAGIC, 2, (int32_t)m->vocab_size, eot};
	atomic_file af;
	if (atomic_file_open(&af, path, overwrite) != 0)
		return -1;
	int bad = fwrite(h, sizeof h, 1, af.fp) != 1;
	for (uint32_t i = 0; !bad && i < m->vocab_size; i++) {
		unsigned char l = (unsigned char)m->token_len[i];
		bad = fwrite(&l, 1, 1, af.fp) != 1 || fwrite(m->token_bytes[i], 1, l, af.fp) != l;
	}
	if (bad) {
		lm_fail_errno("cannot write '%s'", path);
		atomic_file_abort(&af);
		return -1;
	}
	return atomic_file_commit(&af);
}
