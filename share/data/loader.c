/*
 * loader.c — shards to (B, T) batches: the epoch order, the split across
 * ranks, the resumable cursor. See loader.h for the promises.
 */
#include "data/loader.h"
#include "data/shard.h"
#include "util/error.h"

#include <dirent.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- the PRNG: splitmix64 (Steele, Lea, Flood 2014) --------------------------
 * Small, fast, every seed good; the order must not depend on the C library. */

static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* A seed for one stream (seed, epoch, what): chained so nearby inputs diverge. */
static uint64_t stream_seed(uint64_t seed, uint64_t epoch, uint64_t what)
{
	uint64_t s = seed;
	uint64_t a = splitmix64(&s) ^ epoch;
	a = splitmix64(&a) ^ what;
	return splitmix64(&a);
}

/* Uniform in [0, n), no modulo bias (Lemire 2019, with rejection). */
static uint64_t rand_below(uint64_t *s, uint64_t n)
{
	unsigned __int128 m = (unsigned __int128)splitmix64(s) * n;
	uint64_t lo = (uint64_t)m;
	if (lo < n) {
		uint64_t t = -n % n;
		while (lo < t) {
			m = (unsigned __int128)splitmix64(s) * n;
			lo = (uint64_t)m;
		}
	}
	return (uint64_t)(m >> 64);
}

/* Fisher-Yates over p[0..n), identity first. */
static void permute(uint32_t *p, uint64_t n, uint64_t seed)
{
	uint64_t s = seed;
	for (uint64_t i = 0; i < n; i++)
		p[i] = (uint32_t)i;
	for (uint64_t i = n; i > 1; i--) {
		uint64_t j = rand_below(&s, i);
		uint32_t t = p[i - 1];
		p[i - 1] = p[j];
		p[j] = t;
	}
}

/* ---- the state --------------------------------------------------------------- */

enum { WHAT_SHARDS = 0, POS_MAGIC = 0x534f504c /* "LPOS" */, POS_VERSION = 1 };

struct loader {
	loader_opts o;
	char *spec;
	size_t nshards;
	char **paths;          /* (nshards,) sorted by name */
	uint64_t *nwin;        /* (nshards,) windows in each */
	uint64_t total_windows, total_tokens;

	loader_pos cur;        /* the global cursor; cur.shard == nshards: val exhausted */
	uint32_t *order;       /* (nshards,) the shard order of epoch order_epoch */
	uint64_t order_epoch;

	shard_file open;       /* the one shard in memory */
	size_t open_file;      /* its index, or SIZE_MAX */
	uint32_t *wperm;       /* its window order for (wperm_epoch, open_file) */
	uint64_t wperm_epoch;
	size_t wperm_file;
};

/* ---- finding the shards ------------------------------------------------------ */

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

/* SPLIT is one of the name's parts between '_', '.' and '-'. */
static bool name_has_split(const char *path, const char *split)
{
	if (!split)
		return true;
	const char *name = base_name(path);
	size_t n = strlen(split);
	for (const char *p = name; (p = strstr(p, split)); p++) {
		bool left = p == name || strchr("_.-", p[-1]);
		bool right = p[n] == '\0' || strchr("_.-", p[n]);
		if (left && right)
			return true;
	}
	return false;
}

static int add_path(loader *L, const char *path, size_t *cap)
{
	if (!shard_path_is_shard(path))
		return 0;
	if (L->nshards == *cap) {
		*cap = *cap ? 2 * *cap : 16;
		char **p = realloc(L->paths, *cap * sizeof *p);
		if (!p)
			return lm_fail("out of memory");
		L->paths = p;
	}
	if (!(L->paths[L->nshards] = strdup(path)))
		return lm_fail("out of memory");
	L->nshards++;
	return 0;
}

