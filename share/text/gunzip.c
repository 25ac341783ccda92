/*
 * gunzip.c — gzip decoding with its checks (see gunzip.h).
 *
 * zlib's inflate with windowBits 15 + 16 reads the gzip header and checks
 * the trailer's CRC-32 and length itself (Z_DATA_ERROR "incorrect data
 * check" / "incorrect length check"); this file adds the members' loop and
 * the end-of-input rules.
 */
#include "text/gunzip.h"
#include "util/error.h"

#include <stdlib.h>
#include <zlib.h>

enum { GZIP_WINDOW = 15 + 16 };   /* 32 KiB window, gzip wrapper */

struct gunzip {
	z_stream z;
	gunzip_pull pull;
	void *ctx;
	bool in_eof;             /* the source has no more bytes */
	bool between;            /* a member ended; another may follow */
};

bool gunzip_sniff(const uint8_t *s, size_t n)
{
	return n >= GUNZIP_SNIFF_BYTES && s[0] == 0x1f && s[1] == 0x8b && s[2] == 8;
}

gunzip *gunzip_new(gunzip_pull pull, void *ctx)
{
	gunzip *g = calloc(1, sizeof *g);
	if (!g || inflateInit2(&g->z, GZIP_WINDOW) != Z_OK) {
		free(g);
		lm_fail("out of memory");
		return NULL;
	}
	g->pull = pull;
	g->ctx = ctx;
	return g;
}

void gunzip_free(gunzip *g)
{
	if (!g)
		return;
	inflateEnd(&g->z);
	free(g);
}

/* Input for inflate: 0, or -1 when the source failed. */
static int refill(gunzip *g)
{
	if (g->z.avail_in > 0 || g->in_eof)
		return 0;
	const uint8_t *b;
	long n = g->pull(g->ctx, &b);
	if (n < 0)
		return -1;
	g->in_eof = n == 0;
	g->z.next_in = (Bytef *)b;
	g->z.avail_in = (uInt)n;
	return 0;
}

/* Between members: skip zero padding; 1 when a member follows, 0 at the
 * end, -1 for anything else. */
static int next_member(gunzip *g)
{
	for (;;) {
		if (refill(g) != 0)
			return -1;
		if (g->z.avail_in == 0)
			return 0;
		if (*g->z.next_in != 0)
			break;
		g->z.next_in++;
		g->z.avail_in--;
	}
	if (*g->z.next_in != 0x1f)
		return lm_fail("data after the end of the gzip stream");
	g->between = false;
	return inflateReset(&g->z) == Z_OK ? 1 : lm_fail("cannot restart inflate");
}

long gunzip_read(gunzip *g, uint8_t *out, size_t cap)
{
	g->z.next_out = out;
	g->z.avail_out = (uInt)(cap < UINT32_MAX ? cap : UINT32_MAX);
	uInt room = g->z.avail_out;
	while (g->z.avail_out > 0) {
		if (g->between) {
			int r = next_member(g);
			if (r < 0)
				return -1;
			if (r == 0)
				break;
		}
		if (refill(g) != 0)
			return -1;
		int r = inflate(&g->z, Z_NO_FLUSH);
		if (r == Z_STREAM_END)
			g->between = true;
		else if (r == Z_BUF_ERROR && g->in_eof && g->z.avail_in == 0)
			return lm_fail("truncated gzip stream");
		else if (r != Z_OK && r != Z_BUF_ERROR)
			return lm_fail("corrupt gzip stream: %s", g->z.msg ? g->z.msg : zError(r));
	}
	return (long)(room - g->z.avail_out);
}
