/*
 * input.c — text from files, stdin, libarchive containers and JSON lines
 * (see input.h).
 *
 * libarchive does the work: every compression filter it knows, the tar and
 * zip formats, and its "raw" format for a file that is no archive (a plain
 * or compressed text), which comes out as one member. Data blocks are handed
 * to the caller without a copy, except in JSON-lines mode, where a line cut
 * by a block edge is gathered first.
 */
#include "text/input.h"
#include "util/error.h"

#include <archive.h>
#include <archive_entry.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { READ_BLOCK = 1 << 20 };

struct text_input {
	struct archive *a;
	char *name;              /* the path, or "stdin", for messages */
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
	archive_read_support_filter_all(in->a);
	archive_read_support_format_tar(in->a);
	archive_read_support_format_gnutar(in->a);
	archive_read_support_format_zip(in->a);
	archive_read_support_format_empty(in->a);
	archive_read_support_format_raw(in->a);  /* bids last: a plain file */
	if (archive_read_open_filename(in->a, is_stdin ? NULL : path, READ_BLOCK) != ARCHIVE_OK) {
		int err = archive_errno(in->a);
		const char *msg = err > 0 ? strerror(err) : archive_error_string(in->a);
		lm_fail("cannot open '%s': %s", in->name, msg ? msg : "unknown error");
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
		if (r < ARCHIVE_WARN)
			return fail_archive(in, "cannot read the next member");
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
		in->new_doc = true;
		in->line_no = 0;
		in->line_len = 0;
		return 1;
	}
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
		if (r < ARCHIVE_WARN)
			return fail_archive(in, "cannot read");
		if (size == 0)
			continue;
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

/* Parse one line: 1 with its text in buf and len, 0 for a blank line, -1. */
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
		if (r > 0 && len > 0) {
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
