/*
 * shard.c — llm.c shard files: header checks, whole-shard and streamed
 * reading (.bin mmap'ed, .bin.zst decompressed), atomic writing.
 */
#include "data/shard.h"
#include "util/error.h"
#include "util/io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "shards are little-endian; this code reads them in host order"
#endif

/* ---- names and headers ----------------------------------------------------- */

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcmp(s + n - m, suffix) == 0;
}

bool shard_path_is_zstd(const char *path)
{
	return ends_with(path, ".bin.zst");
}

bool shard_path_is_shard(const char *path)
{
	return ends_with(path, ".bin") || ends_with(path, ".bin.zst");
}

void shard_header_encode(uint8_t hdr[SHARD_HEADER_BYTES], uint64_t ntok)
{
	int32_t h[SHARD_HEADER_INTS] = {SHARD_MAGIC, SHARD_VERSION, (int32_t)ntok};
	memcpy(hdr, h, SHARD_HEADER_BYTES);
}

int shard_header_decode(const uint8_t hdr[SHARD_HEADER_BYTES], const char *path, uint64_t *ntok)
{
	int32_t h[3];
	memcpy(h, hdr, sizeof h);
	if (h[0] != SHARD_MAGIC)
		return lm_fail("'%s' is not a token shard: magic %d, expected %d", path, h[0],
			       SHARD_MAGIC);
	if (h[1] != SHARD_VERSION)
		return lm_fail("'%s': unsupported shard version %d (this reads version %d)", path,
			       h[1], SHARD_VERSION);
	if (h[2] < 0)
		return lm_fail("'%s': corrupt header: negative token count %d", path, h[2]);
	*ntok = (uint64_t)h[2];
	return 0;
}

static int check_bin_size(const char *path, uint64_t ntok, uint64_t size)
{
	uint64_t want = SHARD_HEADER_BYTES + 2 * ntok;
	if (size < want)
		return lm_fail("'%s' is truncated: the header counts %llu tokens (%llu bytes), "
			       "the file has %llu bytes",
			       path, (unsigned long long)ntok, (unsigned long long)want,
			       (unsigned long long)size);
	if (size > want)
		return lm_fail("'%s' has %llu bytes after the %llu tokens its header counts", path,
			       (unsigned long long)(size - want), (unsigned long long)ntok);
	return 0;
}

/* ---- the streamed reader --------------------------------------------------------- */

enum { ZIN_BYTES = 1 << 17 };

struct shard_reader {
	char *path;
	int fd;
	bool zstd;
	ZSTD_DStream *ds;
	uint8_t *in;             /* compressed input buffer */
	ZSTD_inBuffer zin;
	size_t last_ret;         /* ZSTD_decompressStream's last hint; 0 = frame done */
	bool in_eof;
	uint64_t ntok, done;     /* tokens in the header, tokens handed out */
};

/* Up to n decompressed bytes into buf; 0 at the end of the stream. */
static long long zread(shard_reader *r, void *buf, size_t n)
{
	ZSTD_outBuffer out = {buf, n, 0};
	while (out.pos < out.size) {
		if (r->zin.pos == r->zin.size && !r->in_eof) {
			long long got = read_full(r->fd, r->in, ZIN_BYTES, "shard");
			if (got < 0)
				return lm_fail_errno("cannot read '%s'", r->path);
			r->zin = (ZSTD_inBuffer){r->in, (size_t)got, 0};
			r->in_eof = got == 0;
		}
		bool drained = r->zin.pos == r->zin.size && r->in_eof;
		if (drained && r->last_ret == 0)
			break;  /* a clean end: the last frame is complete */
		size_t before = out.pos;
		size_t ret = ZSTD_decompressStream(r->ds, &out, &r->zin);
		if (ZSTD_isError(ret))
			return lm_fail("'%s': corrupt zstd data: %s", r->path, ZSTD_getErrorName(ret));
		r->last_ret = ret;
		if (drained && ret != 0 && out.pos == before)
			return lm_fail("'%s': truncated zstd stream", r->path);
	}
	return (long long)out.pos;
}

static long long raw_read(shard_reader *r, void *buf, size_t n)
{
	if (r->zstd)
		return zread(r, buf, n);
	long long got = read_full(r->fd, buf, n, "shard");
	if (got < 0)
		lm_fail_errno("cannot read '%s'", r->path);
	return got;
}

