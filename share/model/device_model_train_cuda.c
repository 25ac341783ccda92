/*
 * device_model_train_cuda.c — the CUDA device's training pieces: AdamW over
 * all parameters in one kernel with the fp32 moments on the device, the
 * gradient norm and clipping folded into that kernel, and the gradients
 * averaged over ranks by NCCL (dist/dist.h) stage by stage on a second
 * stream, overlapped with the rest of the backward.
 *
 * Deterministic: every kernel sums in a fixed order (no atomics), cuBLASLt
 * keeps one algorithm per shape, and the loss is summed on the host in
 * order, so the same seed on the same GPU gives the same bits.
 */
#include "model/device_model_cuda.h"
#include "util/error.h"

#include <math.h>
#include <stdlib.h>

static int cuda_zero_grad(device_model *d)
{
	return gpt_cuda_zero_grad(&cuda_state_of(d)->g);
}

/* The gradients averaged over D's ranks, one grad stage at a time on the
 * communication stream: each stage's all-reduce waits only for the
 * backward to complete that stage, so it runs while the backward works on
 * the layers below; the compute stream waits for the last one before
 * anything reads the gradients. Through NCCL whenever there is a
 * communicator (--gpus 1 too: the same path as N ranks, an identity on
 * one); one rank without one: nothing to wait for. */
static int reduce_by_stage(cuda_state *s, dist_ctx *d)
{
	const grad_stages *p = &s->stages;
	for (int st = 0; st < p->num_stages; st++) {
		int k = p->first[st];
		if (cu_check(cudaStreamWaitEvent(s->comm, s->g.stage_done[st], 0),
			     "cudaStreamWaitEvent") != 0 ||
		    dist_allreduce_mean_dev(d, s->g.grads, p->offset + k, p->count + k,
					    p->first[st + 1] - k, s->comm) != 0)
			return -1;
	}
	if (cu_check(cudaEventRecord(s->reduced, s->comm), "cudaEventRecord") != 0 ||
	    cu_check(cudaStreamWaitEvent(s->g.stream, s->reduced, 0), "cudaStreamWaitEvent") != 0)
		return -1;
	return 0;
}

/* Test only: with this variable set, the gradients are averaged in one
 * all-reduce of the whole array after the backward, on the compute stream,
 * the plain way the staged one must give the same bits as (t7300). */
#define ENV_TEST_WHOLE_REDUCE "LM_TRAIN_TEST_WHOLE_ALLREDUCE"

static int reduce_whole(cuda_state *s, dist_ctx *d)
{
	size_t offset = 0, count = s->g.n;
	return dist_allreduce_mean_dev(d, s->g.grads, &offset, &count, 1, s->g.stream);
}

static int cuda_micro_step(device_model *d, const int *x, const int *y, int B, int T,
			   float dloss, dist_ctx *reduce, float *loss)
{
	cuda_state *s = cuda_state_of(d);
	if (gpt_cuda_forward(&s->g, x, y, B, T, dloss / (float)((long)B * T), loss) != 0 ||
	    gpt_cuda_backward(&s->g) != 0)
		return -1;
	if (!reduce)
		return 0;
	return getenv(ENV_TEST_WHOLE_REDUCE) ? reduce_whole(s, reduce) : reduce_by_stage(s, reduce);
}

static double cuda_clip_grads(device_model *d, double max_norm)
{
	cuda_state *s = cuda_state_of(d);
	double sumsq = NAN;
	s->clip_scale = 1.0f;
	if (cu_sum_squares(s->sumsq, s->g.grads, s->g.n, s->sumsq_scratch, s->g.stream) != 0 ||
	    cu_check(cudaMemcpyAsync(&sumsq, s->sumsq, sizeof sumsq, cudaMemcpyDeviceToHost,
				     s->g.stream), "the gradient norm") != 0 ||
	    cu_check(cudaStreamSynchronize(s->g.stream), "the gradient norm") != 0)
		return NAN;
	double norm = sqrt(sumsq);
	s->clip_scale = (float)grad_clip_coef(norm, max_norm);  /* grad_clip's rule */
	return norm;
}

