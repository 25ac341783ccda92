/*
 * gpt_cuda.c — the model on the GPU, wired from kernels.h the way
 * model/gpt.c wires the CPU ops: a layer is the same plan's steps
 * (model/layer_plan.h), forward and backward, with the same blocks, the
 * same order and the same accumulation points, so the two read side by
 * side.
 *
 * Sections: weights and their gradients; memory; forward; backward.
 */
#include "model/cuda/gpt_cuda.h"
#include "model/grad_stages.h"
#include "util/error.h"

#include <cuda_runtime_api.h>
#include <stdlib.h>
#include <string.h>

/* ---- weights and their gradients ----------------------------------------- */

/* The bf16 copy of the host tensor that starts at HOST_W (a pointer into
 * host->params), layer l of per_layer elements; NULL stays NULL. */
static const bf16 *wl(const gpt_cuda *g, const float *host_w, int l, size_t per_layer)
{
	if (!host_w)
		return NULL;
	return g->params16 + (host_w - g->host->params) + (size_t)l * per_layer;
}

/* The same tensor's fp32 gradient. */
static float *gl(const gpt_cuda *g, const float *host_w, int l, size_t per_layer)
{
	if (!host_w)
		return NULL;
	return g->grads + (host_w - g->host->params) + (size_t)l * per_layer;
}

static const bf16 *w0(const gpt_cuda *g, const float *host_w) { return wl(g, host_w, 0, 0); }
static float *g0(const gpt_cuda *g, const float *host_w) { return gl(g, host_w, 0, 0); }

/* Layer l's slice of a stacked activation, NULL stays NULL. */
static bf16 *al(bf16 *p, int l, size_t n) { return p ? p + (size_t)l * n : NULL; }
static float *fl(float *p, int l, size_t n) { return p ? p + (size_t)l * n : NULL; }

/* ---- memory ---------------------------------------------------------------- */

static int dmalloc(void *p, size_t bytes, const char *what)
{
	return cu_check(cudaMalloc((void **)p, bytes ? bytes : 1), what);
}

int gpt_cuda_upload(gpt_cuda *g, const float *params)
{
	if (cu_check(cudaMemcpy(g->params, params, g->n * sizeof(float), cudaMemcpyHostToDevice),
		     "uploading the weights") != 0)
		return -1;
	if (gpt_cuda_refresh_bf16(g) != 0)
		return -1;
	return cu_check(cudaStreamSynchronize(g->stream), "uploading the weights");
}

int gpt_cuda_download(gpt_cuda *g, float *params)
{
	if (cu_check(cudaStreamSynchronize(g->stream), "the last step") != 0)
		return -1;
	return cu_check(cudaMemcpy(params, g->params, g->n * sizeof(float), cudaMemcpyDeviceToHost),
			"downloading the weights");
}

int gpt_cuda_refresh_bf16(gpt_cuda *g)
{
	return cu_float_to_bf16(g->params16, g->params, g->n, g->stream);
}

int gpt_cuda_zero_grad(gpt_cuda *g)
{
	return cu_check(cudaMemsetAsync(g->grads, 0, g->n * sizeof(float), g->stream),
			"zeroing the gradients");
}

static void stage_events_destroy(gpt_cuda *g)
{
	for (int s = 0; g->stage_done && s < grad_stage_count(g->host); s++)
		if (g->stage_done[s])
			cudaEventDestroy(g->stage_done[s]);
	free(g->stage_done);
	g->stage_done = NULL;
}

static int stage_events_create(gpt_cuda *g)
{
	int n = grad_stage_count(g->host);
	g->stage_done = calloc((size_t)n, sizeof *g->stage_done);
	if (!g->stage_done)
		return lm_fail("out of memory");
	for (int s = 0; s < n; s++)
		if (cu_check(cudaEventCreateWithFlags(&g->stage_done[s], cudaEventDisableTiming),
			     "an event") != 0)
			return -1;
	return 0;
}