static int reader_header(shard_reader *r)
{
	uint8_t hdr[SHARD_HEADER_BYTES];
	long long got = raw_read(r, hdr, sizeof hdr);
	if (got < 0)
		return -1;
	if (got < SHARD_HEADER_BYTES)
		return lm_fail("'%s' is too short for a shard: %lld bytes, the header alone has %d",
			       r->path, got, SHARD_HEADER_BYTES);
	if (shard_header_decode(hdr, r->path, &r->ntok) != 0)
		return -1;
	if (!r->zstd) {
		struct stat st;
		if (fstat(r->fd, &st) != 0)
			return lm_fail_errno("cannot stat '%s'", r->path);
		return check_bin_size(r->path, r->ntok, (uint64_t)st.st_size);
	}
	return 0;
}

shard_reader *shard_reader_open(const char *path)
{
	shard_reader *r = calloc(1, sizeof *r);
	if (!r || !(r->path = strdup(path))) {
		free(r);
		lm_fail("out of memory");
		return NULL;
	}
	r->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (r->fd < 0) {
		lm_fail_errno("cannot open '%s'", path);
		shard_reader_close(r);
		return NULL;
	}
	r->zstd = shard_path_is_zstd(path);
	if (r->zstd) {
		r->ds = ZSTD_createDStream();
		r->in = malloc(ZIN_BYTES);
		if (!r->ds || !r->in) {
			lm_fail("out of memory");
			shard_reader_close(r);
			return NULL;
		}
		ZSTD_initDStream(r->ds);
		r->last_ret = 1;  /* no frame yet: an empty file is no zstd stream */
	}
	if (reader_header(r) != 0) {
		shard_reader_close(r);
		return NULL;
	}
	return r;
}

uint64_t shard_reader_count(const shard_reader *r)
{
	return r->ntok;
}

/* At the end: the stream must stop exactly where the header says. */
static int reader_check_end(shard_reader *r)
{
	uint8_t extra[2];
	long long got = raw_read(r, extra, sizeof extra);
	if (got < 0)
		return -1;
	if (got > 0)
		return lm_fail("'%s': data continues after the %llu tokens its header counts",
			       r->path, (unsigned long long)r->ntok);
	return 0;
}

long long shard_reader_read(shard_reader *r, uint16_t *tok, size_t max)
{
	uint64_t left = r->ntok - r->done;
	size_t n = max < left ? max : (size_t)left;
	if (n == 0)
		return reader_check_end(r);
	long long got = raw_read(r, tok, 2 * n);
	if (got < 0)
		return -1;
	if ((size_t)got < 2 * n)
		return lm_fail("'%s' is truncated: the header counts %llu tokens, it holds %llu",
			       r->path, (unsigned long long)r->ntok,
			       (unsigned long long)(r->done + (uint64_t)got / 2));
	r->done += n;
	return (long long)n;
}

void shard_reader_close(shard_reader *r)
{
	if (!r)
		return;
	if (r->fd >= 0)
		close(r->fd);
	ZSTD_freeDStream(r->ds);
	free(r->in);
	free(r->path);
	free(r);
}

/* ---- whole shards ----------------------------------------------------------------- */

static int open_bin(shard_file *s, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return lm_fail_errno("cannot open '%s'", path);
	struct stat st;
	uint8_t hdr[SHARD_HEADER_BYTES];
	long long got;
	int rc = 0;
	if (fstat(fd, &st) != 0)
		rc = lm_fail_errno("cannot stat '%s'", path);
	else if ((got = read_full(fd, hdr, sizeof hdr, path)) < 0)
		rc = lm_fail_errno("cannot read '%s'", path);
	else if (got < SHARD_HEADER_BYTES)
		rc = lm_fail("'%s' is too short for a shard: %lld bytes, the header alone has %d",
			     path, got, SHARD_HEADER_BYTES);
	else if (shard_header_decode(hdr, path, &s->ntok) != 0 ||
		 check_bin_size(path, s->ntok, (uint64_t)st.st_size) != 0)
		rc = -1;
	if (rc == 0) {
		s->map_len_ = (size_t)st.st_size;
		s->map_ = mmap(NULL, s->map_len_, PROT_READ, MAP_PRIVATE, fd, 0);
		if (s->map_ == MAP_FAILED) {
			s->map_ = NULL;
			rc = lm_fail_errno("cannot map '%s'", path);
		} else {
			s->mapped_ = true;
			s->tok = (const uint16_t *)((const uint8_t *)s->map_ + SHARD_HEADER_BYTES);
		}
	}
	close(fd);
	return rc;
}

