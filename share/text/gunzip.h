/*
 * gunzip.h — gzip streams decoded with zlib, each member's CRC-32 and
 * length checked.
 *
 * libarchive's gzip filter checks neither (a flipped bit in a .gz decodes
 * into wrong text, silently), so share/text/input.c decodes gzip here and
 * hands libarchive the text (or the tar inside). Concatenated members are
 * one stream, as gzip -d reads them; zero bytes after the last member are
 * padding and skipped; anything else after it is an error.
 */
#ifndef LMPIPE_TEXT_GUNZIP_H
#define LMPIPE_TEXT_GUNZIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct gunzip gunzip;

/* The compressed bytes: the next block into *buf (valid until the next
 * call), its length, 0 at the end, -1 on error (lm_fail set). */
typedef long (*gunzip_pull)(void *ctx, const uint8_t **buf);

enum { GUNZIP_SNIFF_BYTES = 3 };  /* what gunzip_sniff needs to see */

/* True when s[0..n) begins like a gzip stream (magic and deflate). */
bool gunzip_sniff(const uint8_t *s, size_t n);
/* NULL + lm_fail when out of memory. */
gunzip *gunzip_new(gunzip_pull pull, void *ctx);
/* Up to cap decoded bytes into out: their count, 0 at the end of the
 * stream, -1 on error (corrupt, a CRC or length mismatch, truncated). */
long gunzip_read(gunzip *g, uint8_t *out, size_t cap);
void gunzip_free(gunzip *g);

#endif
