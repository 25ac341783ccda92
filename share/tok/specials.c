/*
 * specials.c — find special tokens in raw text, longest first.
 *
 * There are few specials (usually one), so a scan for their possible first
 * bytes (memchr when they share one, as "<|...|>" tokens do) and a compare
 * at each hit is as fast as anything cleverer.
 */
#include "tok/specials.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"

struct specials {
	int n;
	char **s;
	size_t *len;
	size_t max_len;
	bool first[256];    /* bytes a special starts with */
	int one_first;      /* the only such byte, or -1 */
};

specials *specials_new(const char *const *strings, int n)
{
	specials *sp = calloc(1, sizeof *sp);
	if (!sp || (n > 0 && (!(sp->s = calloc(n, sizeof *sp->s)) || !(sp->len = calloc(n, sizeof *sp->len))))) {
		specials_free(sp);
		lm_fail("out of memory");
		return NULL;
	}
	sp->one_first = -1;
	for (int i = 0; i < n; i++) {
		size_t len = strlen(strings[i]);
		if (len == 0) {
			specials_free(sp);
			lm_fail("empty special token");
			return NULL;
		}
		if (!(sp->s[i] = strdup(strings[i]))) {
			specials_free(sp);
			lm_fail("out of memory");
			return NULL;
		}
		sp->n = i + 1;
		sp->len[i] = len;
		if (len > sp->max_len)
			sp->max_len = len;
		uint8_t b = (uint8_t)strings[i][0];
		sp->first[b] = true;
		sp->one_first = (i == 0 || sp->one_first == b) ? b : -2;
	}
	return sp;
}

/* The longest special at s[0..n), or -1. */
static int match_at(const specials *sp, const uint8_t *s, size_t n)
{
	int best = -1;
	for (int i = 0; i < sp->n; i++)
		if (sp->len[i] <= n && memcmp(s, sp->s[i], sp->len[i]) == 0 &&
		    (best < 0 || sp->len[i] > sp->len[best]))
			best = i;
	return best;
}

size_t specials_find(const specials *sp, const uint8_t *s, size_t n, int *which, size_t *len)
{
	*which = -1;
	*len = 0;
	if (!sp || sp->n == 0)
		return n;
	for (size_t i = 0; i < n; i++) {
		if (sp->one_first >= 0) {
			const uint8_t *p = memchr(s + i, sp->one_first, n - i);
			if (!p)
				return n;
			i = p - s;
		} else if (!sp->first[s[i]]) {
			continue;
		}
		int w = match_at(sp, s + i, n - i);
		if (w >= 0) {
			*which = w;
			*len = sp->len[w];
			return i;
		}
	}
	return n;
}

size_t specials_max_len(const specials *sp)
{
	return sp ? sp->max_len : 0;
}

void specials_free(specials *sp)
{
	if (!sp)
		return;
	for (int i = 0; i < sp->n; i++)
		free(sp->s[i]);
	free(sp->s);
	free(sp->len);
	free(sp);
}