int gpt_cuda_open(gpt_cuda *g, const gpt_model *host)
{
	const lm_config *c = &host->cfg;
	memset(g, 0, sizeof *g);
	g->host = host;
	g->n = host->num_params;
	if (cu_check(cudaStreamCreateWithFlags(&g->stream, cudaStreamNonBlocking), "a stream") != 0)
		return -1;
	if (cu_check(cudaEventCreateWithFlags(&g->buckets_sent, cudaEventDisableTiming), "an event") ||
	    stage_events_create(g) != 0) {
		gpt_cuda_close(g);
		return -1;
	}
	if (!cu_attention_supports(config_head_size(c))) {
		gpt_cuda_close(g);
		return lm_fail("model '%s': head size %d has no CUDA attention kernel (32, 64, 128 do)",
			       c->name, config_head_size(c));
	}
	g->blas = cu_blas_open(g->stream);
	if (!g->blas || dmalloc(&g->params, g->n * sizeof(float), "the weights") ||
	    dmalloc(&g->params16, g->n * sizeof(bf16), "the bf16 weights") ||
	    dmalloc(&g->grads, g->n * sizeof(float), "the gradients")) {
		gpt_cuda_close(g);
		return -1;
	}
	if (c->pos == POS_ROPE) {
		size_t rn = (size_t)c->ctx * (size_t)(config_head_size(c) / 2) * sizeof(float);
		if (dmalloc(&g->rope_cos, rn, "the RoPE table") ||
		    dmalloc(&g->rope_sin, rn, "the RoPE table") ||
		    cu_check(cudaMemcpy(g->rope_cos, host->rope_cos, rn, cudaMemcpyHostToDevice), "RoPE") ||
		    cu_check(cudaMemcpy(g->rope_sin, host->rope_sin, rn, cudaMemcpyHostToDevice), "RoPE")) {
			gpt_cuda_close(g);
			return -1;
		}
	}
	if (gpt_cuda_upload(g, host->params) != 0 || gpt_cuda_zero_grad(g) != 0) {
		gpt_cuda_close(g);
		return -1;
	}
	return 0;
}

static void acts_free(gpt_cuda *g)
{
	cudaFree(g->a.mem);
	cudaFreeHost(g->host_buckets);
	cudaFreeHost(g->host_losses);
	memset(&g->a, 0, sizeof g->a);
	g->host_buckets = NULL;
	g->host_losses = NULL;
	g->cap_rows = 0;
}

void gpt_cuda_close(gpt_cuda *g)
{
	if (g->stream)
		cudaStreamSynchronize(g->stream);
	acts_free(g);
	cu_blas_close(g->blas);
	cudaFree(g->params);
	cudaFree(g->params16);
	cudaFree(g->grads);
	cudaFree(g->rope_cos);
	cudaFree(g->rope_sin);
	if (g->buckets_sent)
		cudaEventDestroy(g->buckets_sent);
	stage_events_destroy(g);
	if (g->stream)
		cudaStreamDestroy(g->stream);
	memset(g, 0, sizeof *g);
}