/* The buffer of a .bin.zst grows with the tokens that arrive, up to the
 * header's count: a header is not trusted with an allocation before the
 * stream bears it out (a 1 KiB file could ask for 4 GiB). */
enum { ZST_FIRST_TOKENS = 1 << 20 };

static int zst_grow(shard_file *s, size_t *cap)
{
	size_t ncap = *cap ? 2 * *cap : ZST_FIRST_TOKENS;
	if (ncap > s->ntok)
		ncap = (size_t)s->ntok;
	void *p = realloc(s->map_, ncap ? 2 * ncap : 1);
	if (!p)
		return lm_fail("out of memory for '%s' (%zu tokens)", s->path, ncap);
	s->map_ = p;
	*cap = ncap;
	return 0;
}

static int open_zst(shard_file *s, const char *path)
{
	shard_reader *r = shard_reader_open(path);
	if (!r)
		return -1;
	s->ntok = shard_reader_count(r);
	size_t cap = 0, have = 0;
	int rc = zst_grow(s, &cap);
	while (rc == 0) {
		if (have == cap && cap < s->ntok && (rc = zst_grow(s, &cap)) != 0)
			break;
		long long got = shard_reader_read(r, (uint16_t *)s->map_ + have, cap - have);
		if (got < 0)
			rc = -1;
		if (got <= 0)
			break;
		have += (size_t)got;
	}
	shard_reader_close(r);
	s->map_len_ = 2 * have;
	s->tok = s->map_;
	return rc;
}

int shard_open(shard_file *s, const char *path)
{
	memset(s, 0, sizeof *s);
	if (!(s->path = strdup(path)))
		return lm_fail("out of memory");
	int rc = shard_path_is_zstd(path) ? open_zst(s, path) : open_bin(s, path);
	if (rc != 0)
		shard_close(s);
	return rc;
}

void shard_close(shard_file *s)
{
	if (s->mapped_)
		munmap(s->map_, s->map_len_);
	else
		free(s->map_);
	free(s->path);
	memset(s, 0, sizeof *s);
}

int shard_peek_count(const char *path, uint64_t *ntok)
{
	shard_reader *r = shard_reader_open(path);
	if (!r)
		return -1;
	*ntok = shard_reader_count(r);
	shard_reader_close(r);
	return 0;
}

/* ---- writing ------------------------------------------------------------------------ */

static int write_zst(int fd, const char *path, const uint8_t *hdr, const uint16_t *tok,
		     uint64_t ntok, const shard_write_opts *o)
{
	ZSTD_CCtx *cc = ZSTD_createCCtx();
	size_t cap = ZSTD_CStreamOutSize();
	uint8_t *out = malloc(cap);
	int rc = 0;
	if (!cc || !out) {
		rc = lm_fail("out of memory");
		goto done;
	}
	size_t e = ZSTD_CCtx_setParameter(cc, ZSTD_c_compressionLevel, o->zstd_level);
	if (!ZSTD_isError(e))
		e = ZSTD_CCtx_setParameter(cc, ZSTD_c_checksumFlag, 1);
	if (!ZSTD_isError(e) && o->zstd_threads > 1)
		/* a libzstd built without threads refuses this: then one thread */
		(void)ZSTD_CCtx_setParameter(cc, ZSTD_c_nbWorkers, o->zstd_threads);
	if (!ZSTD_isError(e))
		e = ZSTD_CCtx_setPledgedSrcSize(cc, SHARD_HEADER_BYTES + 2 * ntok);
	if (ZSTD_isError(e)) {
		rc = lm_fail("zstd level %d: %s", o->zstd_level, ZSTD_getErrorName(e));
		goto done;
	}
	ZSTD_inBuffer parts[2] = {{hdr, SHARD_HEADER_BYTES, 0}, {tok, 2 * ntok, 0}};
	for (int p = 0; p < 2 && rc == 0; p++) {
		ZSTD_EndDirective mode = p == 1 ? ZSTD_e_end : ZSTD_e_continue;
		size_t left;
		do {
			ZSTD_outBuffer ob = {out, cap, 0};
			left = ZSTD_compressStream2(cc, &ob, &parts[p], mode);
			if (ZSTD_isError(left)) {
				rc = lm_fail("cannot compress '%s': %s", path, ZSTD_getErrorName(left));
				break;
			}
			if (write_all(fd, out, ob.pos, path) != 0) {
				rc = -1;
				break;
			}
		} while (mode == ZSTD_e_end ? left != 0 : parts[p].pos < parts[p].size);
	}
done:
	ZSTD_freeCCtx(cc);
	free(out);
	return rc;
}

