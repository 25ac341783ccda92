/*
 * backend.c — choosing a backend, and the AdamW state every backend mirrors
 * on the host.
 */
#include "train/backend.h"
#include "util/error.h"

#include <stdlib.h>
#include <string.h>

/* One AdamW span a parameter tensor; decay where the model says (2-D). */
static int opt_init(train_backend *b, adamw_hparams hp)
{
	const gpt_model *m = b->model;
	adamw_span *spans = malloc((size_t)m->num_tensors * sizeof *spans);
	if (!spans)
		return lm_fail("out of memory");
	for (int i = 0; i < m->num_tensors; i++)
		spans[i] = (adamw_span){m->tensors[i].offset, m->tensors[i].numel, m->tensors[i].decay};
	int rc = adamw_init(&b->opt, m->num_params, spans, m->num_tensors, hp);
	free(spans);
	return rc;
}

int backend_open(train_backend *b, const char *device, gpt_model *model, adamw_hparams hp)
{
	memset(b, 0, sizeof *b);
	b->model = model;
	int (*open)(train_backend *) = NULL;
	if (strcmp(device, "cpu") == 0)
		open = backend_cpu_open;
#ifdef LMPIPE_CUDA
	else if (strcmp(device, "cuda") == 0)
		open = backend_cuda_open;
#endif
	if (!open)
		return lm_fail("unknown device '%s' (this build has: %s)", device, BACKEND_DEVICES);
	if (opt_init(b, hp) != 0)
		return -1;
	if (open(b) != 0) {
		adamw_free(&b->opt);
		return -1;
	}
	return 0;
}

void backend_close(train_backend *b)
{
	if (b->close)
		b->close(b);
	adamw_free(&b->opt);
	memset(b, 0, sizeof *b);
}

static int gen_reset(void *impl)
{
	train_backend *b = impl;
	return b->gen_reset(b);
}

static const float *gen_append(void *impl, const int *tokens, int n)
{
	train_backend *b = impl;
	return b->gen_append(b, tokens, n);
}

void backend_gen_model(train_backend *b, gen_model *g)
{
	*g = (gen_model){.impl = b, .ctx = b->model->cfg.ctx, .reset = gen_reset,
			 .append = gen_append};
}
