/*
 * tokenizer.c — finding and opening a checkpoint's tokenizer. See tokenizer.h.
 */
#include "eval/tokenizer.h"

#include "ckpt/format.h"
#include "ckpt/gguf.h"
#include "ckpt/llmc.h"
#include "ckpt/safetensors.h"
#include "tok/tiktoken_ranks.h"
#include "util/datadir.h"
#include "util/error.h"
#include "util/io.h"

#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef LMPIPE_DATADIR
#define LMPIPE_DATADIR "/usr/local/share/lmpipe"
#endif

#define GPT2_TABLE GPT2_RANK_TABLE
static const char *const endoftext = "<|endoftext|>";

static int readable(const char *path)
{
	return access(path, R_OK) == 0;
}

/* A merges file, a .tiktoken rank table or llm.c's tokenizer file, by content. */
static int read_table(bpe_merges *m, const char *path)
{
	ckpt_format fmt;
	if (!readable(path))
		return lm_fail_errno("cannot open '%s'", path);
	if (ckpt_sniff(path, &fmt) != 0)
		return -1;
	if (fmt == FMT_LLMC_TOKENIZER)
		return llmc_tokenizer_read(m, path);
	return tiktoken_ranks_sniff(path) ? tiktoken_ranks_read(m, path) : merges_read(m, path);
}

/* Whether the table read by read_table carries its own specials (llm.c's
 * file carries <|endoftext|>). */
static bool table_has_specials(const bpe_merges *m)
{
	return m->n_specials > 0;
}

/* The merges text from the metadata; its errors name the checkpoint and
 * the metadata key. */
static int read_merges_text(bpe_merges *m, const char *text, const char *ckpt)
{
	if (merges_read_text(m, "tokenizer_merges", text, strlen(text)) != 0)
		return lm_fail("'%s': %s", ckpt, lm_last_error());
	return 0;
}

static int add_metadata_specials(bpe_merges *m, const char *json, const char *ckpt)
{
	json_error_t err;
	json_t *a = json_loads(json, 0, &err);
	if (!a || !json_is_array(a)) {
		json_decref(a);
		return lm_fail("'%s': tokenizer_specials is not a JSON array", ckpt);
	}
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < json_array_size(a); i++) {
		const char *s = json_string_value(json_array_get(a, i));
		rc = s ? merges_add_specials(m, &s, 1)
		       : lm_fail("'%s': tokenizer_specials holds a non-string", ckpt);
	}
	json_decref(a);
	return rc;
}

/* The specials of a transformers directory: vocab.json's tokens past the
 * merges, in id order (GPT-2's <|endoftext|> = 50256). */
static int add_vocab_specials(bpe_merges *m, const char *dir)
{
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/vocab.json", dir);
	json_error_t err;
	json_t *v = json_load_file(path, 0, &err);
	if (!json_is_object(v)) {
		json_decref(v);
		return lm_fail("'%s': not a JSON object (%s)", path, err.text);
	}
	size_t n = json_object_size(v), first = m->vocab_size;
	const char **specials = calloc(n + 1, sizeof *specials);
	const char *key;
	json_t *id;
	int rc = specials ? 0 : lm_fail("out of memory");
	json_object_foreach(v, key, id) {
		json_int_t i = json_integer_value(id);
		if (rc == 0 && (!json_is_integer(id) || i < 0 || (size_t)i >= n || specials[i]))
			rc = lm_fail("'%s': token '%s' has id %lld, not one of 0..%zu once", path,
				     key, (long long)i, n - 1);
		else if (rc == 0)
			specials[i] = key;
	}
	if (rc == 0 && n < first)
		rc = lm_fail("'%s': %zu tokens, fewer than its merges make (%zu)", path, n, first);
	for (size_t i = first; rc == 0 && i < n; i++)
		rc = merges_add_specials(m, &specials[i], 1);
	free(specials);
	json_decref(v);
	return rc;
}

/* A transformers directory's merges.txt and vocab.json: 1 when there. */
static int from_hf_files(bpe_merges *m, const char *dir, char *src, size_t cap)
{
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/merges.txt", dir);
	if (!readable(path))
		return 0;
	if (merges_read(m, path) != 0 || add_vocab_specials(m, dir) != 0)
		return -1;
	snprintf(src, cap, "in '%.400s'", dir);
	return 1;
}

/* A GGUF file's BPE tokenizer: 1 when there. */
static int from_gguf(bpe_merges *m, const char *path, char *src, size_t cap)
{
	char *merges, *specials;
	int rc = gguf_tokenizer_meta(path, &merges, &specials);
	if (rc != 0)
		return rc;
	rc = read_merges_text(m, merges, path);
	if (rc == 0)
		rc = add_metadata_specials(m, specials, path);
	free(merges);
	free(specials);
	snprintf(src, cap, "in '%.400s'", path);
	return rc == 0 ? 1 : -1;
}