static int cuda_update(device_model *d, double lr)
{
	cuda_state *s = cuda_state_of(d);
	const adamw_hparams *hp = &d->opt.hp;
	long t = ++d->opt.step;
	if (cu_adamw(s->g.params, s->g.params16, s->g.grads, s->m, s->v, s->g.n, &s->runs,
		     (float)lr, (float)hp->beta1, (float)hp->beta2, (float)hp->eps,
		     (float)hp->weight_decay, t, s->clip_scale, s->g.stream) != 0)
		return -1;
	s->clip_scale = 1.0f;
	return 0;
}

static int cuda_eval_loss(device_model *d, const int *x, const int *y, int B, int T, float *loss)
{
	return gpt_cuda_forward(&cuda_state_of(d)->g, x, y, B, T, 0.0f, loss);
}

static int copy_moments(cuda_state *s, adamw *opt, enum cudaMemcpyKind dir)
{
	size_t bytes = s->g.n * sizeof(float);
	bool up = dir == cudaMemcpyHostToDevice;
	if (cu_check(cudaStreamSynchronize(s->g.stream), "the last step") != 0 ||
	    cu_check(cudaMemcpy(up ? (void *)s->m : opt->m, up ? (void *)opt->m : s->m, bytes, dir),
		     "the AdamW moments") != 0 ||
	    cu_check(cudaMemcpy(up ? (void *)s->v : opt->v, up ? (void *)opt->v : s->v, bytes, dir),
		     "the AdamW moments") != 0)
		return -1;
	return 0;
}

static int cuda_sync_host(device_model *d)
{
	cuda_state *s = cuda_state_of(d);
	if (gpt_cuda_download(&s->g, d->model->params) != 0)
		return -1;
	return copy_moments(s, &d->opt, cudaMemcpyDeviceToHost);
}

static int cuda_sync_device(device_model *d)
{
	cuda_state *s = cuda_state_of(d);
	if (gpt_cuda_upload(&s->g, d->model->params) != 0)
		return -1;
	return copy_moments(s, &d->opt, cudaMemcpyHostToDevice);
}

/* The decay runs of the flat array, from the model's tensor table. */
static int decay_runs(cuda_state *s, const gpt_model *m)
{
	adamw_span *spans = device_model_spans(m);
	if (!spans)
		return -1;
	int rc = cu_decay_runs_from_spans(&s->runs, spans, m->num_tensors);
	free(spans);
	return rc;
}

/* The optimizer's state on the device, the host's moments uploaded. */
static int train_open(cuda_state *s, device_model *d)
{
	const gpt_model *m = d->model;
	size_t bytes = m->num_params * sizeof(float);
	if (cu_check(cudaMalloc((void **)&s->m, bytes), "the AdamW moments") ||
	    cu_check(cudaMalloc((void **)&s->v, bytes), "the AdamW moments") ||
	    cu_check(cudaMalloc((void **)&s->sumsq, sizeof(double)), "the gradient norm") ||
	    cu_check(cudaMalloc((void **)&s->sumsq_scratch,
				cu_sum_squares_scratch() * sizeof(double)), "the gradient norm") ||
	    decay_runs(s, m) != 0 || grad_stages_plan(&s->stages, m) != 0 ||
	    cu_check(cudaStreamCreateWithFlags(&s->comm, cudaStreamNonBlocking), "a stream") ||
	    cu_check(cudaEventCreateWithFlags(&s->reduced, cudaEventDisableTiming), "an event"))
		return -1;
	s->clip_scale = 1.0f;
	return copy_moments(s, &d->opt, cudaMemcpyHostToDevice);
}

int device_model_cuda_train(device_model *d)
{
	if (train_open(cuda_state_of(d), d) != 0)
		return -1;
	d->zero_grad = cuda_zero_grad;
	d->micro_step = cuda_micro_step;
	d->clip_grads = cuda_clip_grads;
	d->update = cuda_update;
	d->eval_loss = cuda_eval_loss;
	d->sync_host = cuda_sync_host;
	d->sync_device = cuda_sync_device;
	return 0;
}
