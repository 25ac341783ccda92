/*
 * hellaswag.c — reading HellaSwag items (JSONL or llama.cpp's 6-line text
 * form) and applying a scoring style's text preprocessing. See hellaswag.h.
 */
#include "eval/hellaswag.h"

#include "text/input.h"
#include "util/error.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- the whole (decompressed) file in memory ---------------------------- */

static char *slurp(const char *path, size_t *len)
{
	text_input *in = text_input_open(path, NULL);
	if (!in)
		return NULL;
	size_t n = 0, cap = 1 << 16;
	char *buf = malloc(cap);
	const uint8_t *piece;
	bool doc;
	long k;
	while (buf && (k = text_input_read(in, &piece, &doc)) > 0) {
		if (n + (size_t)k + 1 > cap) {
			while (n + (size_t)k + 1 > cap)
				cap *= 2;
			char *nb = realloc(buf, cap);
			if (!nb) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = nb;
		}
		memcpy(buf + n, piece, (size_t)k);
		n += (size_t)k;
	}
	text_input_close(in);
	if (!buf) {
		lm_fail("'%s': out of memory", path);
		return NULL;
	}
	if (k < 0) {
		free(buf);
		return NULL;
	}
	buf[n] = 0;
	*len = n;
	return buf;
}

/* ---- string helpers ---------------------------------------------------- */

static char *dup_n(const char *s, size_t n)
{
	char *d = malloc(n + 1);
	if (!d) {
		lm_fail("out of memory");
		return NULL;
	}
	memcpy(d, s, n);
	d[n] = 0;
	return d;
}

/* Python's str.isspace() for ASCII (what str.strip() removes there). */
static bool py_space(unsigned char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f);
}

size_t hellaswag_charlen(const char *text)
{
	size_t n = 0;
	for (const unsigned char *p = (const unsigned char *)text; *p; p++)
		if ((*p & 0xC0) != 0x80)
			n++;
	return n;
}

char *hellaswag_preprocess(const char *text)
{
	size_t b = 0, e = strlen(text);
	while (b < e && py_space((unsigned char)text[b]))
		b++;
	while (e > b && py_space((unsigned char)text[e - 1]))
		e--;
	/* " [title]" -> ". " never lengthens the text */
	char *t = malloc(e - b + 1), *u = malloc(e - b + 1);
	if (!t || !u) {
		free(t);
		free(u);
		lm_fail("out of memory");
		return NULL;
	}
	size_t n = 0;
	for (size_t i = b; i < e;) {
		if (e - i >= 8 && memcmp(text + i, " [title]", 8) == 0) {
			t[n++] = '.';
			t[n++] = ' ';
			i += 8;
		} else {
			t[n++] = text[i++];
		}
	}
	t[n] = 0;
	/* re.sub(r"\[.*?\]", "", t): '.' does not match a newline */
	size_t m = 0;
	for (size_t i = 0; i < n;) {
		if (t[i] == '[') {
			size_t j = i + 1;
			while (j < n && t[j] != ']' && t[j] != '\n')
				j++;
			if (j < n && t[j] == ']') {
				i = j + 1;
				continue;
			}
		}
		u[m++] = t[i++];
	}
	/* one pass of str.replace("  ", " ") */
	n = 0;
	for (size_t i = 0; i < m;) {
		if (i + 1 < m && u[i] == ' ' && u[i + 1] == ' ') {
			t[n++] = ' ';
			i += 2;
		} else {
			t[n++] = u[i++];
		}
	}
	t[n] = 0;
	free(u);
	return t;
}