/* Carve every buffer for ROWS = B*T rows out of one device allocation. */
static int acts_alloc(gpt_cuda *g, long rows)
{
	const lm_config *c = &g->host->cfg;
	size_t L = (size_t)c->n_layer, R = (size_t)rows, C = (size_t)c->d_model;
	size_t F = (size_t)c->d_ff, NH = (size_t)c->n_head, Vp = (size_t)c->padded_vocab;
	const layer_plan *plan = &g->host->plan;
	bool norm1 = layer_plan_has_op(plan, OP_NORM1), norm2 = layer_plan_has_op(plan, OP_NORM2);
	bool norms = config_has_final_norm(c), ln = plan->norm_kind == NORM_LAYERNORM;
	bool rope = plan->rope, gated = plan->mlp == MLP_SWIGLU;
	size_t bias_oc = 3 * C > F ? 3 * C : F;
	gpt_cuda_acts *a = &g->a;
	struct { void **p; size_t bytes; } bufs[] = {
		{(void **)&a->x, (L + 1) * R * C * 2},
		{(void **)&a->n1, layer_plan_has_slot(plan, SLOT_N1) ? L * R * C * 2 : 0},
		{(void **)&a->n1_mean, norm1 && ln ? L * R * 4 : 0},
		{(void **)&a->n1_rstd, norm1 ? L * R * 4 : 0},
		{(void **)&a->qkv, L * R * 3 * C * 2},
		{(void **)&a->qkvr, rope ? L * R * 3 * C * 2 : 0},
		{(void **)&a->lse, L * R * NH * 4},
		{(void **)&a->atty, L * R * C * 2},
		{(void **)&a->r1, L * R * C * 2},
		{(void **)&a->n2, layer_plan_has_slot(plan, SLOT_N2) ? L * R * C * 2 : 0},
		{(void **)&a->n2_mean, norm2 && ln ? L * R * 4 : 0},
		{(void **)&a->n2_rstd, norm2 ? L * R * 4 : 0},
		{(void **)&a->fca, L * R * F * 2},
		{(void **)&a->fcg, gated ? L * R * F * 2 : 0},
		{(void **)&a->fch, L * R * F * 2},
		{(void **)&a->r2, layer_plan_has_slot(plan, SLOT_R2) ? L * R * C * 2 : 0},
		{(void **)&a->lnf, norms ? R * C * 2 : 0},
		{(void **)&a->lnf_mean, norms && ln ? R * 4 : 0},
		{(void **)&a->lnf_rstd, norms ? R * 4 : 0},
		{(void **)&a->logits, R * Vp * 2},
		{(void **)&a->losses, R * 4},
		{(void **)&a->row_logits, Vp * 4},
		{(void **)&a->dx, R * C * 2},
		{(void **)&a->dr, plan->n_grads > 2 ? R * C * 2 : 0},
		{(void **)&a->dn, R * C * 2},
		{(void **)&a->datty, R * C * 2},
		{(void **)&a->dqkv, R * 3 * C * 2},
		{(void **)&a->dqkvr, rope ? R * 3 * C * 2 : 0},
		{(void **)&a->dfca, R * F * 2},
		{(void **)&a->dfcg, gated ? R * F * 2 : 0},
		{(void **)&a->dfch, R * F * 2},
		{(void **)&a->norm_scratch, cu_norm_backward_scratch((int)R, (int)C) * 4},
		{(void **)&a->bias_scratch, cu_bias_backward_scratch((int)R, (int)bias_oc) * 4},
		{(void **)&a->att_scratch, R * NH * 4},
		{(void **)&a->inputs, R * 4},
		{(void **)&a->targets, R * 4},
		{(void **)&a->buckets, (3 * R + 1) * 4},
	};
	size_t n = sizeof bufs / sizeof bufs[0], total = 0;
	for (size_t i = 0; i < n; i++)
		total += (bufs[i].bytes + 255) & ~(size_t)255;  /* 256-byte aligned starts */
	if (g->stream)
		cudaStreamSynchronize(g->stream);
	acts_free(g);
	if (cudaMalloc(&a->mem, total) != cudaSuccess ||
	    cudaMallocHost((void **)&g->host_buckets, (3 * R + 1) * sizeof(int)) != cudaSuccess ||
	    cudaMallocHost((void **)&g->host_losses, R * sizeof(float)) != cudaSuccess) {
		cudaGetLastError();
		acts_free(g);
		return lm_fail("out of GPU memory for the activations of %ld rows (%zu MiB)", rows,
			       total >> 20);
	}
	char *p = a->mem;
	for (size_t i = 0; i < n; i++) {
		*bufs[i].p = bufs[i].bytes ? p : NULL;
		p += (bufs[i].bytes + 255) & ~(size_t)255;
	}
	if (!rope) {
		a->qkvr = a->qkv;
		a->dqkvr = a->dqkv;
	}
	g->cap_rows = rows;
	return 0;
}

/* ---- forward --------------------------------------------------------------- */