static int list_dir(loader *L, const char *dir, const char *split, size_t *cap)
{
	DIR *d = opendir(dir);
	if (!d)
		return lm_fail_errno("cannot open directory '%s'", dir);
	struct dirent *e;
	int rc = 0;
	while (rc == 0 && (e = readdir(d))) {
		if (!shard_path_is_shard(e->d_name) || !name_has_split(e->d_name, split))
			continue;
		size_t n = strlen(dir) + strlen(e->d_name) + 2;
		char *path = malloc(n);
		if (!path) {
			rc = lm_fail("out of memory");
			break;
		}
		snprintf(path, n, "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", e->d_name);
		rc = add_path(L, path, cap);
		free(path);
	}
	closedir(d);
	return rc;
}

static int list_glob(loader *L, const char *pattern, const char *split, size_t *cap)
{
	glob_t g;
	int r = glob(pattern, 0, NULL, &g);
	if (r == GLOB_NOMATCH)
		return lm_fail("no file matches '%s'", pattern);
	if (r != 0)
		return lm_fail("cannot expand '%s'", pattern);
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < g.gl_pathc; i++)
		if (name_has_split(g.gl_pathv[i], split))
			rc = add_path(L, g.gl_pathv[i], cap);
	globfree(&g);
	return rc;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int find_shards(loader *L, const char *spec, const char *split)
{
	struct stat st;
	size_t cap = 0;
	int rc = stat(spec, &st) == 0 && S_ISDIR(st.st_mode) ? list_dir(L, spec, split, &cap)
							       : list_glob(L, spec, split, &cap);
	if (rc != 0)
		return -1;
	if (L->nshards == 0)
		return lm_fail("no %s%sshards (*.bin, *.bin.zst) in '%s'", split ? split : "",
			       split ? " " : "", spec);
	qsort(L->paths, L->nshards, sizeof *L->paths, cmp_str);
	return 0;
}

static int count_windows(loader *L)
{
	L->nwin = calloc(L->nshards, sizeof *L->nwin);
	L->order = calloc(L->nshards, sizeof *L->order);
	if (!L->nwin || !L->order)
		return lm_fail("out of memory");
	uint64_t T = (uint64_t)L->o.T;
	for (size_t i = 0; i < L->nshards; i++) {
		uint64_t n;
		if (shard_peek_count(L->paths[i], &n) != 0)
			return -1;
		L->nwin[i] = n > T ? (n - 1) / T : 0;
		L->total_windows += L->nwin[i];
		L->total_tokens += n;
	}
	if (L->total_windows == 0)
		return lm_fail("'%s': no shard holds a window of T+1 = %d tokens", L->spec,
			       L->o.T + 1);
	return 0;
}

static int check_opts(const loader_opts *o)
{
	if (o->B < 1 || o->T < 1)
		return lm_fail("loader: B and T must be positive (B=%d, T=%d)", o->B, o->T);
	if (o->nranks < 1 || o->rank < 0 || o->rank >= o->nranks)
		return lm_fail("loader: rank %d is not in [0, %d)", o->rank, o->nranks);
	return 0;
}

loader *loader_open(const char *spec, const char *split, const loader_opts *o)
{
	if (check_opts(o) != 0)
		return NULL;
	loader *L = calloc(1, sizeof *L);
	if (!L) {
		lm_fail("out of memory");
		return NULL;
	}
	L->o = *o;
	L->open_file = SIZE_MAX;
	L->wperm_file = SIZE_MAX;
	L->order_epoch = UINT64_MAX;
	if (!(L->spec = strdup(spec)) || find_shards(L, spec, split) != 0 ||
	    count_windows(L) != 0) {
		if (!L->spec)
			lm_fail("out of memory");
		loader_close(L);
		return NULL;
	}
	loader_rewind(L);
	return L;
}

void loader_close(loader *L)
{
	if (!L)
		return;
	if (L->open_file != SIZE_MAX)
		shard_close(&L->open);
	for (size_t i = 0; i < L->nshards; i++)
		free(L->paths[i]);
	free(L->paths);
	free(L->nwin);
	free(L->order);
	free(L->wperm);
	free(L->spec);
	free(L);
}

