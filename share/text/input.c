/*
 * input.c — text from files, stdin, libarchive containers and JSON lines
 * (see input.h).
 *
 * libarchive does the work: every compression filter it knows, the tar and
 * zip formats, and its "raw" format for a file that is no archive (a plain
 * or compressed text), which comes out as one member. Data blocks are handed
 * to the caller without a copy, except in JSON-lines mode, where a line cut
 * by a block edge is gathered first.
 *
 * Except gzip: libarchive checks no gzip CRC, so the file's bytes reach it
 * through our own reader (source_read), which decodes a gzip stream with
 * its checks (text/gunzip.h). Every libarchive status is an error but OK
 * and EOF: ARCHIVE_WARN from a read means bad data (a zip member's CRC),
 * and ARCHIVE_RETRY from a header a damaged one.
 */
#include "text/input.h"
#include "text/gunzip.h"
#include "util/error.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct text_input {
	struct archive *a;
	char *name;              /* the path, or "stdin", for messages */
	/* the file's bytes, for libarchive */
	int fd;
	uint8_t *rbuf;           /* [TEXT_INPUT_BLOCK] read from fd */
	long rbuf_len;
	bool rbuf_fresh;         /* rbuf holds the first block, not yet handed out */
	gunzip *gz;              /* the file is gzip: decoded here */
	uint8_t *gz_out;         /* [TEXT_INPUT_BLOCK] */
	bool first_block;        /* the member's next block is its first */
	char *member;            /* current member's name, NULL for a plain file */
	bool raw;                /* not an archive: the file is the one document */
	bool in_member;          /* a member's data is being read */
	bool new_doc;            /* the next piece begins a document */
	uint64_t links_skipped;  /* symbolic and hard links passed over */
	/* JSON lines */
	char *key;
	const uint8_t *blk;      /* current data block ... */
	size_t blk_len, blk_pos; /* ... and how far it has been split */
	uint8_t *line;           /* a line cut by a block edge */
	size_t line_len, line_cap;
	unsigned long line_no;
	json_t *doc;             /* the line returned last */
};

/* ---- the file's bytes ----------------------------------------------------------- */

/* Read into rbuf at least min bytes (fewer only at the end of the file), as
 * many as one read gives beyond: a pipe's text goes on as it comes. */
