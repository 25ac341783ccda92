/*
 * backend.h — where the training arithmetic runs, as lm-train's loop sees
 * it: model/device_model.h's device_model opened for training. The loop
 * calls only its training operations, so the CPU (fp32) and the CUDA model
 * (bf16 kernels, NCCL) take each other's place without touching the loop.
 *
 *   train_backend b;
 *   backend_open(&b, "cpu", &model, hparams);   // or "cuda"; model from gpt_init or a checkpoint
 *   b.zero_grad(&b);
 *   each micro-batch but the last: b.micro_step(&b, x, y, B, T, 1.0f / accum, NULL, &loss);
 *   the last, + the mean over ranks: b.micro_step(&b, x, y, B, T, 1.0f / accum, &dist, &loss);
 *   norm = b.clip_grads(&b, 1.0);
 *   b.update(&b, lr);
 *   backend_close(&b);
 *
 * Its HellaSwag scores through eval/score.h's score_model_device, its
 * periodic sample through sample/generate.h's gen_model_device: the code
 * lm-eval and lm-sample run.
 */
#ifndef LMPIPE_TRAIN_BACKEND_H
#define LMPIPE_TRAIN_BACKEND_H

#include "model/device_model.h"
#include "sample/generate.h"

typedef device_model train_backend;

/* Open DEVICE ("cpu", "cuda" or "auto") over MODEL, with AdamW's
 * hyperparameters; moments zero, step 0. -1 with an error for an unknown
 * or unbuilt device, or no GPU. */
static inline int backend_open(train_backend *b, const char *device, gpt_model *model,
			       adamw_hparams hp)
{
	return device_model_open_train(b, device, model, hp);
}

static inline void backend_close(train_backend *b)
{
	device_model_close(b);
}

/* sample/generate.h's gen_model over B, so lm-train's periodic sample runs
 * the generation loop lm-sample runs. */
static inline void backend_gen_model(train_backend *b, gen_model *g)
{
	gen_model_device(g, b);
}

#endif