/* ---- the order ------------------------------------------------------------------- */

static void set_order(loader *L, uint64_t epoch)
{
	if (L->order_epoch == epoch)
		return;
	if (L->o.shuffle)
		permute(L->order, L->nshards, stream_seed(L->cur.seed, epoch, WHAT_SHARDS));
	else
		for (size_t i = 0; i < L->nshards; i++)
			L->order[i] = (uint32_t)i;
	L->order_epoch = epoch;
}

static bool at_end(const loader *L, const loader_pos *c)
{
	return c->shard >= L->nshards;
}

/* Skip shards without windows; past the last shard: the next epoch (train)
 * or the end (val). */
static void settle(loader *L, loader_pos *c)
{
	for (;;) {
		if (c->shard >= L->nshards) {
			if (!L->o.shuffle)
				return;
			c->epoch++;
			c->shard = 0;
			c->window = 0;
		}
		set_order(L, c->epoch);
		if (c->window < L->nwin[L->order[c->shard]])
			return;
		c->shard++;
		c->window = 0;
	}
}

static void advance(loader *L, loader_pos *c, uint64_t k)
{
	while (k-- > 0 && !at_end(L, c)) {
		c->window++;
		settle(L, c);
	}
}

/* ---- taking a window ------------------------------------------------------------ */

static int open_file(loader *L, size_t f)
{
	if (L->open_file == f)
		return 0;
	if (L->open_file != SIZE_MAX)
		shard_close(&L->open);
	L->open_file = SIZE_MAX;
	if (shard_open(&L->open, L->paths[f]) != 0)
		return -1;
	L->open_file = f;
	return 0;
}

/* The token offset of window c in file f. */
static int window_offset(loader *L, const loader_pos *c, size_t f, uint64_t *off)
{
	uint64_t k = c->window;
	if (L->o.shuffle) {
		if (L->wperm_file != f || L->wperm_epoch != c->epoch) {
			free(L->wperm);
			L->wperm_file = SIZE_MAX;
			if (!(L->wperm = malloc(L->nwin[f] * sizeof *L->wperm)))
				return lm_fail("out of memory");
			permute(L->wperm, L->nwin[f], stream_seed(L->cur.seed, c->epoch, 1 + f));
			L->wperm_file = f;
			L->wperm_epoch = c->epoch;
		}
		k = L->wperm[k];
	}
	*off = k * (uint64_t)L->o.T;
	return 0;
}

static int take(loader *L, const loader_pos *c, int32_t *x, int32_t *y, loader_src *src)
{
	set_order(L, c->epoch);
	size_t f = L->order[c->shard];
	uint64_t off = 0;
	if (open_file(L, f) != 0 || window_offset(L, c, f, &off) != 0)
		return -1;
	if (L->open.ntok < off + (uint64_t)L->o.T + 1)
		return lm_fail("'%s' changed since it was opened", L->paths[f]);
	const uint16_t *w = L->open.tok + off;
	for (int t = 0; L->o.vocab > 0 && t <= L->o.T; t++)
		if (w[t] >= L->o.vocab)
			return lm_fail("'%s': token %u at offset %llu is outside the vocabulary (%d)",
				       L->paths[f], w[t], (unsigned long long)(off + (uint64_t)t),
				       L->o.vocab);
	for (int t = 0; t < L->o.T; t++) {
		x[t] = w[t];
		y[t] = w[t + 1];
	}
	if (src)
		*src = (loader_src){c->epoch, f, off};
	return 0;
}

int loader_next(loader *L, int32_t *x, int32_t *y, loader_src *src)
{
	int rows = 0;
	for (int b = 0; b < L->o.B && !at_end(L, &L->cur); b++) {
		loader_pos mine = L->cur;
		advance(L, &mine, (uint64_t)L->o.rank);
		if (!at_end(L, &mine)) {
			size_t at = (size_t)rows * (size_t)L->o.T;
			if (take(L, &mine, x + at, y + at, src ? src + rows : NULL) != 0)
				return -1;
			rows++;
		}
		advance(L, &L->cur, (uint64_t)L->o.nranks);
	}
	return rows;
}

