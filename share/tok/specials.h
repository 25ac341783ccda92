/*
 * specials.h — special-token matching, longest first.
 *
 * Special tokens (e.g. "<|endoftext|>") are found in raw text before
 * pre-tokenization and become their own ids; the text between them is
 * pre-tokenized as separate segments. Where several specials start at the
 * same offset the longest wins ("<|a|><|a|>" over "<|a|>"), as the CS336
 * tests expect.
 */
#ifndef LMPIPE_TOK_SPECIALS_H
#define LMPIPE_TOK_SPECIALS_H

#include <stddef.h>
#include <stdint.h>

typedef struct specials specials;

/* NULL + lm_fail on an empty string or on allocation failure. n may be 0. */
specials *specials_new(const char *const *strings, int n);
/* Offset of the first special token in s[0..n) (n if none); *which = its
 * index, *len = its length. Where several start at the same offset, the
 * longest wins. */
size_t specials_find(const specials *sp, const uint8_t *s, size_t n, int *which, size_t *len);
/* Length of the longest special (0 if none): a streaming reader keeps that
 * many bytes minus one back, so a special cut by a buffer edge is not missed. */
size_t specials_max_len(const specials *sp);
void specials_free(specials *sp);

#endif
