/*
 * hellaswag_eval.c — HellaSwag choices from a model's losses. See
 * hellaswag_eval.h.
 */
#include "eval/hellaswag_eval.h"

#include "eval/score.h"
#include "util/error.h"

#include <stdlib.h>
#include <string.h>

/* ids of ctx then " " + ending, and how many are the ending's. */
static int build_row(lm_tokenizer *tok, const char *ctx, const char *ending, hs_style style,
		     token_buf *buf, int *cont)
{
	size_t lc = strlen(ctx), le = strlen(ending);
	char *joined = malloc(lc + le + 2);
	if (!joined)
		return lm_fail("out of memory");
	memcpy(joined, ctx, lc);
	joined[lc] = ' ';
	memcpy(joined + lc + 1, ending, le + 1);
	buf->n = 0;
	int rc = lm_tokenizer_encode(tok, ctx, lc, buf);
	size_t nctx = buf->n;
	if (rc == 0 && style == HS_STYLE_LLMC) {
		rc = lm_tokenizer_encode(tok, joined + lc, le + 1, buf);
	} else if (rc == 0) {
		buf->n = 0;
		rc = lm_tokenizer_encode(tok, joined, lc + le + 1, buf);
	}
	free(joined);
	if (rc != 0)
		return lm_fail("out of memory");
	if (nctx == 0 || buf->n <= nctx)
		return lm_fail("an empty context or ending");
	*cont = (int)(buf->n - nctx);
	return 0;
}

static int argmin(const double *v, int n)
{
	int best = 0;
	for (int i = 1; i < n; i++)
		if (v[i] < v[best])
			best = i;
	return best;
}

int hellaswag_eval_item(const score_model *m, lm_tokenizer *tok, const hs_item *it,
			hs_style style, hs_result *r)
{
	token_buf buf[HS_CHOICES] = {0};
	score_row rows[HS_CHOICES];
	int rc = 0;
	for (int i = 0; rc == 0 && i < HS_CHOICES; i++) {
		rc = build_row(tok, it->ctx, it->ending[i], style, &buf[i], &rows[i].cont);
		/* a row longer than the context keeps its last tokens: of an
		 * ending longer than it, the last ctx are scored */
		if (rows[i].cont > m->cfg->ctx)
			rows[i].cont = m->cfg->ctx;
		rows[i].ids = buf[i].ids;
		rows[i].n = (int)buf[i].n;
	}
	if (rc == 0)
		rc = score_rows(m, rows, HS_CHOICES, r->loss);
	for (int i = 0; i < HS_CHOICES; i++)
		token_buf_free(&buf[i]);
	if (rc != 0)
		return lm_fail("the item at line %zu: %s", it->line, lm_last_error());
	double norm[HS_CHOICES];
	for (int i = 0; i < HS_CHOICES; i++) {
		r->ntok[i] = rows[i].cont;
		r->nchar[i] = hellaswag_charlen(it->ending[i]);
		double d = style == HS_STYLE_LLMC ? (double)r->ntok[i]
						  : (double)(r->nchar[i] ? r->nchar[i] : 1);
		norm[i] = r->loss[i] / d;
	}
	r->pred = argmin(r->loss, HS_CHOICES);
	r->pred_norm = argmin(norm, HS_CHOICES);
	r->label = it->label;
	return 0;
}

void hellaswag_total_add(hs_total *t, const hs_result *r)
{
	t->n++;
	t->acc += r->pred == r->label;
	t->acc_norm += r->pred_norm == r->label;
}
