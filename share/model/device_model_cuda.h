/*
 * device_model_cuda.h — the CUDA device's state, shared by its inference
 * (device_model_cuda.c) and training (device_model_train_cuda.c) halves;
 * private to them. The training fields stay zero until
 * device_model_cuda_train; the close frees both halves.
 */
#ifndef LMPIPE_MODEL_DEVICE_MODEL_CUDA_H
#define LMPIPE_MODEL_DEVICE_MODEL_CUDA_H

#include "model/cuda/gpt_cuda.h"
#include "model/device_model.h"
#include "model/grad_stages.h"

typedef struct {
	gpt_cuda g;
	/* generation: the sequence so far, and the logits after its last token */
	int *tokens;           /* (ctx) host */
	int len;
	float *logits;         /* (Vp) host */
	/* training only */
	float *m, *v;          /* (n) AdamW moments on the device */
	cu_decay_runs runs;    /* where weight decay applies */
	double *sumsq, *sumsq_scratch;
	float clip_scale;      /* the last clip_grads' factor, applied by update */
	grad_stages stages;    /* the gradient spans each backward stage completes */
	cudaStream_t comm;     /* the gradient all-reduces */
	cudaEvent_t reduced;   /* the last all-reduce of a step finished */
} cuda_state;

static inline cuda_state *cuda_state_of(device_model *d) { return d->impl; }

#endif