static long source_fill(text_input *in, size_t min)
{
	size_t got = 0;
	while (got < min) {
		ssize_t r = read(in->fd, in->rbuf + got, TEXT_INPUT_BLOCK - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return lm_fail_errno("cannot read '%s'", in->name);
		if (r == 0)
			break;
		got += (size_t)r;
	}
	in->rbuf_len = (long)got;
	return (long)got;
}

/* The next block of the file as it is on disk. */
static long source_pull(void *ctx, const uint8_t **buf)
{
	text_input *in = ctx;
	if (!in->rbuf_fresh && source_fill(in, 1) < 0)
		return -1;
	in->rbuf_fresh = false;
	*buf = in->rbuf;
	return in->rbuf_len;
}

/* libarchive's read callback: the file's bytes, or a gzip file's text. */
static la_ssize_t source_read(struct archive *a, void *ctx, const void **buf)
{
	text_input *in = ctx;
	long n;
	if (in->gz) {
		n = gunzip_read(in->gz, in->gz_out, TEXT_INPUT_BLOCK);
		*buf = in->gz_out;
	} else {
		const uint8_t *b = NULL;
		n = source_pull(in, &b);
		*buf = b;
	}
	if (n < 0) {
		archive_set_error(a, -1, "%s", lm_last_error());  /* -1: no errno */
		return -1;
	}
	return n;
}

/* libarchive's seek callback, for a file on disk that is not gzip: the zip
 * reader then reads the central directory (where a member's type is, a
 * symbolic link's say) instead of streaming the local headers. */
static la_int64_t source_seek(struct archive *a, void *ctx, la_int64_t offset, int whence)
{
	text_input *in = ctx;
	if (in->rbuf_fresh && whence == SEEK_CUR)
		offset -= in->rbuf_len;  /* libarchive has not had the block read ahead */
	in->rbuf_fresh = false;
	off_t at = lseek(in->fd, (off_t)offset, whence);
	if (at < 0) {
		archive_set_error(a, errno, "cannot seek in '%s'", in->name);
		return ARCHIVE_FATAL;
	}
	return at;
}

/* Open the file, read its first block and, if it is gzip, set the decoder. */
static int source_open(text_input *in, const char *path)
{
	in->fd = path ? open(path, O_RDONLY | O_CLOEXEC) : 0;
	if (in->fd < 0)
		return lm_fail_errno("cannot open '%s'", in->name);
	if (!(in->rbuf = malloc(TEXT_INPUT_BLOCK)))
		return lm_fail("out of memory");
	long n = source_fill(in, GUNZIP_SNIFF_BYTES);
	if (n < 0)
		return -1;
	in->rbuf_fresh = true;
	if (gunzip_sniff(in->rbuf, (size_t)n) &&
	    (!(in->gz_out = malloc(TEXT_INPUT_BLOCK)) || !(in->gz = gunzip_new(source_pull, in))))
		return lm_fail("out of memory");
	return 0;
}

/* ---- opening and closing --------------------------------------------------- */

static int fail_archive(text_input *in, const char *what)
{
	const char *msg = archive_error_string(in->a);
	if (in->member)
		return lm_fail("'%s': member '%s': %s", in->name, in->member, msg ? msg : what);
	return lm_fail("'%s': %s", in->name, msg ? msg : what);
}

text_input *text_input_open(const char *path, const char *jsonl_key)
{
	bool is_stdin = strcmp(path, "-") == 0;
	text_input *in = calloc(1, sizeof *in);
	if (!in || !(in->name = strdup(is_stdin ? "stdin" : path)) ||
	    (jsonl_key && !(in->key = strdup(jsonl_key))) || !(in->a = archive_read_new())) {
		text_input_close(in);
		lm_fail("out of memory");
		return NULL;
	}
	in->fd = -1;
	if (source_open(in, is_stdin ? NULL : path) != 0) {
		text_input_close(in);
		return NULL;
	}
	archive_read_support_filter_all(in->a);
	archive_read_support_format_tar(in->a);
	archive_read_support_format_gnutar(in->a);
	archive_read_support_format_zip(in->a);
	archive_read_support_format_empty(in->a);
	archive_read_support_format_raw(in->a);  /* bids last: a plain file */
	archive_read_set_callback_data(in->a, in);
	archive_read_set_read_callback(in->a, source_read);
	if (!in->gz && lseek(in->fd, 0, SEEK_CUR) >= 0)
		archive_read_set_seek_callback(in->a, source_seek);
	if (archive_read_open1(in->a) != ARCHIVE_OK) {
		fail_archive(in, "unknown error");
		text_input_close(in);
		return NULL;
	}
	return in;
}

void text_input_close(text_input *in)
{
	if (!in)
		return;
	if (in->a)
		archive_read_free(in->a);
	if (in->fd > 0)
		close(in->fd);
	gunzip_free(in->gz);
	free(in->gz_out);
	free(in->rbuf);
	if (in->doc)
		json_decref(in->doc);
	free(in->name);
	free(in->member);
	free(in->key);
	free(in->line);
	free(in);
}

/* ---- members ------------------------------------------------------------------ */

static const char *filetype_name(unsigned type)
{
	switch (type) {
	case AE_IFCHR: return "a character device";
	case AE_IFBLK: return "a block device";
	case AE_IFIFO: return "a FIFO";
	case AE_IFSOCK: return "a socket";
	default: return "not a regular file";
	}
}

/* A link's target is (or will be) read as a member of its own; reading the
 * link as well would count that text twice, or fail for a dangling one. */
static bool is_link(struct archive_entry *e)
{
	return archive_entry_filetype(e) == AE_IFLNK || archive_entry_hardlink(e) != NULL;
}

/* Move to the next regular member: 1, or 0 at the end, -1 on error. */
static int next_member(text_input *in)
{
	for (;;) {
		struct archive_entry *e;
		int r = archive_read_next_header(in->a, &e);
		if (r == ARCHIVE_EOF)
			return 0;
		if (r != ARCHIVE_OK) {  /* RETRY: a damaged header; WARN: one read wrong */
			const char *msg = archive_error_string(in->a);
			msg = msg ? msg : "cannot read the next member";
			if (in->member)
				return lm_fail("'%s': after member '%s': %s", in->name, in->member, msg);
			return lm_fail("'%s': %s", in->name, msg);
		}
		in->raw = archive_format(in->a) == ARCHIVE_FORMAT_RAW;
		free(in->member);
		in->member = NULL;
		if (!in->raw) {
			const char *name = archive_entry_pathname(e);
			if (!(in->member = strdup(name ? name : "?")))
				return lm_fail("out of memory");
		}
		unsigned type = archive_entry_filetype(e);
		if (type == AE_IFDIR)
			continue;
		if (!in->raw && is_link(e)) {
			in->links_skipped++;
			continue;
		}
		if (!in->raw && type != AE_IFREG)
			return lm_fail("'%s': member '%s' is %s, not a regular file", in->name,
				       in->member, filetype_name(type));
		in->in_member = true;
		in->first_block = true;
		in->new_doc = true;
		in->line_no = 0;
		in->line_len = 0;
		return 1;
	}
}

/* The name of the compression whose magic s[0..n) begins with, or NULL. */
static const char *compressed_kind(const uint8_t *s, size_t n)
{
	static const struct { const char *name, *magic; size_t len; } kinds[] = {
		{"gzip", "\x1f\x8b\x08", 3},
		{"xz", "\xfd" "7zXZ\0", 6},
		{"zstd", "\x28\xb5\x2f\xfd", 4},
		{"bzip2", "BZh", 3},  /* then a digit and the block magic 1AY&SY */
	};
	for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++)
		if (n >= kinds[i].len && memcmp(s, kinds[i].magic, kinds[i].len) == 0 &&
		    (strcmp(kinds[i].name, "bzip2") != 0 ||
		     (n >= 10 && s[3] >= '1' && s[3] <= '9' && memcmp(s + 4, "1AY&SY", 6) == 0)))
			return kinds[i].name;
	return NULL;
}

