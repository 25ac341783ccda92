/*
 * backend_cuda.c — the CUDA backend: the model on the GPU (model/cuda/
 * gpt_cuda.c, bf16 weights and activations, fp32 master weights and
 * gradients), AdamW over all parameters in one kernel with the fp32 moments
 * on the device, the gradient norm and clipping folded into that kernel,
 * and the gradients averaged over ranks by NCCL (dist/dist.h) stage by
 * stage on a second stream, overlapped with the rest of the backward.
 *
 * Deterministic: every kernel sums in a fixed order (no atomics), cuBLASLt
 * keeps one algorithm per shape, and the loss is summed on the host in
 * order, so the same seed on the same GPU gives the same bits.
 *
 * Sampling (gen_reset/gen_append) is gpt_cuda.h's: the whole sequence
 * forwarded again each call, no KV cache on the GPU yet.
 */
#include "eval/score_cuda.h"
#include "model/cuda/gpt_cuda.h"
#include "model/grad_stages.h"
#include "train/backend.h"
#include "util/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
	gpt_cuda g;
	float *m, *v;          /* (n) AdamW moments on the device */
	cu_decay_runs runs;    /* where weight decay applies */
	double *sumsq, *sumsq_scratch;
	float clip_scale;      /* the last clip_grads' factor, applied by update */
	gpt_cuda_gen gen;      /* sampling, and the logits of next_logits */
	grad_stages stages;    /* the gradient spans each backward stage completes */
	cudaStream_t comm;     /* the gradient all-reduces */
	cudaEvent_t reduced;   /* the last all-reduce of a step finished */
} cuda_state;

static cuda_state *state(train_backend *b) { return b->impl; }

static int cuda_zero_grad(train_backend *b)
{
	return gpt_cuda_zero_grad(&state(b)->g);
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

static int cuda_micro_step(train_backend *b, const int *x, const int *y, int B, int T,
			   float dloss, dist_ctx *reduce, float *loss)
{
	cuda_state *s = state(b);
	if (gpt_cuda_forward(&s->g, x, y, B, T, dloss / (float)((long)B * T), loss) != 0 ||
	    gpt_cuda_backward(&s->g) != 0)
		return -1;
	if (!reduce)
		return 0;
	return getenv(ENV_TEST_WHOLE_REDUCE) ? reduce_whole(s, reduce) : reduce_by_stage(s, reduce);
}

static double cuda_clip_grads(train_backend *b, double max_norm)
{
	cuda_state *s = state(b);
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

static int cuda_update(train_backend *b, double lr)
{
	cuda_state *s = state(b);
	const adamw_hparams *hp = &b->opt.hp;
	long t = ++b->opt.step;
	if (cu_adamw(s->g.params, s->g.params16, s->g.grads, s->m, s->v, s->g.n, &s->runs,
		     (float)lr, (float)hp->beta1, (float)hp->beta2, (float)hp->eps,
		     (float)hp->weight_decay, t, s->clip_scale, s->g.stream) != 0)
		return -1;
	s->clip_scale = 1.0f;
	return 0;
}

static int cuda_eval_loss(train_backend *b, const int *x, const int *y, int B, int T, float *loss)
{
	return gpt_cuda_forward(&state(b)->g, x, y, B, T, 0.0f, loss);
}

static void cuda_scorer(train_backend *b, score_model *out)
{
	score_model_cuda(out, &state(b)->g);
}

static const float *cuda_next_logits(train_backend *b, const int *x, int T)
{
	return gpt_cuda_next_logits(&state(b)->gen, x, T);
}

static int cuda_gen_reset(train_backend *b)
{
	return gpt_cuda_gen_reset(&state(b)->gen);
}

static const float *cuda_gen_append(train_backend *b, const int *tokens, int n)
{
	return gpt_cuda_gen_append(&state(b)->gen, tokens, n);
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

static int cuda_sync_host(train_backend *b)
{
	cuda_state *s = state(b);
	if (gpt_cuda_download(&s->g, b->model->params) != 0)
		return -1;
	return copy_moments(s, &b->opt, cudaMemcpyDeviceToHost);
}

static int cuda_sync_device(train_backend *b)
{
	cuda_state *s = state(b);
	if (gpt_cuda_upload(&s->g, b->model->params) != 0)
		return -1;
	return copy_moments(s, &b->opt, cudaMemcpyHostToDevice);
}

static void cuda_close(train_backend *b)
{
	cuda_state *s = state(b);
	if (!s)
		return;
	if (s->comm)  /* an all-reduce may still read the gradients */
		cudaStreamSynchronize(s->comm);
	gpt_cuda_close(&s->g);
	cudaFree(s->m);
	cudaFree(s->v);
	cudaFree(s->sumsq);
	cudaFree(s->sumsq_scratch);
	gpt_cuda_gen_close(&s->gen);
	grad_stages_free(&s->stages);
	if (s->reduced)
		cudaEventDestroy(s->reduced);
	if (s->comm)
		cudaStreamDestroy(s->comm);
	free(s);
	b->impl = NULL;
}

/* The decay runs of the flat array, from the model's tensor table. */
static int decay_runs(cuda_state *s, const gpt_model *m)
{
	adamw_span *spans = malloc((size_t)m->num_tensors * sizeof *spans);
	if (!spans)
		return lm_fail("out of memory");
	for (int i = 0; i < m->num_tensors; i++)
		spans[i] = (adamw_span){m->tensors[i].offset, m->tensors[i].numel, m->tensors[i].decay};
	int rc = cu_decay_runs_from_spans(&s->runs, spans, m->num_tensors);
	free(spans);
	return rc;
}

static int cuda_state_open(cuda_state *s, train_backend *b)
{
	const gpt_model *m = b->model;
	if (cu_device_check("--device cuda") != 0)
		return -1;
	if (gpt_cuda_open(&s->g, m) != 0 || gpt_cuda_gen_open(&s->gen, &s->g) != 0)
		return -1;
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
	return copy_moments(s, &b->opt, cudaMemcpyHostToDevice);
}

int backend_cuda_open(train_backend *b)
{
	cuda_state *s = calloc(1, sizeof *s);
	if (!s)
		return lm_fail("out of memory");
	b->impl = s;
	b->close = cuda_close;
	if (cuda_state_open(s, b) != 0) {
		cuda_close(b);
		b->close = NULL;
		return -1;
	}
	b->name = "cuda";
	b->zero_grad = cuda_zero_grad;
	b->micro_step = cuda_micro_step;
	b->scorer = cuda_scorer;
	b->clip_grads = cuda_clip_grads;
	b->update = cuda_update;
	b->eval_loss = cuda_eval_loss;
	b->next_logits = cuda_next_logits;
	b->gen_reset = cuda_gen_reset;
	b->gen_append = cuda_gen_append;
	b->sync_host = cuda_sync_host;
	b->sync_device = cuda_sync_device;
	return 0;
}
