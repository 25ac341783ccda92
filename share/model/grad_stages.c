/*
 * grad_stages.c — the backward's stages over the tensor table (see
 * grad_stages.h).
 */
#include "model/grad_stages.h"
#include "util/error.h"

#include <stdlib.h>
#include <string.h>

int grad_stage_count(const gpt_model *m)
{
	return m->cfg.n_layer + 2;
}

int grad_stage_of(const gpt_model *m, const gpt_tensor *t)
{
	if (t->layer >= 0)
		return 1 + (m->cfg.n_layer - 1 - t->layer);
	if (t->kind == GPT_WTE || t->kind == GPT_WPE)
		return m->cfg.n_layer + 1;
	return 0;  /* the final norm and an untied head */
}

void grad_stages_free(grad_stages *p)
{
	free(p->first);
	free(p->offset);
	free(p->count);
	memset(p, 0, sizeof *p);
}

/* Append tensor T to the plan, merged into the last span when it follows it. */
static void add_span(grad_stages *p, int stage_start, const gpt_tensor *t)
{
	int last = p->num_spans - 1;
	if (last >= stage_start && p->offset[last] + p->count[last] == t->offset) {
		p->count[last] += t->numel;
		return;
	}
	p->offset[p->num_spans] = t->offset;
	p->count[p->num_spans] = t->numel;
	p->num_spans++;
}

int grad_stages_plan(grad_stages *p, const gpt_model *m)
{
	memset(p, 0, sizeof *p);
	p->num_stages = grad_stage_count(m);
	size_t n = (size_t)m->num_tensors;
	p->first = malloc((size_t)(p->num_stages + 1) * sizeof *p->first);
	p->offset = malloc((n ? n : 1) * sizeof *p->offset);
	p->count = malloc((n ? n : 1) * sizeof *p->count);
	if (!p->first || !p->offset || !p->count) {
		grad_stages_free(p);
		return lm_fail("out of memory");
	}
	for (int s = 0; s < p->num_stages; s++) {
		p->first[s] = p->num_spans;
		for (int i = 0; i < m->num_tensors; i++)
			if (grad_stage_of(m, &m->tensors[i]) == s)
				add_span(p, p->first[s], &m->tensors[i]);
	}
	p->first[p->num_stages] = p->num_spans;
	return 0;
}