static int norm_forward(gpt_cuda *g, bf16 *out, float *mean, float *rstd, const bf16 *inp,
			const bf16 *w, const bf16 *b, int N)
{
	const lm_config *c = &g->host->cfg;
	if (g->host->plan.norm_kind == NORM_LAYERNORM)
		return cu_layernorm_forward(out, mean, rstd, inp, w, b, N, c->d_model,
					    (float)c->norm_eps, g->stream);
	return cu_rmsnorm_forward(out, rstd, inp, w, N, c->d_model, (float)c->norm_eps, g->stream);
}

/* out = resid + attention(inp) for layer l. */
static int attn_block_forward(gpt_cuda *g, int l, const bf16 *inp, const bf16 *resid, bf16 *out)
{
	const lm_config *c = &g->host->cfg;
	const gpt_weights *w = &g->host->w;
	int B = g->B, T = g->T, C = c->d_model, NH = c->n_head, BT = B * T;
	gpt_cuda_acts *a = &g->a;
	size_t btc = (size_t)BT * C, cc = (size_t)C * C;
	bf16 *qkv = al(a->qkv, l, 3 * btc), *qkvr = al(a->qkvr, l, 3 * btc);
	bf16 *atty = al(a->atty, l, btc);
	float *lse = fl(a->lse, l, (size_t)BT * NH);
	if (cu_matmul_forward(g->blas, qkv, inp, wl(g, w->qkvw, l, 3 * cc),
			      wl(g, w->qkvb, l, 3 * C), NULL, BT, C, 3 * C) != 0)
		return -1;
	if (g->host->plan.rope &&
	    cu_rope_forward(qkvr, qkv, g->rope_cos, g->rope_sin, B, T, C, NH, g->stream) != 0)
		return -1;
	if (cu_attention_forward(atty, lse, qkvr, B, T, C, NH, g->stream) != 0)
		return -1;
	return cu_matmul_forward(g->blas, out, atty, wl(g, w->attprojw, l, cc),
				 wl(g, w->attprojb, l, C), resid, BT, C, C);
}

/* out = resid + mlp(inp) for layer l. */
static int mlp_block_forward(gpt_cuda *g, int l, const bf16 *inp, const bf16 *resid, bf16 *out)
{
	const lm_config *c = &g->host->cfg;
	const gpt_weights *w = &g->host->w;
	int BT = g->B * g->T, C = c->d_model, F = c->d_ff;
	gpt_cuda_acts *a = &g->a;
	size_t btf = (size_t)BT * F, fc = (size_t)F * C;
	bf16 *fca = al(a->fca, l, btf), *fch = al(a->fch, l, btf);
	if (cu_matmul_forward(g->blas, fca, inp, wl(g, w->fcw, l, fc), wl(g, w->fcb, l, F), NULL,
			      BT, C, F) != 0)
		return -1;
	int rc = -1;
	switch (g->host->plan.mlp) {
	case MLP_SWIGLU: {
		bf16 *fcg = al(a->fcg, l, btf);
		rc = cu_matmul_forward(g->blas, fcg, inp, wl(g, w->fcgw, l, fc), wl(g, w->fcgb, l, F),
				       NULL, BT, C, F);
		rc = rc ? rc : cu_swiglu_forward(fch, fca, fcg, (long)btf, g->stream);
		break;
	}
	case MLP_SILU: rc = cu_silu_forward(fch, fca, (long)btf, g->stream); break;
	case MLP_GELU: rc = cu_gelu_forward(fch, fca, (long)btf, g->stream); break;
	}
	if (rc != 0)
		return -1;
	return cu_matmul_forward(g->blas, out, fch, wl(g, w->fcprojw, l, fc),
				 wl(g, w->fcprojb, l, C), resid, BT, F, C);
}

/* Layer l's rows of each slot of the plan (model/layer_plan.h), NULL for
 * a slot it lacks. */
static void layer_slots(gpt_cuda *g, int l, bf16 *slot[SLOT_COUNT])
{
	gpt_cuda_acts *a = &g->a;
	size_t btc = (size_t)g->B * g->T * g->host->cfg.d_model;
	slot[SLOT_X] = al(a->x, l, btc);
	slot[SLOT_N1] = al(a->n1, l, btc);
	slot[SLOT_R1] = al(a->r1, l, btc);
	slot[SLOT_N2] = al(a->n2, l, btc);
	slot[SLOT_R2] = al(a->r2, l, btc);
	slot[SLOT_XO] = al(a->x, l + 1, btc);
}