/* A first block that is no text: a tar whose first header libarchive
 * refused (its checksum), so that the raw format took the file; a member
 * that is itself compressed. Documents are text: tokenizing either would
 * feed binary bytes to the tokenizer with no word. */
static int check_first_block(text_input *in, const uint8_t *s, size_t n)
{
	/* POSIX "ustar\0" and GNU "ustar  \0", NULs included: text may well hold
	 * "mustard" at byte 256 */
	enum { TAR_MAGIC_AT = 257 };
	const char *m = (const char *)s + TAR_MAGIC_AT;
	if (in->raw && n >= TAR_MAGIC_AT + 8 &&
	    (memcmp(m, "ustar", 6) == 0 || memcmp(m, "ustar  ", 8) == 0))
		return lm_fail("'%s': a tar archive whose first header is damaged", in->name);
	const char *kind = in->raw ? NULL : compressed_kind(s, n);
	if (kind)
		return lm_fail("'%s': member '%s' is compressed (%s): decompress the members "
			       "(or compress the whole archive instead)", in->name, in->member, kind);
	return 0;
}

/* Next data block of the current member: its length, 0 at the member's end. */
static long next_block(text_input *in, const uint8_t **buf)
{
	for (;;) {
		const void *b;
		size_t size;
		la_int64_t offset;
		int r = archive_read_data_block(in->a, &b, &size, &offset);
		if (r == ARCHIVE_EOF) {
			in->in_member = false;
			return 0;
		}
		if (r != ARCHIVE_OK)  /* WARN included: a zip member's CRC, say */
			return fail_archive(in, "cannot read");
		if (size == 0)
			continue;
		if (in->first_block && check_first_block(in, b, size) != 0)
			return -1;
		in->first_block = false;
		*buf = b;
		return (long)size;
	}
}

static long read_plain(text_input *in, const uint8_t **buf, bool *doc_start)
{
	for (;;) {
		if (!in->in_member) {
			int r = next_member(in);
			if (r <= 0)
				return r;
		}
		long n = next_block(in, buf);
		if (n != 0) {
			*doc_start = in->new_doc;
			in->new_doc = false;
			return n;
		}
	}
}

/* ---- JSON lines ----------------------------------------------------------------- */

static int fail_line(text_input *in, const char *fmt, const char *detail)
{
	char where[64];
	snprintf(where, sizeof where, "line %lu", in->line_no);
	if (in->member)
		return lm_fail("'%s': member '%s' %s: %s%s", in->name, in->member, where, fmt, detail);
	return lm_fail("'%s' %s: %s%s", in->name, where, fmt, detail);
}

