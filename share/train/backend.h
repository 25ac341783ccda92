/*
 * backend.h — where the training arithmetic runs: the switch point between
 * devices. The loop in lm-train calls only these operations, so the CPU
 * backend (backend_cpu.c, fp32) and the CUDA one (backend_cuda.c, bf16
 * kernels, NCCL) take each other's place without touching the loop.
 *
 * The host model (gpt_model: config, tensor table, fp32 weights) and the
 * host AdamW state (moments, step) are the backend's mirror for checkpoints:
 * after backend_sync_host() they hold what the device holds. For the CPU
 * backend they ARE the live weights and moments.
 *
 *   train_backend b;
 *   backend_open(&b, "cpu", &model, hparams);   // or "cuda"; model from gpt_init or a checkpoint
 *   b.zero_grad(&b);
 *   each micro-batch but the last: b.micro_step(&b, x, y, B, T, 1.0f / accum, NULL, &loss);
 *   the last, + the mean over ranks: b.micro_step(&b, x, y, B, T, 1.0f / accum, &dist, &loss);
 *   norm = b.clip_grads(&b, 1.0);
 *   b.update(&b, lr);
 *   backend_close(&b);
 */
#ifndef LMPIPE_TRAIN_BACKEND_H
#define LMPIPE_TRAIN_BACKEND_H

#include "dist/dist.h"
#include "eval/score.h"
#include "model/gpt.h"
#include "optim/adamw.h"
#include "sample/generate.h"

typedef struct train_backend train_backend;

struct train_backend {
	const char *name;       /* "cpu" or "cuda" */
	gpt_model *model;       /* host weights (the caller's; not freed here) */
	adamw opt;              /* host moments and step count */
	void *impl;             /* the device's own state */

	int (*zero_grad)(train_backend *b);
	/* Forward and backward of one micro-batch (B, T), gradients ACCUMULATED
	 * with weight dloss; *loss gets the micro-batch's mean loss. With
	 * REDUCE (the step's last micro-batch), the gradients are then
	 * averaged over its ranks: the CUDA backend starts each layer's
	 * all-reduce as soon as the backward has finished that layer. */
	int (*micro_step)(train_backend *b, const int *x, const int *y, int B, int T,
			  float dloss, dist_ctx *reduce, float *loss);
	/* Clip the global gradient norm to max_norm (<= 0: no clipping);
	 * returns the norm before clipping (NaN or inf passes through). */
	double (*clip_grads)(train_backend *b, double max_norm);
	/* One AdamW step at learning rate lr. */
	int (*update)(train_backend *b, double lr);
	/* Mean loss of (B, T) with no gradient. */
	int (*eval_loss)(train_backend *b, const int *x, const int *y, int B, int T, float *loss);
	/* Logits (Vp floats) after the last position of one row of T tokens. */
	const float *(*next_logits)(train_backend *b, const int *x, int T);
	/* Sampling: start an empty sequence; append n tokens (the sequence
	 * stays within ctx) and return the Vp logits after the last (host
	 * memory, valid until the next call). The CPU backend keeps a KV cache;
	 * the CUDA one forwards the whole sequence again each call. Neither
	 * touches the weights, the moments or the gradients. */
	int (*gen_reset)(train_backend *b);
	const float *(*gen_append)(train_backend *b, const int *tokens, int n);
	/* The model on the device as eval/score.h's score_model (lm-train's
	 * HellaSwag), valid while B is open; the weights are not changed. */
	void (*scorer)(train_backend *b, score_model *out);
	/* Make model->params and opt (m, v, step) current on the host. */
	int (*sync_host)(train_backend *b);
	/* Push model->params and opt from the host (after loading a checkpoint). */
	int (*sync_device)(train_backend *b);
	void (*close)(train_backend *b);
};

/* Open DEVICE ("cpu" or "cuda") over MODEL, with AdamW's hyperparameters; moments
 * zero, step 0. -1 with an error for an unknown or unbuilt device. */
int backend_open(train_backend *b, const char *device, gpt_model *model, adamw_hparams hp);
void backend_close(train_backend *b);

/* sample/generate.h's gen_model over B's gen_reset and gen_append, so
 * lm-train's periodic sample runs the generation loop lm-sample runs. */
void backend_gen_model(train_backend *b, gen_model *g);

/* The devices; backend_open calls these. The CUDA one exists in builds
 * with CUDA (make finds nvcc) and needs the GPU picked first
 * (dist_use_gpu, or device 0). */
int backend_cpu_open(train_backend *b);
int backend_cuda_open(train_backend *b);
#ifdef LMPIPE_CUDA
#define BACKEND_DEVICES "cpu, cuda"
#else
#define BACKEND_DEVICES "cpu; built without CUDA"
#endif

#endif