/* Layer l's steps (g->host->plan), as gpt.c's gpt_layer_forward. */
static int layer_forward(gpt_cuda *g, int l)
{
	const layer_plan *p = &g->host->plan;
	const gpt_weights *w = &g->host->w;
	int BT = g->B * g->T, C = g->host->cfg.d_model;
	gpt_cuda_acts *a = &g->a;
	bf16 *slot[SLOT_COUNT];
	layer_slots(g, l, slot);
	int rc = 0;
	for (int i = 0; rc == 0 && i < p->n_steps; i++) {
		const layer_step *s = &p->steps[i];
		const bf16 *in = slot[s->in], *resid = s->resid == SLOT_NONE ? NULL : slot[s->resid];
		bf16 *out = slot[s->out];
		switch (s->op) {
		case OP_NORM1:
			rc = norm_forward(g, out, fl(a->n1_mean, l, BT), fl(a->n1_rstd, l, BT), in,
					  wl(g, w->ln1w, l, C), wl(g, w->ln1b, l, C), BT);
			break;
		case OP_NORM2:
			rc = norm_forward(g, out, fl(a->n2_mean, l, BT), fl(a->n2_rstd, l, BT), in,
					  wl(g, w->ln2w, l, C), wl(g, w->ln2b, l, C), BT);
			break;
		case OP_ATTN: rc = attn_block_forward(g, l, in, resid, out); break;
		case OP_MLP: rc = mlp_block_forward(g, l, in, resid, out); break;
		}
	}
	return rc ? -1 : 0;
}

/* Group the positions of INPUTS by token on the host (embedding_buckets)
 * and send them to the device for the embedding's backward. The pinned
 * buffer is rewritten only after its last upload finished. */
static int embedding_buckets_upload(gpt_cuda *g, const int *inputs, int BT)
{
	int *ids = g->host_buckets, *starts = ids + BT, *pos = starts + BT + 1;
	if (cu_check(cudaEventSynchronize(g->buckets_sent), "the last upload") != 0)
		return -1;
	g->num_buckets = embedding_buckets(inputs, BT, ids, starts, pos);
	if (cu_check(cudaMemcpyAsync(g->a.buckets, g->host_buckets, (size_t)(3 * BT + 1) * sizeof(int),
				     cudaMemcpyHostToDevice, g->stream), "the embedding buckets") != 0)
		return -1;
	return cu_check(cudaEventRecord(g->buckets_sent, g->stream), "cudaEventRecord");
}

/* The mean of the B*T losses, summed on the host in order. */
static int mean_loss(gpt_cuda *g, float *loss)
{
	long BT = (long)g->B * g->T;
	if (cu_check(cudaMemcpyAsync(g->host_losses, g->a.losses, (size_t)BT * sizeof(float),
				     cudaMemcpyDeviceToHost, g->stream), "the losses") != 0 ||
	    cu_check(cudaStreamSynchronize(g->stream), "the forward pass") != 0)
		return -1;
	double total = 0.0;
	for (long i = 0; i < BT; i++)
		total += g->host_losses[i];
	*loss = (float)(total / (double)BT);
	return 0;
}

