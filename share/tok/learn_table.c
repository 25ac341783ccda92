/*
 * learn_table.c — the counting hash table (see learn_table.h).
 */
#include "tok/learn_table.h"
#include "util/error.h"

#include <stdlib.h>
#include <string.h>

enum { FIRST_CAP = 1 << 12, FIRST_ARENA = 1 << 16 };

/* A fast hash of short strings: 8 bytes at a time, multiply and fold. */
static uint64_t hash_piece(const uint8_t *s, size_t n)
{
	const uint64_t k = 0x9E3779B97F4A7C15ull;
	uint64_t h = n * k;
	while (n >= 8) {
		uint64_t w;
		memcpy(&w, s, 8);
		h = (h ^ w) * k;
		h ^= h >> 31;
		s += 8;
		n -= 8;
	}
	if (n) {
		uint64_t w = 0;
		memcpy(&w, s, n);
		h = (h ^ w) * k;
		h ^= h >> 31;
	}
	h *= 0xBF58476D1CE4E5B9ull;
	return h ^ (h >> 29);
}

int piece_table_init(piece_table *t)
{
	memset(t, 0, sizeof *t);
	t->slots = calloc(FIRST_CAP, sizeof *t->slots);
	t->arena = malloc(FIRST_ARENA);
	if (!t->slots || !t->arena) {
		piece_table_free(t);
		return lm_fail("out of memory");
	}
	t->cap = FIRST_CAP;
	t->arena_cap = FIRST_ARENA;
	return 0;
}

void piece_table_free(piece_table *t)
{
	free(t->slots);
	free(t->arena);
	memset(t, 0, sizeof *t);
}

static int grow_slots(piece_table *t)
{
	size_t cap = 2 * t->cap;
	piece_slot *s = calloc(cap, sizeof *s);
	if (!s)
		return lm_fail("out of memory (%zu distinct pre-tokens)", t->used);
	for (size_t i = 0; i < t->cap; i++) {
		if (!t->slots[i].count)
			continue;
		size_t j = t->slots[i].hash & (cap - 1);
		while (s[j].count)
			j = (j + 1) & (cap - 1);
		s[j] = t->slots[i];
	}
	free(t->slots);
	t->slots = s;
	t->cap = cap;
	return 0;
}

static int arena_store(piece_table *t, const uint8_t *s, size_t n, uint64_t *off)
{
	if (t->arena_len + n > t->arena_cap) {
		size_t cap = t->arena_cap;
		while (cap < t->arena_len + n)
			cap *= 2;
		uint8_t *a = realloc(t->arena, cap);
		if (!a)
			return lm_fail("out of memory (%zu distinct pre-tokens)", t->used);
		t->arena = a;
		t->arena_cap = cap;
	}
	memcpy(t->arena + t->arena_len, s, n);
	*off = t->arena_len;
	t->arena_len += n;
	return 0;
}

static int add_hashed(piece_table *t, uint64_t h, const uint8_t *s, size_t n, uint64_t k)
{
	size_t mask = t->cap - 1;
	for (size_t i = h & mask;; i = (i + 1) & mask) {
		piece_slot *p = &t->slots[i];
		if (!p->count) {
			if (n > UINT32_MAX)
				return lm_fail("a pre-token of %zu bytes", n);
			if (arena_store(t, s, n, &p->off) != 0)
				return -1;
			p->hash = h;
			p->len = (uint32_t)n;
			p->count = k;
			t->total += k;
			if (++t->used * 4 > t->cap * 3)  /* keep the load under 3/4 */
				return grow_slots(t);
			return 0;
		}
		if (p->hash == h && p->len == n && memcmp(t->arena + p->off, s, n) == 0) {
			p->count += k;
			t->total += k;
			return 0;
		}
	}
}

int piece_table_add(piece_table *t, const uint8_t *s, size_t n, uint64_t k)
{
	return add_hashed(t, hash_piece(s, n), s, n, k);
}

/* Slots at least as many as src's first: src's entries come in the order of
 * their hash's low bits, and into a smaller table (a smaller mask) they
 * wrap around it again and again, each lap probing past the entries of
 * the last (the quadratic merge of linear-probing tables). Summing two
 * counting threads' tables into a fresh one took more CPU than the
 * counting itself on 1 GB of text. */
int piece_table_absorb(piece_table *t, const piece_table *src)
{
	while (t->cap < src->cap)
		if (grow_slots(t) != 0)
			return -1;
	for (size_t i = 0; i < src->cap; i++) {
		const piece_slot *p = &src->slots[i];
		if (p->count && add_hashed(t, p->hash, src->arena + p->off, p->len, p->count) != 0)
			return -1;
	}
	return 0;
}
