/*
 * shard.h — the token shard file: llm.c's and modded-nanogpt's format.
 *
 *     int32 header[256]   [0] = 20240520 (magic), [1] = 1 (version),
 *                         [2] = token count, the rest 0
 *     uint16 tokens[count]
 *
 * all little-endian, so a shard written here trains in llm.c or
 * modded-nanogpt and theirs train here. A `.bin.zst` file holds exactly the
 * same bytes, zstd-compressed (one or more frames, content checksum on).
 *
 * What it promises: a reader never trusts a header before checking it
 * (magic, version, count within range, file size or decompressed length
 * equal to what the header says); every error names the file and what is
 * wrong. The writer goes through atomic_file (temp name, fsync, rename), so
 * a shard on disk is always whole.
 */
#ifndef LMPIPE_SHARD_H
#define LMPIPE_SHARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SHARD_MAGIC 20240520
#define SHARD_VERSION 1
#define SHARD_HEADER_INTS 256
#define SHARD_HEADER_BYTES (SHARD_HEADER_INTS * 4)
#define SHARD_MAX_TOKENS INT32_MAX  /* the header's count is an int32 */
#define SHARD_EOT_GPT2 50256        /* GPT-2's <|endoftext|> */

/* ---- names and headers ----------------------------------------------------- */

/* True if PATH ends in ".bin.zst" (compressed) — the readers decide by name. */
bool shard_path_is_zstd(const char *path);
/* True if PATH's name ends in ".bin" or ".bin.zst": a shard, not a temp file. */
bool shard_path_is_shard(const char *path);

/* Fill the 1024-byte header for a shard of ntok tokens. */
void shard_header_encode(uint8_t hdr[SHARD_HEADER_BYTES], uint64_t ntok);
/* Check a header read from PATH (named in errors): magic, version, count.
 * Sets *ntok. Returns 0, or -1 with the reason recorded. */
int shard_header_decode(const uint8_t hdr[SHARD_HEADER_BYTES], const char *path, uint64_t *ntok);

/* ---- reading a whole shard --------------------------------------------------- */

/* A shard held in memory: a .bin is mmap'ed, a .bin.zst is decompressed
 * (streamed from disk into one buffer that grows with the tokens read, to
 * 2*ntok bytes at most: the header's count is no allocation until the
 * stream bears it out). */
typedef struct {
	char *path;
	uint64_t ntok;
	const uint16_t *tok;  /* (ntok,) little-endian host order assumed */
	void *map_;           /* private: the mapping or the buffer */
	size_t map_len_;
	bool mapped_;
} shard_file;

/* Open and validate PATH (magic, version, size; zstd integrity). */
int shard_open(shard_file *s, const char *path);
void shard_close(shard_file *s);
/* Only the token count, cheaply: the header of a .bin (with the file size
 * checked), the first 1 KiB decompressed of a .bin.zst. */
int shard_peek_count(const char *path, uint64_t *ntok);

/* ---- reading in pieces --------------------------------------------------------- */

/* A sequential reader of the tokens in constant memory, for either kind.
 * shard_reader_read returns tokens read (0 at the end) or -1; it checks at
 * the end that the tokens are as many as the header says, no bytes follow,
 * and the zstd stream is whole. */
typedef struct shard_reader shard_reader;

shard_reader *shard_reader_open(const char *path);
uint64_t shard_reader_count(const shard_reader *r);
long long shard_reader_read(shard_reader *r, uint16_t *tok, size_t max);
void shard_reader_close(shard_reader *r);

/* ---- writing ------------------------------------------------------------------- */

typedef struct {
	int zstd_level;     /* 0: plain .bin; else the zstd level (may be negative) */
	int zstd_threads;   /* zstd worker threads (0 or 1: in this thread) */
	bool overwrite;     /* replace an existing file of that name */
	/* If set, *tmp_hook names the temp file while it exists, NULL otherwise:
	 * for a signal handler to unlink. */
	const char *volatile *tmp_hook;
} shard_write_opts;

/* Write tok[0..ntok) as a shard at PATH, atomically (temp, fsync, rename). */
int shard_write(const char *path, const uint16_t *tok, uint64_t ntok, const shard_write_opts *o);

/* A plain .bin written as it streams in, in constant memory: the header's
 * count is patched in at commit. Nothing appears at PATH before commit. */
typedef struct {
	void *af_;        /* private: the atomic_file */
	int fd_;
	uint64_t kicked_; /* bytes whose writeback has been started */
	uint64_t ntok;    /* tokens written so far */
} shard_stream;

int shard_stream_open(shard_stream *w, const char *path, bool overwrite);
int shard_stream_write(shard_stream *w, const uint16_t *tok, size_t n);
int shard_stream_commit(shard_stream *w);
void shard_stream_abort(shard_stream *w);
/* The temp file's name while open (for a signal handler to unlink), or NULL. */
const char *shard_stream_tmp_path(const shard_stream *w);

#endif
