/*
 * gpt_cuda.h — the model on the GPU: model/gpt.c's forward and backward,
 * op for op, wired from the kernels of kernels.h. Weights and activations
 * are bf16; the fp32 master weights and the fp32 gradients live on the
 * device in the host model's flat layout (model/gpt.h's tensor table), so
 * moving them to and from the host is one copy each.
 *
 *   gpt_cuda g;
 *   gpt_cuda_open(&g, &host_model);            // uploads the host weights
 *   gpt_cuda_zero_grad(&g);
 *   gpt_cuda_forward(&g, x, y, B, T, dloss / (B*T), &loss);
 *   gpt_cuda_backward(&g);                     // grads += into g.grads
 *   ... optimizer on g.params, g.grads; then gpt_cuda_refresh_bf16(&g) ...
 *   gpt_cuda_close(&g);
 *
 * Attention keeps the softmax's log-sum-exp (flash attention), not the
 * (T, T) probabilities the CPU model keeps, so the activations grow with T,
 * not T^2.
 */
#ifndef LMPIPE_GPT_CUDA_H
#define LMPIPE_GPT_CUDA_H

#include "model/cuda/kernels.h"
#include "model/gpt.h"

/* The activations of one forward (bf16 unless marked), as gpt_acts. */
typedef struct {
	bf16 *x, *n1, *qkv, *qkvr, *atty, *r1, *n2, *fca, *fcg, *fch, *r2, *lnf, *logits;
	float *n1_mean, *n1_rstd, *n2_mean, *n2_rstd, *lnf_mean, *lnf_rstd; /* fp32 */
	float *lse;        /* (L, B, NH, T) attention's log-sum-exp */
	float *losses;     /* (B, T) */
	float *row_logits; /* (Vp) one row of logits as fp32, for sampling */
	bf16 *dx, *dr, *dn, *datty, *dqkv, *dqkvr, *dfca, *dfcg, *dfch;  /* dx, dn, dr: the layer plan's gradient buffers (dr where it needs 3) */
	float *norm_scratch, *bias_scratch, *att_scratch;
	int *inputs, *targets;  /* (B, T) */
	int *buckets;           /* embedding_buckets' ids | starts | pos */
	void *mem;              /* the one allocation behind all of these */
} gpt_cuda_acts;

typedef struct {
	const gpt_model *host;  /* config and tensor table (its weights are not read
				   after open, except by gpt_cuda_upload) */
	size_t n;               /* parameters */
	float *params;          /* (n) fp32 master weights */
	bf16 *params16;         /* (n) the bf16 copy the kernels read */
	float *grads;           /* (n) fp32 */
	float *rope_cos, *rope_sin;
	cudaStream_t stream;
	cu_blas *blas;
	gpt_cuda_acts a;
	long cap_rows;          /* the activations fit B*T <= cap_rows */
	int B, T;               /* the last forward's shape */
	int has_targets;        /* the last forward left dlogits for a backward */
	int *host_buckets;      /* pinned: embedding buckets before upload */
	int num_buckets;        /* distinct tokens in the last forward */
	cudaEvent_t buckets_sent; /* the last bucket upload finished */
	float *host_losses;     /* pinned: (cap_rows) */
	cudaEvent_t *stage_done;  /* (n_layer + 2) recorded on the stream as the
				     backward completes each of model/grad_stages.h's
				     stages: what a gradient all-reduce may wait for */
} gpt_cuda;

/* Allocate the device model for HOST (config, tensor table) on the current
 * device and upload HOST's weights. Gradients start at zero. */
int gpt_cuda_open(gpt_cuda *g, const gpt_model *host);
void gpt_cuda_close(gpt_cuda *g);

/* The fp32 master weights from / to host memory (n floats, the flat
 * layout); the upload refreshes the bf16 copy. Synchronous. */
int gpt_cuda_upload(gpt_cuda *g, const float *params);
int gpt_cuda_download(gpt_cuda *g, float *params);
/* Round the master weights into the bf16 copy (after an optimizer step). */
int gpt_cuda_refresh_bf16(gpt_cuda *g);

/* Forward (B, T). With targets, *loss gets the mean loss (a host sync), and
 * grad_scale != 0 leaves the logits' gradient (grad_scale * (softmax -
 * onehot)) for gpt_cuda_backward; grad_scale is d(objective)/d(one
 * position's loss): dloss / (B*T). Without targets, logits only. */
int gpt_cuda_forward(gpt_cuda *g, const int *inputs, const int *targets, int B, int T,
		     float grad_scale, float *loss);
int gpt_cuda_zero_grad(gpt_cuda *g);
/* Backward of the last forward (with targets and grad_scale != 0),
 * ACCUMULATING into g->grads; stage_done[s] marks, on the stream, the end
 * of grad stage s (model/grad_stages.h). */
int gpt_cuda_backward(gpt_cuda *g);
/* The Vp logits of row R (0..B*T-1) of the last forward, as fp32 into host
 * memory OUT (a host sync). */
int gpt_cuda_logits_row(gpt_cuda *g, long r, float *out);
/* The B*T per-position losses of the last forward with targets into host
 * memory OUT (a host sync). */
int gpt_cuda_losses(gpt_cuda *g, float *out);

#endif
