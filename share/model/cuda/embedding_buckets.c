/*
 * embedding_buckets.c — the positions of each distinct token, grouped, for
 * the deterministic embedding backward (cu_embedding_backward): the kernel
 * gives one thread each channel of one distinct token, which sums that
 * token's positions in order, so no two threads ever add into the same
 * gradient row and the order of the sum is fixed.
 *
 * Host code. The grouping is a stable sort of the positions by token: an
 * LSD radix sort on 16-bit digits, O(n) a pass, one pass when every token
 * is below 65536 and two otherwise. It never needs the vocabulary size, so
 * a 128K-token vocabulary costs nothing more than GPT-2's.
 */
#include "model/cuda/kernels.h"
#include "util/error.h"

#include <stdlib.h>
#include <string.h>

#define DIGIT_BITS 16
#define DIGITS (1 << DIGIT_BITS)

/* One stable counting-sort pass on the digit at shift: (key_in, val_in)
 * to (key_out, val_out). val_in NULL means the identity (0, 1, 2, ...). */
static void radix_pass(const int *key_in, const int *val_in, int *key_out, int *val_out,
		       int n, int shift, int *count)
{
	memset(count, 0, sizeof(int) * (DIGITS + 1));
	for (int i = 0; i < n; i++)
		count[(((unsigned)key_in[i] >> shift) & (DIGITS - 1)) + 1]++;
	for (int d = 0; d < DIGITS; d++)
		count[d + 1] += count[d];
	for (int i = 0; i < n; i++) {
		int slot = count[((unsigned)key_in[i] >> shift) & (DIGITS - 1)]++;
		key_out[slot] = key_in[i];
		val_out[slot] = val_in ? val_in[i] : i;
	}
}

/* Sorted keys (n, in ids) to distinct ids and the start of each run. */
static int compact_runs(int *ids, int *starts, int n)
{
	int distinct = 0;
	for (int i = 0; i < n; i++) {
		int key = ids[i];
		if (i == 0 || key != ids[distinct - 1]) {
			ids[distinct] = key;
			starts[distinct] = i;
			distinct++;
		}
	}
	starts[distinct] = n;
	return distinct;
}

static int max_token(const int *tokens, int n)
{
	int hi = 0;
	for (int i = 0; i < n; i++)
		if (tokens[i] > hi)
			hi = tokens[i];
	return hi;
}

int embedding_buckets(const int *tokens, int n, int *ids, int *starts, int *pos)
{
	if (n < 0)
		return lm_fail("embedding buckets: negative token count %d", n);
	for (int i = 0; i < n; i++)
		if (tokens[i] < 0)
			return lm_fail("embedding buckets: negative token id %d at position %d",
				       tokens[i], i);
	int *count = malloc(sizeof(int) * (DIGITS + 1));
	if (!count)
		return lm_fail("embedding buckets: out of memory");
	/* low digit: tokens to (ids, pos) */
	radix_pass(tokens, NULL, ids, pos, n, 0, count);
	if (max_token(tokens, n) >= DIGITS) {
		/* high digit: (ids, pos) to a copy and back, still stable */
		int *tmp = malloc(sizeof(int) * 2 * (size_t)(n ? n : 1));
		if (!tmp) {
			free(count);
			return lm_fail("embedding buckets: out of memory");
		}
		memcpy(tmp, ids, sizeof(int) * (size_t)n);
		memcpy(tmp + n, pos, sizeof(int) * (size_t)n);
		radix_pass(tmp, tmp + n, ids, pos, n, DIGIT_BITS, count);
		free(tmp);
	}
	free(count);
	return compact_runs(ids, starts, n);
}
