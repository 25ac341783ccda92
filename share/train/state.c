/*
 * state.c — the training state sidecar (format in state.h).
 */
#include "train/state.h"
#include "util/error.h"
#include "util/io.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { HEADER_BYTES = 8 + 4 + 4 + 5 * 8 + LOADER_POS_BYTES };

#define FNV_OFFSET 0xcbf29ce484222325ull
#define FNV_PRIME 0x100000001b3ull

/* ---- hashing while writing and reading ----------------------------------- */

static uint64_t fnv1a(uint64_t h, const void *buf, size_t n)
{
	const unsigned char *p = buf;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * FNV_PRIME;
	return h;
}

static void put_u32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static void put_u64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get_u32(const unsigned char *p)
{
	uint32_t v = 0;
	for (int i = 0; i < 4; i++)
		v |= (uint32_t)p[i] << (8 * i);
	return v;
}

static uint64_t get_u64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static size_t pad8(size_t n) { return (n + 7) & ~(size_t)7; }

/* ---- writing -------------------------------------------------------------- */

typedef struct {
	FILE *fp;
	uint64_t hash;
	const char *path;
} hashed_out;

static int out_put(hashed_out *o, const void *buf, size_t n)
{
	o->hash = fnv1a(o->hash, buf, n);
	if (n && fwrite(buf, 1, n, o->fp) != n)
		return lm_fail_errno("cannot write '%s'", o->path);
	return 0;
}

int train_state_write(const char *path, const train_state *s)
{
	size_t jlen = s->options_json ? strlen(s->options_json) : 0;
	unsigned char h[HEADER_BYTES] = {0};
	memcpy(h, TRAIN_STATE_MAGIC, 8);
	put_u32(h + 8, TRAIN_STATE_VERSION);
	put_u64(h + 16, s->step);
	put_u64(h + 24, s->tokens);
	put_u64(h + 32, s->rng_state);
	put_u64(h + 40, s->num_params);
	put_u64(h + 48, jlen);
	memcpy(h + 56, s->loader_pos, LOADER_POS_BYTES);

	atomic_file af;
	if (atomic_file_open(&af, path, true) != 0)
		return -1;
	hashed_out o = {af.fp, FNV_OFFSET, path};
	static const char zeros[8];
	int rc = out_put(&o, h, sizeof h);
	if (!rc)
		rc = out_put(&o, s->options_json ? s->options_json : "", jlen);
	if (!rc)
		rc = out_put(&o, zeros, pad8(jlen) - jlen);
	if (!rc)
		rc = out_put(&o, s->m, s->num_params * sizeof(float));
	if (!rc)
		rc = out_put(&o, s->v, s->num_params * sizeof(float));
	unsigned char tail[8];
	put_u64(tail, o.hash);
	if (!rc && fwrite(tail, 1, 8, af.fp) != 8)
		rc = lm_fail_errno("cannot write '%s'", path);
	if (rc) {
		atomic_file_abort(&af);
		return -1;
	}
	return atomic_file_commit(&af);
}

/* ---- reading -------------------------------------------------------------- */

void train_state_free(train_state *s)
{
	free(s->options_json);
	free(s->m);
	free(s->v);
	memset(s, 0, sizeof *s);
}

static int in_get(FILE *fp, void *buf, size_t n, uint64_t *hash, const char *path)
{
	if (n && fread(buf, 1, n, fp) != n)
		return ferror(fp) ? lm_fail_errno("cannot read '%s'", path)
				  : lm_fail("'%s': truncated training state", path);
	*hash = fnv1a(*hash, buf, n);
	return 0;
}

/* Check the header; returns the total size the file must have, 0 on error. */
static uint64_t header_check(const unsigned char *h, long long size, const char *path)
{
	if (memcmp(h, TRAIN_STATE_MAGIC, 8) != 0)
		return lm_fail("'%s' is not a training state (bad magic)", path), 0;
	if (get_u32(h + 8) != TRAIN_STATE_VERSION)
		return lm_fail("'%s': training state version %u, expected %d", path,
			       get_u32(h + 8), TRAIN_STATE_VERSION), 0;
	uint64_t n = get_u64(h + 40), jlen = get_u64(h + 48);
	if (n > (uint64_t)size || jlen > (uint64_t)size)
		return lm_fail("'%s': training state header does not fit the file", path), 0;
	uint64_t want = HEADER_BYTES + pad8(jlen) + 8 * n + 8;
	if (want != (uint64_t)size)
		return lm_fail("'%s': training state of %lld bytes, its header says %llu",
			       path, size, (unsigned long long)want), 0;
	return want;
}

static int read_body(FILE *fp, const unsigned char *h, train_state *s, const char *path)
{
	uint64_t hash = fnv1a(FNV_OFFSET, h, HEADER_BYTES);
	s->step = get_u64(h + 16);
	s->tokens = get_u64(h + 24);
	s->rng_state = get_u64(h + 32);
	s->num_params = get_u64(h + 40);
	size_t jlen = get_u64(h + 48);
	memcpy(s->loader_pos, h + 56, LOADER_POS_BYTES);
	s->options_json = calloc(pad8(jlen) + 1, 1);
	s->m = malloc(s->num_params * sizeof(float) + 1);
	s->v = malloc(s->num_params * sizeof(float) + 1);
	if (!s->options_json || !s->m || !s->v)
		return lm_fail("out of memory reading '%s'", path);
	unsigned char tail[8];
	if (in_get(fp, s->options_json, pad8(jlen), &hash, path) ||
	    in_get(fp, s->m, s->num_params * sizeof(float), &hash, path) ||
	    in_get(fp, s->v, s->num_params * sizeof(float), &hash, path) ||
	    in_get(fp, tail, 8, &(uint64_t){0}, path))
		return -1;
	s->options_json[jlen] = 0;
	if (get_u64(tail) != hash)
		return lm_fail("'%s': training state is corrupt (hash mismatch)", path);
	return 0;
}

int train_state_read(const char *path, train_state *s)
{
	memset(s, 0, sizeof *s);
	FILE *fp = fopen(path, "rb");
	if (!fp)
		return lm_fail_errno("cannot open '%s'", path);
	unsigned char h[HEADER_BYTES];
	long long size = -1;
	if (fseek(fp, 0, SEEK_END) == 0)
		size = ftell(fp);
	rewind(fp);
	int rc = -1;
	if (size < HEADER_BYTES + 8)
		lm_fail("'%s' is too short for a training state", path);
	else if (fread(h, 1, HEADER_BYTES, fp) != HEADER_BYTES)
		lm_fail_errno("cannot read '%s'", path);
	else if (header_check(h, size, path))
		rc = read_body(fp, h, s, path);
	fclose(fp);
	if (rc)
		train_state_free(s);
	return rc;
}
