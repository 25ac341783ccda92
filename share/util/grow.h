/*
 * grow.h — room for one more element at the end of a growing array, the
 * capacity doubling from a first size:
 *
 *     if (n->len == n->cap) {
 *             item *p = grow(n->items, &n->cap, sizeof *p, 256);
 *             if (!p)
 *                     return false;   // out of memory; the array is as it was
 *             n->items = p;
 *     }
 *     n->items[n->len++] = x;
 */
#ifndef LMPIPE_GROW_H
#define LMPIPE_GROW_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

/* P (capacity *CAP elements of SIZE bytes) reallocated to twice its capacity,
 * or FIRST elements when it has none; *CAP updated. NULL when out of memory
 * (P and *CAP unchanged). */
static inline void *grow(void *p, size_t *cap, size_t size, size_t first)
{
	size_t n = *cap ? 2 * *cap : first;
	if (n < *cap || n > SIZE_MAX / size)
		return NULL;
	void *q = realloc(p, n * size);
	if (q)
		*cap = n;
	return q;
}

#endif
