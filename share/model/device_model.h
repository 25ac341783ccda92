/*
 * device_model.h — a model on a device: the one interface every tool runs
 * the model through, whatever the device. The CPU implementation
 * (device_model_cpu.c) is the reference model itself (model/gpt.c, fp32,
 * OpenMP) with AdamW on the host arrays; the CUDA one (device_model_cuda.c)
 * is model/cuda/gpt_cuda.c (bf16 kernels, fp32 master weights and
 * gradients), AdamW in one kernel with the moments on the device, and the
 * gradients averaged over ranks by NCCL stage by stage.
 *
 * What it does, in three groups:
 *   - per-position losses of a batch (lm-eval, lm-train's HellaSwag:
 *     eval/score.h's score_model is a view of this);
 *   - generation: reset, then append tokens and get the logits after the
 *     last (lm-sample, lm-train's sample: sample/generate.h's gen_model is a
 *     view of this). The CPU keeps a KV cache; the CUDA model forwards the
 *     whole sequence again each call (no KV cache on the GPU yet);
 *   - a training step's pieces as lm-train runs them (open with
 *     device_model_open_train): zero_grad, micro_step per micro-batch,
 *     clip_grads, update; eval_loss; sync_host / sync_device.
 *
 * The host model (gpt_model: config, tensor table, fp32 weights) and the
 * host AdamW state are the device's mirror for checkpoints: after
 * sync_host() they hold what the device holds. On the CPU they ARE the
 * live weights and moments, and syncing is free.
 *
 *   device_model d;
 *   device_model_open(&d, "auto", &model);                  // or "cpu", "cuda"
 *   d.losses(&d, in, tgt, B, T, NULL, out);
 *   device_model_close(&d);
 *
 *   device_model_open_train(&d, "cuda", &model, hparams);
 *   d.zero_grad(&d);
 *   each micro-batch but the last: d.micro_step(&d, x, y, B, T, 1.0f / accum, NULL, &loss);
 *   the last, + the mean over ranks: d.micro_step(&d, x, y, B, T, 1.0f / accum, &dist, &loss);
 *   norm = d.clip_grads(&d, 1.0);
 *   d.update(&d, lr);
 *
 * Deterministic on both devices: fixed thread partitions and summation
 * orders on the CPU; no atomics, one cuBLASLt algorithm per shape and the
 * loss summed on the host in order on the GPU. The same inputs give the
 * same bits run after run, which an exact --resume relies on.
 */
#ifndef LMPIPE_MODEL_DEVICE_MODEL_H
#define LMPIPE_MODEL_DEVICE_MODEL_H

#include "dist/dist.h"
#include "model/gpt.h"
#include "optim/adamw.h"

typedef struct device_model device_model;

struct device_model {
	const char *name;       /* "cpu" or "cuda" */
	gpt_model *model;       /* host weights (the caller's; not freed here) */
	adamw opt;              /* training only: host moments and step count */
	void *impl;             /* the device's own state */

	/* ---- every model ---- */
	/* out[b*T + t] = the loss (nats) of target tgt[b*T + t] after inputs
	 * in[b*T .. b*T + t], at least where want[b*T + t] is set; want NULL:
	 * every position, the training loss. The CPU computes the wanted ones
	 * in double from the logits; the GPU gives every position's fp32 loss
	 * from the fused cross-entropy. The weights are not changed. */
	int (*losses)(device_model *d, const int *in, const int *tgt, int B, int T,
		      const unsigned char *want, double *out);
	/* Start an empty sequence; append n >= 1 tokens (the sequence stays
	 * within ctx) and return the Vp logits after the last (host memory,
	 * valid until the next call; NULL + lm_fail). Neither touches the
	 * weights, the moments or the gradients. */
	int (*gen_reset)(device_model *d);
	const float *(*gen_append)(device_model *d, const int *tokens, int n);

	/* ---- training (device_model_open_train; NULL otherwise) ---- */
	int (*zero_grad)(device_model *d);
	/* Forward and backward of one micro-batch (B, T), gradients ACCUMULATED
	 * with weight dloss; *loss gets the micro-batch's mean loss. With
	 * REDUCE (the step's last micro-batch), the gradients are then
	 * averaged over its ranks: the CUDA model starts each layer's
	 * all-reduce as soon as the backward has finished that layer. */
	int (*micro_step)(device_model *d, const int *x, const int *y, int B, int T,
			  float dloss, dist_ctx *reduce, float *loss);
	/* Clip the global gradient norm to max_norm (<= 0: no clipping);
	 * returns the norm before clipping (NaN or inf passes through). */
	double (*clip_grads)(device_model *d, double max_norm);
	/* One AdamW step at learning rate lr. */
	int (*update)(device_model *d, double lr);
	/* Mean loss of (B, T) with no gradient. */
	int (*eval_loss)(device_model *d, const int *x, const int *y, int B, int T, float *loss);
	/* Make model->params and opt (m, v, step) current on the host. */
	int (*sync_host)(device_model *d);
	/* Push model->params and opt from the host (after loading a checkpoint). */
	int (*sync_device)(device_model *d);

	void (*close)(device_model *d);
};

/* MODEL on DEVICE ("cpu", "cuda" or "auto": model/device.h) for losses
 * and generation. -1 with an error naming the cause: an unknown device, a
 * build without CUDA, no GPU, no memory. */
int device_model_open(device_model *d, const char *device, gpt_model *model);
/* The same, and for training with AdamW's hyperparameters: moments zero,
 * step 0. The CUDA model needs its GPU picked first (dist_use_gpu, or
 * device 0). */
int device_model_open_train(device_model *d, const char *device, gpt_model *model,
			    adamw_hparams hp);
void device_model_close(device_model *d);

/* The devices: device_model_open calls their opens with d->model set;
 * device_model_open_train then their training pieces, with d->opt set (the
 * CPU's are static in device_model_train.c). The CUDA ones exist in builds
 * with CUDA. */
int device_model_cpu_open(device_model *d);
int device_model_cuda_open(device_model *d);
int device_model_cuda_train(device_model *d);

/* ---- the model's layout for the optimizer ------------------------------------ */

/* One AdamW span a parameter tensor of M, in storage order, decay as the
 * tensor says (every 2-D one): M->num_tensors of them, malloc'd; NULL +
 * lm_fail when out of memory. */
adamw_span *device_model_spans(const gpt_model *m);
/* adamw_init over M's spans. */
int device_model_adamw_init(adamw *o, const gpt_model *m, adamw_hparams hp);

#endif
