/*
 * learn.h — learning a byte-level BPE (bpe-learn's engine).
 *
 * Two steps, as in GPT-2 and the CS336 assignment:
 *
 * 1. Count: the text is split at special tokens (longest match first; the
 *    specials themselves are dropped, so no merge enters or crosses one),
 *    each stretch between them is pre-tokenized with GPT-2's pattern
 *    (tok/pretok.h), and every distinct pre-token is counted. Input is read
 *    in chunks cut only where pre-tokenization cannot change (a safe cut,
 *    never inside a possible special); several threads pre-tokenize and
 *    count chunks into their own tables, merged at the end. Memory grows
 *    with the number of distinct pre-tokens, not with the corpus.
 *
 * 2. Merge: each step merges the most frequent adjacent pair of tokens
 *    within the pre-tokens; a tie goes to the lexicographically greater pair
 *    comparing byte strings, left part first, then right (the CS336 rule).
 *    Pair counts are kept incrementally (pair -> words holding it, a
 *    max-heap with lazy deletion): a merge touches only the words that
 *    contain its pair, never the whole corpus. A merge that touches many
 *    words splits them across the threads; the merges are the same for
 *    every number of threads.
 */
#ifndef LMPIPE_TOK_LEARN_H
#define LMPIPE_TOK_LEARN_H

#include "tok/merges.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What the progress callback sees. */
typedef struct {
	int phase;               /* LEARN_COUNTING or LEARN_MERGING */
	uint64_t bytes;          /* counting: bytes of text read so far */
	uint64_t distinct;       /* distinct pre-tokens (known after counting) */
	uint32_t merges_done;    /* merging: merges made so far ... */
	uint32_t merges_wanted;  /* ... of this many */
} learn_progress;

enum { LEARN_COUNTING = 1, LEARN_MERGING = 2 };

typedef struct {
	int threads;                       /* counting and merging threads, >= 1 */
	const char *const *specials;       /* split points, never merged */
	int n_specials;
	const char *jsonl_key;             /* NULL: plain text */
	/* called now and then (from the calling thread) when non-NULL */
	void (*progress)(const learn_progress *p, void *arg);
	void *progress_arg;
	/* the words a merge must touch to be split across threads (0: the
	 * default, a few thousand; the tests set 1 to split every merge) */
	uint32_t parallel_min;
} learn_options;

/* The distinct pre-tokens of a corpus and how often each occurs. */
typedef struct learn_counts learn_counts;

/* Count the pre-tokens of the files (NULL or "-" = stdin); NULL + lm_fail
 * on a read error (naming the file, member, line). */
learn_counts *learn_count_files(const char *const *paths, int n_paths, const learn_options *o);
/* Count pre-tokens of one text held in memory (a whole document). */
learn_counts *learn_count_text(const uint8_t *text, size_t n, const learn_options *o);
uint64_t learn_counts_distinct(const learn_counts *c);
uint64_t learn_counts_total(const learn_counts *c);   /* pre-tokens in all */
uint64_t learn_counts_bytes(const learn_counts *c);   /* bytes of text read */
/* Symbolic and hard links in archives, skipped (text/input.h says why). */
uint64_t learn_counts_links_skipped(const learn_counts *c);
/* Visit each distinct pre-token (in no particular order). */
void learn_counts_each(const learn_counts *c,
		       void (*fn)(const uint8_t *s, size_t n, uint64_t count, void *arg), void *arg);
void learn_counts_free(learn_counts *c);

/* Learn up to n_merges merges from the counts into *m (made here: the 256
 * byte tokens, the merges, then o->specials). Fewer merges when no pair is
 * left. */
int learn_merges(const learn_counts *c, uint32_t n_merges, const learn_options *o, bpe_merges *m);

#endif
