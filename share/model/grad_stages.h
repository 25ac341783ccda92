/*
 * grad_stages.h — when the backward pass finishes each parameter's
 * gradient, so a data-parallel run can average a layer's gradients over the
 * ranks while the backward is still working on the layers below it.
 *
 * The backward (model/gpt.c and model/cuda/gpt_cuda.c alike) runs in
 * stages, and no stage touches a gradient an earlier one finished:
 *   stage 0          the head: the final norm, and the LM head when untied;
 *   stage 1 + j      layer L-1-j (j = 0 .. L-1), every tensor of that layer;
 *   stage L + 1      the embeddings: wte (the tied head's gradient is only
 *                    complete here) and wpe.
 *
 *     grad_stages p;
 *     grad_stages_plan(&p, model);
 *     for (int s = 0; s < p.num_stages; s++)
 *         for (int i = p.first[s]; i < p.first[s + 1]; i++)
 *             reduce(grads + p.offset[i], p.count[i]);
 *     grad_stages_free(&p);
 */
#ifndef LMPIPE_MODEL_GRAD_STAGES_H
#define LMPIPE_MODEL_GRAD_STAGES_H

#include "model/gpt.h"

#include <stddef.h>

/* The stage after which tensor T's gradient is complete. */
int grad_stage_of(const gpt_model *m, const gpt_tensor *t);
/* The number of stages: n_layer + 2. */
int grad_stage_count(const gpt_model *m);

/* Every parameter as spans of the flat array, grouped by stage: stage s
 * owns spans first[s] .. first[s+1]-1, in storage order, adjacent tensors
 * of one stage merged into one span. Together they cover [0, num_params)
 * once. */
typedef struct {
	int num_stages;
	int num_spans;
	int *first;      /* (num_stages + 1) */
	size_t *offset;  /* (num_spans) in floats */
	size_t *count;   /* (num_spans) */
} grad_stages;

int grad_stages_plan(grad_stages *p, const gpt_model *m);
void grad_stages_free(grad_stages *p);

#endif