int gpt_cuda_forward(gpt_cuda *g, const int *inputs, const int *targets, int B, int T,
		     float grad_scale, float *loss)
{
	const lm_config *c = &g->host->cfg;
	if (gpt_check_batch(c, inputs, targets, B, T) != 0)
		return -1;
	long BT = (long)B * T;
	if (BT > g->cap_rows && acts_alloc(g, BT) != 0)
		return -1;
	g->B = B;
	g->T = T;
	g->has_targets = 0;
	int C = c->d_model, L = c->n_layer;
	gpt_cuda_acts *a = &g->a;
	const gpt_weights *w = &g->host->w;
	if (cu_check(cudaMemcpyAsync(a->inputs, inputs, (size_t)BT * sizeof(int),
				     cudaMemcpyHostToDevice, g->stream), "the inputs") != 0 ||
	    (targets && cu_check(cudaMemcpyAsync(a->targets, targets, (size_t)BT * sizeof(int),
						 cudaMemcpyHostToDevice, g->stream), "the targets") != 0))
		return -1;
	if (cu_embedding_forward(a->x, a->inputs, w0(g, w->wte), w0(g, w->wpe), B, T, C,
				 g->stream) != 0)
		return -1;
	for (int l = 0; l < L; l++)
		if (layer_forward(g, l) != 0)
			return -1;
	bf16 *head_in = al(a->x, L, (size_t)BT * C);
	if (config_has_final_norm(c)) {
		if (norm_forward(g, a->lnf, a->lnf_mean, a->lnf_rstd, head_in, w0(g, w->lnfw),
				 w0(g, w->lnfb), (int)BT) != 0)
			return -1;
		head_in = a->lnf;
	}
	if (cu_matmul_forward(g->blas, a->logits, head_in, w0(g, w->lm_head), NULL, NULL, (int)BT,
			      C, c->padded_vocab) != 0)
		return -1;
	if (!targets)
		return 0;
	if (grad_scale != 0.0f && embedding_buckets_upload(g, inputs, (int)BT) != 0)
		return -1;
	if (cu_crossentropy_fused(a->losses, a->logits, a->targets, (int)BT, c->vocab_size,
				  c->padded_vocab, grad_scale, g->stream) != 0)
		return -1;
	g->has_targets = grad_scale != 0.0f;
	return loss ? mean_loss(g, loss) : 0;
}

int gpt_cuda_logits_row(gpt_cuda *g, long r, float *out)
{
	size_t Vp = (size_t)g->host->cfg.padded_vocab;
	if (r < 0 || r >= (long)g->B * g->T)
		return lm_fail("logits row %ld outside the last forward's %d x %d", r, g->B, g->T);
	if (cu_bf16_to_float(g->a.row_logits, g->a.logits + (size_t)r * Vp, Vp, g->stream) != 0 ||
	    cu_check(cudaMemcpyAsync(out, g->a.row_logits, Vp * sizeof(float),
				     cudaMemcpyDeviceToHost, g->stream), "the logits") != 0)
		return -1;
	return cu_check(cudaStreamSynchronize(g->stream), "the logits");
}

int gpt_cuda_losses(gpt_cuda *g, float *out)
{
	size_t n = (size_t)g->B * g->T;
	if (cu_check(cudaMemcpyAsync(out, g->a.losses, n * sizeof(float), cudaMemcpyDeviceToHost,
				     g->stream), "the losses") != 0)
		return -1;
	return cu_check(cudaStreamSynchronize(g->stream), "the losses");
}

/* ---- backward -------------------------------------------------------------- */

static int zero(gpt_cuda *g, bf16 *p, size_t n)
{
	return cu_check(cudaMemsetAsync(p, 0, n * sizeof(bf16), g->stream), "cudaMemsetAsync");
}

/* dinp += norm'(inp)^T dout, and the norm's parameter gradients. */
static int norm_backward(gpt_cuda *g, bf16 *dinp, float *dw, float *db, const bf16 *dout,
			 const bf16 *inp, const bf16 *w, const float *mean, const float *rstd)
{
	const lm_config *c = &g->host->cfg;
	int BT = g->B * g->T;
	if (g->host->plan.norm_kind == NORM_LAYERNORM)
		return cu_layernorm_backward(dinp, dw, db, g->a.norm_scratch, dout, inp, w, mean,
					     rstd, BT, c->d_model, g->stream);
	return cu_rmsnorm_backward(dinp, dw, g->a.norm_scratch, dout, inp, w, rstd, BT,
				   c->d_model, g->stream);
}

static int linear_backward(gpt_cuda *g, bf16 *dinp, const float *host_w, const float *host_b,
			   int l, const bf16 *dout, const bf16 *inp, int IC, int OC, bool accumulate)
{
	size_t wn = (size_t)IC * OC;
	return cu_matmul_backward(g->blas, dinp, gl(g, host_w, l, wn), gl(g, host_b, l, OC),
				  g->a.bias_scratch, dout, inp, wl(g, host_w, l, wn), g->B * g->T,
				  IC, OC, accumulate);
}