/* 1 when the checkpoint carries a tokenizer (read into m), 0 when not, -1 on error. */
static int from_checkpoint(bpe_merges *m, const char *ckpt, char *src, size_t cap)
{
	char path[PATH_MAX];
	ckpt_format fmt;
	if (ckpt_sniff(ckpt, &fmt) != 0)
		return -1;
	if (fmt == FMT_HF_DIR)
		snprintf(path, sizeof path, "%s/model.safetensors", ckpt);
	else if (fmt == FMT_SAFETENSORS)
		snprintf(path, sizeof path, "%s", ckpt);
	else if (fmt == FMT_GGUF)
		return from_gguf(m, ckpt, src, cap);
	else
		return 0;   /* llm.c's checkpoint: its tokenizer is a file of its own */
	st_file *f = st_open(path);
	if (!f)
		return -1;
	const char *merges = st_metadata(f, "tokenizer_merges");
	const char *specials = st_metadata(f, "tokenizer_specials");
	int rc = 0;
	if (merges) {
		rc = read_merges_text(m, merges, path);
		if (rc == 0 && specials)
			rc = add_metadata_specials(m, specials, path);
		rc = rc == 0 ? 1 : -1;
		snprintf(src, cap, "in '%.400s'", path);  /* "the tokenizer in ..." */
	}
	st_close(f);
	if (rc == 0 && fmt == FMT_HF_DIR)
		rc = from_hf_files(m, ckpt, src, cap);
	return rc;
}

static int find_eot(const bpe_merges *m)
{
	for (uint32_t i = 0; i < m->n_specials; i++)
		if (strcmp(m->specials[i], endoftext) == 0)
			return (int)(256 + m->n_merges + i);
	return -1;
}

/* The encoder over t->m once the vocabulary is read (rc == 0); on any
 * failure everything is released. */
static int finish_open(lm_tokenizer *t, int rc)
{
	if (rc == 0 && !(t->enc = encoder_new(&t->m)))
		rc = -1;
	if (rc == 0 && !(t->st = encode_state_new(t->enc)))
		rc = -1;
	if (rc != 0) {
		lm_tokenizer_close(t);
		return -1;
	}
	t->eot = find_eot(&t->m);
	return 0;
}

int lm_tokenizer_open(lm_tokenizer *t, const char *ckpt, const char *merges)
{
	memset(t, 0, sizeof *t);
	int rc;
	if (merges) {
		rc = read_table(&t->m, merges);
		if (rc == 0 && !table_has_specials(&t->m))
			rc = merges_add_specials(&t->m, &endoftext, 1);
		snprintf(t->source, sizeof t->source, "'%.400s'", merges);
	} else {
		rc = from_checkpoint(&t->m, ckpt, t->source, sizeof t->source);
		if (rc == 0) {
			char path[PATH_MAX + 64];
			if (!datadir_find(GPT2_TABLE, path, sizeof path))
				return lm_fail("'%s' has no tokenizer and GPT-2's (%s) is not found: "
					       "run scripts/fetch-gpt2.sh, set LMPIPE_DATA_DIR, or "
					       "give --tokenizer FILE", ckpt, GPT2_TABLE);
			rc = read_table(&t->m, path);
			if (rc == 0)
				rc = merges_add_specials(&t->m, &endoftext, 1);
			snprintf(t->source, sizeof t->source, "GPT-2's '%.400s'", path);
		} else if (rc == 1) {
			rc = 0;
		}
	}
	return finish_open(t, rc);
}

int lm_tokenizer_open_merges(lm_tokenizer *t, const char *merges, const char *const *specials,
			     int n_specials)
{
	memset(t, 0, sizeof *t);
	int rc = read_table(&t->m, merges);
	if (rc == 0 && !(n_specials == 0 && table_has_specials(&t->m)))
		rc = n_specials ? merges_add_specials(&t->m, specials, n_specials)
				: merges_add_specials(&t->m, &endoftext, 1);
	snprintf(t->source, sizeof t->source, "'%.400s'", merges);
	return finish_open(t, rc);
}

int lm_tokenizer_open_text(lm_tokenizer *t, const char *merges, const char *specials,
			   const char *from)
{
	memset(t, 0, sizeof *t);
	int rc = read_merges_text(&t->m, merges, from);
	if (rc == 0 && specials)
		rc = add_metadata_specials(&t->m, specials, from);
	snprintf(t->source, sizeof t->source, "in '%.400s'", from);
	return finish_open(t, rc);
}

void lm_tokenizer_close(lm_tokenizer *t)
{
	if (t->st)
		encode_state_free(t->st);
	if (t->enc)
		encoder_free(t->enc);
	merges_free(&t->m);
	memset(t, 0, sizeof *t);
}

int lm_tokenizer_encode(lm_tokenizer *t, const char *s, size_t n, token_buf *out)
{
	return encoder_encode(t->st, (const uint8_t *)s, n, out);
}

const uint8_t *lm_tokenizer_bytes(const lm_tokenizer *t, uint32_t id, size_t *len)
{
	if (id >= t->m.vocab_size)
		return NULL;
	*len = t->m.token_len[id];
	return t->m.token_bytes[id];
}
