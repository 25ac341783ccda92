/*
 * learn_table.h — a hash table of byte strings and their counts, for
 * bpe-learn's counting (one a thread, summed at the end). Open addressing
 * with linear probing; the strings live in one arena.
 */
#ifndef LMPIPE_TOK_LEARN_TABLE_H
#define LMPIPE_TOK_LEARN_TABLE_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
	uint64_t hash;
	uint64_t count;           /* 0: an empty slot */
	uint64_t off;             /* the string: arena[off .. off + len) */
	uint32_t len;
} piece_slot;

typedef struct {
	piece_slot *slots;
	size_t cap, used;         /* cap a power of two */
	uint8_t *arena;
	size_t arena_len, arena_cap;
	uint64_t total;           /* sum of all counts */
} piece_table;

int piece_table_init(piece_table *t);
/* Add k to the count of s[0..n). */
int piece_table_add(piece_table *t, const uint8_t *s, size_t n, uint64_t k);
/* Add every entry of src to t. */
int piece_table_absorb(piece_table *t, const piece_table *src);
void piece_table_free(piece_table *t);

#endif
