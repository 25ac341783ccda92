/*
 * device_model_train.c — a model on a device opened for training: the host
 * AdamW state, and the CPU's training pieces (model/gpt.c's backward,
 * AdamW on the host arrays themselves, so syncing is free). The CUDA
 * device's are device_model_train_cuda.c's. Apart from the inference
 * files, so that a tool which only evaluates or samples links neither
 * these nor share/dist.
 */
#include "model/device_model.h"
#include "util/error.h"

#include <string.h>

/* ---- the CPU's training pieces --------------------------------------------------- */

static int cpu_zero_grad(device_model *d)
{
	return gpt_zero_grad(d->model);
}

static int cpu_micro_step(device_model *d, const int *x, const int *y, int B, int T,
			  float dloss, dist_ctx *reduce, float *loss)
{
	gpt_model *m = d->model;
	if (gpt_forward(m, x, y, B, T, loss) != 0 || gpt_backward(m, dloss) != 0)
		return -1;
	return reduce ? dist_allreduce_mean(reduce, m->grads, m->num_params) : 0;
}

static double cpu_clip_grads(device_model *d, double max_norm)
{
	gpt_model *m = d->model;
	return grad_clip(m->grads, m->num_params, max_norm);  /* max_norm <= 0: the norm only */
}

static int cpu_update(device_model *d, double lr)
{
	adamw_step(&d->opt, d->model->params, d->model->grads, lr);
	return 0;
}

static int cpu_eval_loss(device_model *d, const int *x, const int *y, int B, int T, float *loss)
{
	return gpt_forward(d->model, x, y, B, T, loss);
}

static int cpu_sync(device_model *d)
{
	(void)d;
	return 0;
}

static void cpu_train(device_model *d)
{
	d->zero_grad = cpu_zero_grad;
	d->micro_step = cpu_micro_step;
	d->clip_grads = cpu_clip_grads;
	d->update = cpu_update;
	d->eval_loss = cpu_eval_loss;
	d->sync_host = cpu_sync;
	d->sync_device = cpu_sync;
}

/* ---- open ---------------------------------------------------------------------- */

int device_model_open_train(device_model *d, const char *device, gpt_model *model,
			    adamw_hparams hp)
{
	if (device_model_open(d, device, model) != 0)
		return -1;
	int rc = device_model_adamw_init(&d->opt, model, hp);
	if (rc == 0 && strcmp(d->name, "cpu") == 0)
		cpu_train(d);
#ifdef LMPIPE_CUDA
	else if (rc == 0)
		rc = device_model_cuda_train(d);
#endif
	if (rc != 0)
		device_model_close(d);
	return rc;
}