/* din = (accumulate: +=) the attention branch's input gradient, given dout
 * at its output. din may be dout itself: dout is spent before din is
 * written, so accumulating into it passes the residual's gradient through. */
static int attn_block_backward(gpt_cuda *g, int l, const bf16 *inp, const bf16 *dout, bf16 *din,
			       bool accumulate)
{
	const lm_config *c = &g->host->cfg;
	const gpt_weights *w = &g->host->w;
	int B = g->B, T = g->T, C = c->d_model, NH = c->n_head, BT = B * T;
	gpt_cuda_acts *a = &g->a;
	size_t btc = (size_t)BT * C;
	const bf16 *qkvr = al(a->qkvr, l, 3 * btc), *atty = al(a->atty, l, btc);
	const float *lse = fl(a->lse, l, (size_t)BT * NH);
	if (linear_backward(g, a->datty, w->attprojw, w->attprojb, l, dout, atty, C, C, false) ||
	    cu_attention_backward(a->dqkvr, a->att_scratch, a->datty, qkvr, atty, lse, B, T, C,
				  NH, g->stream))
		return -1;
	if (g->host->plan.rope && cu_rope_backward(a->dqkv, a->dqkvr, g->rope_cos, g->rope_sin, B,
						   T, C, NH, g->stream) != 0)
		return -1;
	return linear_backward(g, din, w->qkvw, w->qkvb, l, a->dqkv, inp, C, 3 * C, accumulate);
}

/* din = (accumulate: +=) the MLP branch's input gradient, given dout at its
 * output; din may be dout itself, as in attn_block_backward. */
static int mlp_block_backward(gpt_cuda *g, int l, const bf16 *inp, const bf16 *dout, bf16 *din,
			      bool accumulate)
{
	const lm_config *c = &g->host->cfg;
	const gpt_weights *w = &g->host->w;
	int BT = g->B * g->T, C = c->d_model, F = c->d_ff;
	gpt_cuda_acts *a = &g->a;
	size_t btf = (size_t)BT * F;
	const bf16 *fca = al(a->fca, l, btf), *fch = al(a->fch, l, btf);
	if (linear_backward(g, a->dfch, w->fcprojw, w->fcprojb, l, dout, fch, F, C, false) != 0)
		return -1;
	int rc = -1;
	switch (g->host->plan.mlp) {
	case MLP_SWIGLU:
		rc = cu_swiglu_backward(a->dfca, a->dfcg, a->dfch, fca, al(a->fcg, l, btf), (long)btf,
					g->stream);
		rc = rc ? rc : linear_backward(g, din, w->fcgw, w->fcgb, l, a->dfcg, inp, C, F,
					       accumulate);
		accumulate = true;  /* the two branches' gradients add */
		break;
	case MLP_SILU: rc = cu_silu_backward(a->dfca, fca, a->dfch, (long)btf, g->stream); break;
	case MLP_GELU: rc = cu_gelu_backward(a->dfca, fca, a->dfch, (long)btf, g->stream); break;
	}
	return rc ? rc : linear_backward(g, din, w->fcw, w->fcb, l, a->dfca, inp, C, F, accumulate);
}

/* Layer l's steps undone in reverse (g->host->plan's back), as gpt.c's
 * layer_backward: d[0] holds d loss / d x[l+1] on entry; returns the index of
 * the buffer of d that holds d loss / d x[l], or -1. A residual's gradient
 * passes through in place: the branch's input gradient accumulates into the
 * buffer that holds it. */