/* ---- the position ---------------------------------------------------------------- */

void loader_tell(const loader *L, loader_pos *pos)
{
	*pos = L->cur;
}

static int check_pos(loader *L, const loader_pos *c)
{
	if (!L->o.shuffle && c->epoch != 0)
		return lm_fail("loader: a val position has epoch 0, not %llu",
			       (unsigned long long)c->epoch);
	if (c->shard > L->nshards || (c->shard == L->nshards && L->o.shuffle))
		return lm_fail("loader: the position names shard %llu of %zu",
			       (unsigned long long)c->shard, L->nshards);
	if (c->shard < L->nshards) {
		set_order(L, c->epoch);
		uint64_t w = L->nwin[L->order[c->shard]];
		if (c->window >= w)
			return lm_fail("loader: the position names window %llu of a shard with %llu",
				       (unsigned long long)c->window, (unsigned long long)w);
	}
	return 0;
}

int loader_seek(loader *L, const loader_pos *pos)
{
	loader_pos old = L->cur;
	L->cur.seed = pos->seed;  /* the orders follow the seed */
	L->order_epoch = UINT64_MAX;
	L->wperm_file = SIZE_MAX;
	if (check_pos(L, pos) != 0) {
		L->cur = old;
		L->order_epoch = UINT64_MAX;
		return -1;
	}
	L->cur = *pos;
	return 0;
}

void loader_rewind(loader *L)
{
	loader_pos c = {0, 0, 0, L->o.seed};
	L->order_epoch = UINT64_MAX;
	L->cur = c;
	settle(L, &L->cur);
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* Layout: magic u32, version u32, epoch, shard, window, seed, T, shards,
 * windows (u64 each), 8 bytes zero. */
void loader_pos_save(const loader *L, uint8_t out[LOADER_POS_BYTES])
{
	memset(out, 0, LOADER_POS_BYTES);
	put64(out, (uint64_t)POS_MAGIC | (uint64_t)POS_VERSION << 32);
	put64(out + 8, L->cur.epoch);
	put64(out + 16, L->cur.shard);
	put64(out + 24, L->cur.window);
	put64(out + 32, L->cur.seed);
	put64(out + 40, (uint64_t)L->o.T);
	put64(out + 48, L->nshards);
	put64(out + 56, L->total_windows);
}

int loader_pos_restore(loader *L, const uint8_t *in, size_t n)
{
	if (n != LOADER_POS_BYTES || (uint32_t)get64(in) != POS_MAGIC)
		return lm_fail("loader: not a data position (%zu bytes)", n);
	if (get64(in) >> 32 != POS_VERSION)
		return lm_fail("loader: data position version %llu, this reads %d",
			       (unsigned long long)(get64(in) >> 32), POS_VERSION);
	if (get64(in + 40) != (uint64_t)L->o.T || get64(in + 48) != L->nshards ||
	    get64(in + 56) != L->total_windows)
		return lm_fail("loader: the position is for other data (T %llu, %llu shards, "
			       "%llu windows), not this (T %d, %zu shards, %llu windows)",
			       (unsigned long long)get64(in + 40), (unsigned long long)get64(in + 48),
			       (unsigned long long)get64(in + 56), L->o.T, L->nshards,
			       (unsigned long long)L->total_windows);
	loader_pos p = {get64(in + 8), get64(in + 16), get64(in + 24), get64(in + 32)};
	return loader_seek(L, &p);
}

/* ---- the data set ----------------------------------------------------------------- */

size_t loader_num_shards(const loader *L)
{
	return L->nshards;
}

const char *loader_shard_path(const loader *L, size_t i)
{
	return i < L->nshards ? L->paths[i] : NULL;
}

uint64_t loader_num_windows(const loader *L)
{
	return L->total_windows;
}

uint64_t loader_num_tokens(const loader *L)
{
	return L->total_tokens;
}