/* Python's str.capitalize(), ASCII letters only. */
static void capitalize_ascii(char *s)
{
	if (!*s)
		return;
	if (s[0] >= 'a' && s[0] <= 'z')
		s[0] = (char)(s[0] - 'a' + 'A');
	for (char *p = s + 1; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
}

/* Set item->ctx to preprocess(a + ": " + b + " " + capitalize(c)) (harness)
 * or to the raw context (llmc); the endings likewise. */
static int item_set_harness_ctx(hs_item *it, const char *label, const char *ctx_a,
				const char *ctx_b)
{
	size_t la = strlen(label), lb = strlen(ctx_a), lc = strlen(ctx_b);
	char *cap = dup_n(ctx_b, lc);
	char *q = malloc(la + lb + lc + 4);
	if (!cap || !q) {
		free(cap);
		free(q);
		return lm_fail("out of memory");
	}
	capitalize_ascii(cap);
	sprintf(q, "%s: %s %s", label, ctx_a, cap);
	free(cap);
	it->ctx = hellaswag_preprocess(q);
	free(q);
	return it->ctx ? 0 : -1;
}

static int item_set_ending(hs_item *it, int i, const char *text, size_t n, hs_style style)
{
	if (style == HS_STYLE_HARNESS) {
		char *raw = dup_n(text, n);
		if (!raw)
			return -1;
		it->ending[i] = hellaswag_preprocess(raw);
		free(raw);
	} else {
		it->ending[i] = dup_n(text, n);
	}
	return it->ending[i] ? 0 : -1;
}

static int set_push(hs_set *s, size_t *cap)
{
	if (s->n == *cap) {
		size_t nc = *cap ? *cap * 2 : 1024;
		hs_item *ni = realloc(s->items, nc * sizeof *ni);
		if (!ni)
			return lm_fail("out of memory");
		s->items = ni;
		*cap = nc;
	}
	memset(&s->items[s->n], 0, sizeof s->items[0]);
	s->n++;
	return 0;
}

/* ---- the JSONL form ---------------------------------------------------- */

static const char *json_str(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	return v && json_is_string(v) ? json_string_value(v) : NULL;
}

static int json_label(json_t *o, int *label)
{
	json_t *v = json_object_get(o, "label");
	if (v && json_is_integer(v)) {
		json_int_t x = json_integer_value(v);
		if (x < 0 || x >= HS_CHOICES)
			return -1;
		*label = (int)x;
		return 0;
	}
	const char *s = v && json_is_string(v) ? json_string_value(v) : NULL;
	if (!s || s[0] < '0' || s[0] > '3' || s[1])
		return -1;
	*label = s[0] - '0';
	return 0;
}

static int parse_json_item(hs_item *it, json_t *o, hs_style style, const char *path,
			   size_t line)
{
	const char *ctx = json_str(o, "ctx"), *ctx_a = json_str(o, "ctx_a");
	const char *ctx_b = json_str(o, "ctx_b"), *act = json_str(o, "activity_label");
	if (!ctx || !ctx_a || !ctx_b || !act)
		return lm_fail("'%s' line %zu: missing string field %s", path, line,
			       !ctx ? "ctx" : !ctx_a ? "ctx_a" : !ctx_b ? "ctx_b" : "activity_label");
	if (json_label(o, &it->label) != 0)
		return lm_fail("'%s' line %zu: label must be 0..3", path, line);
	json_t *ends = json_object_get(o, "endings");
	if (!ends || !json_is_array(ends) || json_array_size(ends) != HS_CHOICES)
		return lm_fail("'%s' line %zu: endings must be an array of 4 strings", path, line);
	for (int i = 0; i < HS_CHOICES; i++) {
		json_t *e = json_array_get(ends, (size_t)i);
		if (!json_is_string(e))
			return lm_fail("'%s' line %zu: endings must be an array of 4 strings", path,
				       line);
		if (item_set_ending(it, i, json_string_value(e), json_string_length(e), style) != 0)
			return -1;
	}
	if (style == HS_STYLE_HARNESS)
		return item_set_harness_ctx(it, act, ctx_a, ctx_b);
	it->ctx = dup_n(ctx, strlen(ctx));
	return it->ctx ? 0 : -1;
}

static int read_jsonl(hs_set *s, char *buf, size_t len, const char *path, size_t limit)
{
	size_t cap = 0, line = 0;
	for (char *p = buf; p < buf + len && (!limit || s->n < limit);) {
		char *nl = memchr(p, '\n', (size_t)(buf + len - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(buf + len - p);
		line++;
		char *q = p;
		p += n + (nl != NULL);
		while (n && py_space((unsigned char)*q))
			q++, n--;
		if (!n)
			continue;
		json_error_t err;
		json_t *o = json_loadb(q, n, 0, &err);
		if (!o || !json_is_object(o)) {
			json_decref(o);
			return lm_fail("'%s' line %zu: not a JSON object%s%s", path, line,
				       o ? "" : ": ", o ? "" : err.text);
		}
		int rc = set_push(s, &cap);
		if (rc == 0) {
			s->items[s->n - 1].line = line;
			rc = parse_json_item(&s->items[s->n - 1], o, s->style, path, line);
		}
		json_decref(o);
		if (rc != 0)
			return -1;
	}
	return 0;
}

/* ---- llama.cpp's text form --------------------------------------------- */

/* Line i's text (without "\n" or a final "\r"). */
typedef struct {
	const char *p;
	size_t n;
} span;

static int split_lines(char *buf, size_t len, span **out, size_t *nout)
{
	size_t cap = 1024, n = 0;
	span *v = malloc(cap * sizeof *v);
	for (char *p = buf; v && p < buf + len;) {
		char *nl = memchr(p, '\n', (size_t)(buf + len - p));
		size_t k = nl ? (size_t)(nl - p) : (size_t)(buf + len - p);
		if (n == cap) {
			span *nv = realloc(v, (cap *= 2) * sizeof *v);
			if (!nv) {
				free(v);
				v = NULL;
				break;
			}
			v = nv;
		}
		v[n].p = p;
		v[n].n = k && p[k - 1] == '\r' ? k - 1 : k;
		n++;
		p += k + (nl != NULL);
	}
	if (!v)
		return lm_fail("out of memory");
	*out = v;
	*nout = n;
	return 0;
}

static int parse_text_item(hs_item *it, const span *l, hs_style style, const char *path,
			   size_t line)
{
	if (l[1].n != 1 || l[1].p[0] < '0' || l[1].p[0] > '3')
		return lm_fail("'%s' line %zu: label must be 0..3, got '%.*s'", path, line + 1,
			       (int)(l[1].n > 40 ? 40 : l[1].n), l[1].p);
	it->label = l[1].p[0] - '0';
	if (l[0].n == 0)
		return lm_fail("'%s' line %zu: empty context", path, line);
	for (int i = 0; i < HS_CHOICES; i++)
		if (item_set_ending(it, i, l[2 + i].p, l[2 + i].n, style) != 0)
			return -1;
	char *first = dup_n(l[0].p, l[0].n);
	if (!first)
		return -1;
	if (style == HS_STYLE_HARNESS) {
		it->ctx = hellaswag_preprocess(first);
		free(first);
		return it->ctx ? 0 : -1;
	}
	/* llmc: ctx alone, the activity label before the first ": " dropped */
	char *colon = strstr(first, ": ");
	if (!colon) {
		free(first);
		return lm_fail("'%s' line %zu: no 'activity_label: ' before the context", path,
			       line);
	}
	it->ctx = dup_n(colon + 2, strlen(colon + 2));
	free(first);
	return it->ctx ? 0 : -1;
}

static int read_text(hs_set *s, char *buf, size_t len, const char *path, size_t limit)
{
	span *l = NULL;
	size_t nl = 0, cap = 0;
	if (split_lines(buf, len, &l, &nl) != 0)
		return -1;
	while (nl && l[nl - 1].n == 0)   /* trailing empty lines */
		nl--;
	int rc = 0;
	if (nl % 6 != 0)
		rc = lm_fail("'%s': %zu lines, not 6 a item: truncated at line %zu", path, nl,
			     nl / 6 * 6 + 1);
	for (size_t i = 0; rc == 0 && i + 6 <= nl && (!limit || s->n < limit); i += 6) {
		rc = set_push(s, &cap);
		if (rc == 0) {
			s->items[s->n - 1].line = i + 1;
			rc = parse_text_item(&s->items[s->n - 1], l + i, s->style, path, i + 1);
		}
	}
	free(l);
	return rc;
}

/* ---- the public functions ---------------------------------------------- */

int hellaswag_read(hs_set *s, const char *path, hs_style style, size_t limit)
{
	memset(s, 0, sizeof *s);
	s->style = style;
	size_t len;
	char *buf = slurp(path, &len);
	if (!buf)
		return -1;
	size_t i = 0;
	while (i < len && py_space((unsigned char)buf[i]))
		i++;
	s->form = i < len && buf[i] == '{' ? HS_FORM_JSONL : HS_FORM_TEXT;
	int rc = s->form == HS_FORM_JSONL ? read_jsonl(s, buf, len, path, limit)
					  : read_text(s, buf, len, path, limit);
	free(buf);
	if (rc == 0 && s->n == 0)
		rc = lm_fail("'%s': no HellaSwag items", path);
	if (rc != 0)
		hellaswag_free(s);
	return rc;
}

void hellaswag_free(hs_set *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->items[i].ctx);
		for (int j = 0; j < HS_CHOICES; j++)
			free(s->items[i].ending[j]);
	}
	free(s->items);
	s->items = NULL;
	s->n = 0;
}

const char *hellaswag_note(const hs_set *s)
{
	if (s->form == HS_FORM_JSONL)
		return s->style == HS_STYLE_LLMC
			       ? "official JSONL, llm.c style (context = ctx)"
			       : "official JSONL, lm-evaluation-harness style";
	return s->style == HS_STYLE_LLMC
		       ? "llama.cpp's preprocessed text form, llm.c style (context = line 1 after "
			 "the activity label): scores differ slightly from JSONL-based ones"
		       : "llama.cpp's preprocessed text form, harness style (no ctx_a/ctx_b: "
			 "line 1 used as the context): scores differ slightly from JSONL-based ones";
}

const char *hellaswag_style_name(hs_style style)
{
	return style == HS_STYLE_HARNESS ? "harness" : "llmc";
}

int hellaswag_style_parse(const char *name, hs_style *style)
{
	if (strcmp(name, "llmc") == 0)
		*style = HS_STYLE_LLMC;
	else if (strcmp(name, "harness") == 0)
		*style = HS_STYLE_HARNESS;
	else
		return -1;
	return 0;
}