static int layer_backward(gpt_cuda *g, int l, bf16 *const d[LAYER_MAX_GRADS])
{
	const layer_plan *p = &g->host->plan;
	const gpt_weights *w = &g->host->w;
	int BT = g->B * g->T, C = g->host->cfg.d_model;
	gpt_cuda_acts *a = &g->a;
	size_t btc = (size_t)BT * C;
	bf16 *slot[SLOT_COUNT];
	layer_slots(g, l, slot);
	int rc = 0;
	for (int i = 0; rc == 0 && i < p->n_steps; i++) {
		const layer_grad_step *s = &p->back[i];
		const bf16 *inp = slot[s->in], *dout = d[s->dout];
		bf16 *din = d[s->din];
		switch (s->op) {
		case OP_NORM1:
			rc = (s->fresh && zero(g, din, btc)) ||
			     norm_backward(g, din, gl(g, w->ln1w, l, C), gl(g, w->ln1b, l, C), dout, inp,
					   wl(g, w->ln1w, l, C), fl(a->n1_mean, l, BT),
					   fl(a->n1_rstd, l, BT));
			break;
		case OP_NORM2:
			rc = (s->fresh && zero(g, din, btc)) ||
			     norm_backward(g, din, gl(g, w->ln2w, l, C), gl(g, w->ln2b, l, C), dout, inp,
					   wl(g, w->ln2w, l, C), fl(a->n2_mean, l, BT),
					   fl(a->n2_rstd, l, BT));
			break;
		case OP_ATTN: rc = attn_block_backward(g, l, inp, dout, din, !s->fresh); break;
		case OP_MLP: rc = mlp_block_backward(g, l, inp, dout, din, !s->fresh); break;
		}
	}
	return rc ? -1 : p->dx;
}

static int embedding_backward(gpt_cuda *g, const bf16 *dx)
{
	const lm_config *c = &g->host->cfg;
	const gpt_weights *w = &g->host->w;
	int BT = g->B * g->T;
	int *ids = g->a.buckets, *starts = ids + BT, *pos = starts + BT + 1;
	return cu_embedding_backward(g0(g, w->wte), g0(g, w->wpe), dx, ids, starts, pos,
				     g->num_buckets, g->B, g->T, c->d_model, g->stream);
}

/* Grad stage S (model/grad_stages.h) is complete once the stream gets here. */
static int stage_done(gpt_cuda *g, int s)
{
	return cu_check(cudaEventRecord(g->stage_done[s], g->stream), "cudaEventRecord");
}

int gpt_cuda_backward(gpt_cuda *g)
{
	const lm_config *c = &g->host->cfg;
	const gpt_weights *w = &g->host->w;
	if (!g->has_targets)
		return lm_fail("backward needs a forward pass with targets and a gradient scale first");
	int BT = g->B * g->T, C = c->d_model, L = c->n_layer;
	gpt_cuda_acts *a = &g->a;
	size_t btc = (size_t)BT * C;
	/* the head: the logits already hold their gradient (cu_crossentropy_fused) */
	bf16 *xL = al(a->x, L, btc);
	const float *head_w = c->tied_head ? w->wte : w->lm_head;
	if (config_has_final_norm(c)) {
		if (linear_backward(g, a->dn, head_w, NULL, 0, a->logits, a->lnf, C, c->padded_vocab,
				    false) ||
		    zero(g, a->dx, btc) ||
		    norm_backward(g, a->dx, g0(g, w->lnfw), g0(g, w->lnfb), a->dn, xL,
				  w0(g, w->lnfw), a->lnf_mean, a->lnf_rstd))
			return -1;
	} else if (linear_backward(g, a->dx, head_w, NULL, 0, a->logits, xL, C, c->padded_vocab,
				   false) != 0) {
		return -1;
	}
	if (stage_done(g, 0) != 0)
		return -1;
	bf16 *d[LAYER_MAX_GRADS] = {a->dx, a->dn, a->dr};  /* d[0]: the stream's gradient */
	for (int l = L - 1; l >= 0; l--) {
		int k = layer_backward(g, l, d);
		if (k < 0 || stage_done(g, 1 + (L - 1 - l)) != 0)
			return -1;
		bf16 *t = d[0];
		d[0] = d[k];
		d[k] = t;
	}
	if (embedding_backward(g, d[0]) != 0 || stage_done(g, L + 1) != 0)
		return -1;
	g->has_targets = 0;  /* the logits now hold their gradient */
	return 0;
}