static bool all_space(const uint8_t *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
			return false;
	return true;
}

/* Parse one line: 1 with its text in buf and len (in->doc holds it until the
 * next line), 0 for a blank line or an empty string, -1. */
static int parse_line(text_input *in, const uint8_t *s, size_t n, const uint8_t **buf, size_t *len)
{
	in->line_no++;
	if (all_space(s, n))
		return 0;
	json_error_t err;
	json_t *doc = json_loadb((const char *)s, n, JSON_ALLOW_NUL, &err);
	if (!doc)
		return fail_line(in, "malformed JSON: ", err.text);
	if (!json_is_object(doc)) {
		json_decref(doc);
		return fail_line(in, "not a JSON object", "");
	}
	json_t *v = json_object_get(doc, in->key);
	if (!v || !json_is_string(v)) {
		json_decref(doc);
		char msg[256];
		snprintf(msg, sizeof msg, "'%.200s'", in->key);
		return v ? fail_line(in, msg, " is not a string") : fail_line(in, "no key ", msg);
	}
	if (json_string_length(v) == 0) {  /* an empty document: as if absent */
		json_decref(doc);
		return 0;
	}
	in->doc = doc;
	*buf = (const uint8_t *)json_string_value(v);
	*len = json_string_length(v);
	return 1;
}

static int line_append(text_input *in, const uint8_t *s, size_t n)
{
	if (in->line_len + n > in->line_cap) {
		size_t cap = in->line_cap ? in->line_cap : 4096;
		while (cap < in->line_len + n)
			cap *= 2;
		uint8_t *p = realloc(in->line, cap);
		if (!p)
			return lm_fail("out of memory (a line of %zu bytes)", in->line_len + n);
		in->line = p;
		in->line_cap = cap;
	}
	memcpy(in->line + in->line_len, s, n);
	in->line_len += n;
	return 0;
}

/* The next complete line of the current member into s and n: 1, 0 at the
 * member's end, -1. */
static int next_line(text_input *in, const uint8_t **s, size_t *n)
{
	for (;;) {
		if (in->blk_pos < in->blk_len) {
			const uint8_t *p = in->blk + in->blk_pos;
			size_t left = in->blk_len - in->blk_pos;
			const uint8_t *nl = memchr(p, '\n', left);
			if (nl && in->line_len == 0) {  /* whole line in the block */
				*s = p;
				*n = (size_t)(nl - p);
				in->blk_pos += *n + 1;
				return 1;
			}
			size_t take = nl ? (size_t)(nl - p) : left;
			if (line_append(in, p, take) != 0)
				return -1;
			in->blk_pos += take + (nl ? 1 : 0);
			if (nl) {
				*s = in->line;
				*n = in->line_len;
				in->line_len = 0;
				return 1;
			}
		}
		if (!in->in_member)
			return 0;
		long got = next_block(in, &in->blk);
		if (got < 0)
			return -1;
		in->blk_pos = 0;
		in->blk_len = (size_t)got;
		if (got == 0 && in->line_len) {  /* a last line with no newline */
			*s = in->line;
			*n = in->line_len;
			in->line_len = 0;
			return 1;
		}
	}
}

static long read_jsonl(text_input *in, const uint8_t **buf, bool *doc_start)
{
	if (in->doc) {
		json_decref(in->doc);
		in->doc = NULL;
	}
	for (;;) {
		if (!in->in_member && in->blk_pos >= in->blk_len) {
			int r = next_member(in);
			if (r <= 0)
				return r;
		}
		const uint8_t *s;
		size_t n, len;
		int r = next_line(in, &s, &n);
		if (r < 0)
			return -1;
		if (r == 0)
			continue;
		r = parse_line(in, s, n, buf, &len);
		if (r < 0)
			return -1;
		if (r > 0) {
			*doc_start = true;
			return (long)len;
		}
	}
}

uint64_t text_input_links_skipped(const text_input *in)
{
	return in->links_skipped;
}

long text_input_read(text_input *in, const uint8_t **buf, bool *doc_start)
{
	*doc_start = false;
	return in->key ? read_jsonl(in, buf, doc_start) : read_plain(in, buf, doc_start);
}
