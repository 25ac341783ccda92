/*
 * hellaswag.h — the HellaSwag validation items, read from either form, and
 * the text each scoring style sees.
 *
 * Forms (told apart by the first non-blank byte, '{' = JSONL):
 *  - the official rowanz JSONL (hellaswag_val.jsonl): one object a line with
 *    ctx_a, ctx_b, ctx, activity_label, endings (4 strings), label (0..3, a
 *    number or a one-digit string);
 *  - llama.cpp's text form (hellaswag_val_full.txt): 6 lines an item,
 *    "activity_label: ctx", the label, the four endings. It was preprocessed
 *    (bracket tags removed, " [title]" -> ". ", spaces collapsed), so scores
 *    on it differ slightly from JSONL-based ones.
 * Either may be compressed (anything share/text/input reads: .bz2, .gz, ...).
 *
 * Styles (what each item is turned into; the continuation scored is always
 * " " + ending):
 *  - llmc (llm.c's hellaswag.py): context = ctx; acc by the lowest summed
 *    loss, acc_norm by the lowest mean loss per ending token. On the text
 *    form ctx is line 1 after its first ": " (the activity label dropped).
 *  - harness (lm-evaluation-harness): context = preprocess(activity_label +
 *    ": " + ctx_a + " " + ctx_b.capitalize()), endings preprocess(ending);
 *    acc_norm by the summed log-likelihood divided by the ending's length in
 *    characters (code points of the preprocessed ending, without the " ").
 *    On the text form (no ctx_a/ctx_b) the context is preprocess(line 1).
 *    capitalize() is applied to ASCII letters only.
 */
#ifndef LMPIPE_EVAL_HELLASWAG_H
#define LMPIPE_EVAL_HELLASWAG_H

#include <stddef.h>

enum { HS_CHOICES = 4 };

typedef enum { HS_STYLE_LLMC, HS_STYLE_HARNESS } hs_style;
typedef enum { HS_FORM_JSONL, HS_FORM_TEXT } hs_form;

typedef struct {
	char *ctx;                  /* the context as scored (style applied) */
	char *ending[HS_CHOICES];   /* each ending as scored, without the leading " " */
	int label;                  /* the gold ending, 0..3 */
	size_t line;                /* first line of the item in the file (1-based) */
} hs_item;

typedef struct {
	hs_item *items;
	size_t n;
	hs_form form;
	hs_style style;
} hs_set;

/* Read PATH (either form, possibly compressed; "-" = stdin), keeping at most
 * LIMIT items (0 = all), with STYLE applied. Errors name the file and line:
 * a malformed JSON line, a missing or mistyped field, a label outside 0..3,
 * not 4 endings, a text form whose line count is not a multiple of 6. */
int hellaswag_read(hs_set *s, const char *path, hs_style style, size_t limit);
void hellaswag_free(hs_set *s);

/* lm-evaluation-harness's preprocess(): strip, " [title]" -> ". ", remove
 * "[...]" tags (no newline inside), one pass of "  " -> " ". Returns a new
 * string (NULL + lm_fail when out of memory). */
char *hellaswag_preprocess(const char *text);
/* Length in code points of UTF-8 text (Python's len(str)); an invalid byte
 * counts as one. */
size_t hellaswag_charlen(const char *text);

/* One line saying which form and style, and what differs from the reference
 * numbers (the text form is llama.cpp's preprocessed one, ...). */
const char *hellaswag_note(const hs_set *s);

const char *hellaswag_style_name(hs_style style);
/* "llmc" or "harness" into *style; -1 when neither. */
int hellaswag_style_parse(const char *name, hs_style *style);

#endif
