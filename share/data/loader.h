/*
 * loader.h — batches of token windows from a set of shards, for lm-train
 * and lm-eval.
 *
 * A shard of n tokens holds W = (n - 1) / T windows of T+1 tokens, at token
 * offsets 0, T, 2T, ... (a window's inputs are its first T tokens, its
 * targets the last T: consecutive windows share one token, as in llm.c). A
 * window never spans two shards.
 *
 * The order. An epoch is every window of every shard once. In train mode
 * (shuffle) each epoch permutes the shards, and the windows inside each
 * shard, from (seed, epoch) alone — the same seed gives the same order on
 * any machine, a new epoch a new order. In val mode shards come in name
 * order and windows in file order, one pass, then the loader is exhausted.
 * Epochs follow each other into one global sequence of windows G[0], G[1],
 * ...; of R ranks, rank r takes G[r], G[r+R], G[r+2R], ..., so the ranks
 * never overlap and together see every window of an epoch exactly once.
 *
 * The position is the global cursor: where the next batch of all ranks
 * starts (epoch, shard in the epoch's order, window in the shard's order,
 * seed). Ranks that have taken the same number of batches share it, so one
 * saved position resumes every rank of a run, exactly.
 *
 * Memory: one shard at a time. A .bin is mmap'ed (only the pages of the
 * windows taken are read); a .bin.zst is decompressed when first needed,
 * streamed from disk into one buffer of its token count.
 *
 * Usage:
 *
 *     loader_opts o = {.B = 8, .T = 1024, .rank = r, .nranks = R, .seed = 1337, .shuffle = true};
 *     loader *L = loader_open("data/", "train", &o);    // NULL: lm_last_error()
 *     int32_t x[8 * 1024], y[8 * 1024];                // (B, T) inputs, (B, T) targets
 *     while (training) loader_next(L, x, y, NULL);      // train: always B rows
 *     uint8_t pos[LOADER_POS_BYTES];
 *     loader_pos_save(L, pos);                          // into the checkpoint state
 *     ...
 *     loader_pos_restore(L, pos, sizeof pos);           // the resumed run
 */
#ifndef LMPIPE_LOADER_H
#define LMPIPE_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct loader loader;

typedef struct {
	int B;             /* windows (rows) per batch */
	int T;             /* tokens per row of inputs; a window has T+1 */
	int rank, nranks;  /* this process takes windows g with g % nranks == rank */
	uint64_t seed;     /* the shuffle (train mode) */
	bool shuffle;      /* true: train order, endless; false: val order, one pass */
	int vocab;         /* > 0: a token >= vocab is an error naming the shard and
			    * the token's offset in it; 0: not checked */
} loader_opts;

/* Where the next batch (of every rank) starts. */
typedef struct {
	uint64_t epoch;
	uint64_t shard;    /* index into the epoch's shard order */
	uint64_t window;   /* index into that shard's window order */
	uint64_t seed;
} loader_pos;

/* Where one row came from (for tests and debugging). */
typedef struct {
	uint64_t epoch;
	size_t file;       /* index for loader_shard_path() */
	uint64_t offset;   /* token offset of the window in its shard */
} loader_src;

enum { LOADER_POS_BYTES = 64 };

/* Open the shards of SPEC: a directory, a glob ("data/fw_train_0000*") or one
 * file. .bin and .bin.zst mix freely; temp files and other names are
 * ignored. SPLIT ("train", "val") keeps the files whose name has it as a
 * part between '_', '.' or '-' (fineweb_train_000001.bin); NULL keeps all.
 * Reads every header; fails, naming the file, on a bad one, and when no
 * shard or no window of T+1 tokens is found. */
loader *loader_open(const char *spec, const char *split, const loader_opts *o);
void loader_close(loader *L);

/* The next batch: x and y (B, T) each, y the targets (x shifted by one).
 * SRC, if not NULL, gets B entries. Returns the rows filled: always B in
 * train mode; in val mode fewer at the end, then 0. -1 on an error (a shard
 * that fails its checks when opened). */
int loader_next(loader *L, int32_t *x, int32_t *y, loader_src *src);

/* The position, and moving to one (checked against this data set). */
void loader_tell(const loader *L, loader_pos *pos);
int loader_seek(loader *L, const loader_pos *pos);
/* Back to the start of epoch 0 (val: before each evaluation). */
void loader_rewind(loader *L);

/* The position as LOADER_POS_BYTES little-endian bytes, with a magic and a
 * fingerprint of the data set (T, shard count, window count), and back:
 * restoring refuses a position from another data set or window length. */
void loader_pos_save(const loader *L, uint8_t out[LOADER_POS_BYTES]);
int loader_pos_restore(loader *L, const uint8_t *in, size_t n);

/* The data set. */
size_t loader_num_shards(const loader *L);
const char *loader_shard_path(const loader *L, size_t i);  /* in name order */
uint64_t loader_num_windows(const loader *L);              /* per epoch, all ranks */
uint64_t loader_num_tokens(const loader *L);

#endif