int shard_write(const char *path, const uint16_t *tok, uint64_t ntok, const shard_write_opts *o)
{
	if (ntok > SHARD_MAX_TOKENS)
		return lm_fail("'%s': %llu tokens do not fit one shard (at most %d)", path,
			       (unsigned long long)ntok, SHARD_MAX_TOKENS);
	atomic_file af;
	if (atomic_file_open(&af, path, o->overwrite) != 0)
		return -1;
	if (o->tmp_hook)
		*o->tmp_hook = af.tmp_path;
	uint8_t hdr[SHARD_HEADER_BYTES];
	shard_header_encode(hdr, ntok);
	int fd = fileno(af.fp);
	int rc;
	if (o->zstd_level != 0)
		rc = write_zst(fd, path, hdr, tok, ntok, o);
	else
		rc = write_all(fd, hdr, sizeof hdr, path) || write_all(fd, tok, 2 * ntok, path)
			     ? -1 : 0;
	if (o->tmp_hook)  /* before commit frees the name */
		*o->tmp_hook = NULL;
	if (rc != 0) {
		atomic_file_abort(&af);
		return -1;
	}
	return atomic_file_commit(&af);  /* renames, or removes the temp */
}

int shard_stream_open(shard_stream *w, const char *path, bool overwrite)
{
	memset(w, 0, sizeof *w);
	atomic_file *af = malloc(sizeof *af);
	if (!af)
		return lm_fail("out of memory");
	if (atomic_file_open(af, path, overwrite) != 0) {
		free(af);
		return -1;
	}
	w->af_ = af;
	w->fd_ = fileno(af->fp);
	uint8_t hdr[SHARD_HEADER_BYTES];
	shard_header_encode(hdr, 0);  /* the count comes at commit */
	if (write_all(w->fd_, hdr, sizeof hdr, path) != 0) {
		shard_stream_abort(w);
		return -1;
	}
	return 0;
}

/* Start the disk writing behind us every few MiB, so the fsync at commit
 * finds little left and the disk works while the stream is read. */
#define WRITEBACK_BYTES (8u << 20)

static void stream_kick_writeback(shard_stream *w)
{
	uint64_t end = SHARD_HEADER_BYTES + 2 * w->ntok;
	if (end - w->kicked_ < WRITEBACK_BYTES)
		return;
	(void)sync_file_range(w->fd_, (off_t)w->kicked_, (off_t)(end - w->kicked_),
			      SYNC_FILE_RANGE_WRITE);
	w->kicked_ = end;
}

int shard_stream_write(shard_stream *w, const uint16_t *tok, size_t n)
{
	atomic_file *af = w->af_;
	if (w->ntok + n > SHARD_MAX_TOKENS)
		return lm_fail("'%s': more tokens than one shard holds (%d)", af->path,
			       SHARD_MAX_TOKENS);
	if (write_all(w->fd_, tok, 2 * n, af->path) != 0)
		return -1;
	w->ntok += n;
	stream_kick_writeback(w);
	return 0;
}

int shard_stream_commit(shard_stream *w)
{
	atomic_file *af = w->af_;
	uint8_t hdr[SHARD_HEADER_BYTES];
	shard_header_encode(hdr, w->ntok);
	ssize_t put = pwrite(w->fd_, hdr, sizeof hdr, 0);
	if (put != (ssize_t)sizeof hdr) {
		lm_fail_errno("cannot write '%s'", af->path);
		shard_stream_abort(w);
		return -1;
	}
	int rc = atomic_file_commit(af);
	free(af);
	w->af_ = NULL;
	return rc;
}

void shard_stream_abort(shard_stream *w)
{
	if (w->af_) {
		atomic_file_abort(w->af_);
		free(w->af_);
	}
	w->af_ = NULL;
}

const char *shard_stream_tmp_path(const shard_stream *w)
{
	return w->af_ ? ((const atomic_file *)w->af_)->tmp_path : NULL;
}
