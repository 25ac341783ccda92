/*
 * kernels.h — the CUDA kernels of the training step. Each is the twin of a
 * CPU op in share/model (cu_ + the CPU name, the same argument order and
 * shapes), with bf16 activations and weights, fp32 statistics, and fp32
 * parameter gradients. t/t7000-cuda-rows.sh, t7001-cuda-elementwise.sh and
 * t7002-cuda-attention.sh check every one against its CPU twin on random
 * inputs, with the normalized error thresholds they state.
 *
 * Conventions:
 *   - Every launcher is asynchronous on stream s; it returns 0, or -1 with
 *     an error (lm_fail) when the launch itself fails.
 *   - "+=" marks an output that ACCUMULATES (parameter gradients, the
 *     residual gradient); "=" one that is overwritten. Where the CPU twin
 *     accumulates into a buffer its caller zeroed, the kernel writes.
 *   - Deterministic: no floating-point atomics. Reductions across rows go
 *     through per-block partial sums in caller-given scratch, summed in a
 *     fixed order, so the same inputs give the same bits on the same GPU.
 *   - N = rows (B*T), C = channels, shapes row-major as in model/gpt.h.
 */
#ifndef LMPIPE_CUDA_KERNELS_H
#define LMPIPE_CUDA_KERNELS_H

#include "model/cuda/bf16.h"

#include <cuda_runtime_api.h>
#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- embedding.cu --------------------------------------------------------- */

/* out (B,T,C) = wte[tokens] + wpe[t] (wpe NULL: no positions). */
int cu_embedding_forward(bf16 *out, const int *tokens, const bf16 *wte, const bf16 *wpe,
			 int B, int T, int C, cudaStream_t s);

/* The positions of each distinct token, for a deterministic embedding
 * backward (host code, embedding_buckets.c): ids[u] the u-th distinct token
 * (ascending), its positions pos[starts[u] .. starts[u+1]) ascending.
 * tokens (n) < V; ids and pos hold n, starts n+1. Returns the number of
 * distinct tokens. */
int embedding_buckets(const int *tokens, int n, int *ids, int *starts, int *pos);

/* dwte[ids[u]] += sum over its positions of dout[pos] (fp32, in position
 * order); dwpe[t] += sum over b of dout[b, t] (dwpe NULL: none). ids,
 * starts, pos: embedding_buckets' output, on the device. */
int cu_embedding_backward(float *dwte, float *dwpe, const bf16 *dout, const int *ids,
			  const int *starts, const int *pos, int num_ids, int B, int T, int C,
			  cudaStream_t s);

/* ---- norm.cu ---------------------------------------------------------------- */

/* Floats of scratch a norm backward needs for N rows of C. */
size_t cu_norm_backward_scratch(int N, int C);

/* out = LayerNorm(inp) * weight + bias (bias NULL: none); mean, rstd (N). */
int cu_layernorm_forward(bf16 *out, float *mean, float *rstd, const bf16 *inp,
			 const bf16 *weight, const bf16 *bias, int N, int C, float eps,
			 cudaStream_t s);
/* dinp += d/dinp, dweight += , dbias += (NULL: none). */
int cu_layernorm_backward(bf16 *dinp, float *dweight, float *dbias, float *scratch,
			  const bf16 *dout, const bf16 *inp, const bf16 *weight,
			  const float *mean, const float *rstd, int N, int C, cudaStream_t s);

/* out = inp / rms(inp) * weight; rstd (N). */
int cu_rmsnorm_forward(bf16 *out, float *rstd, const bf16 *inp, const bf16 *weight,
		       int N, int C, float eps, cudaStream_t s);
/* dinp += , dweight += . */
int cu_rmsnorm_backward(bf16 *dinp, float *dweight, float *scratch, const bf16 *dout,
			const bf16 *inp, const bf16 *weight, const float *rstd, int N, int C,
			cudaStream_t s);

/* ---- elementwise.cu ------------------------------------------------------- */

/* out = fp32 in rounded to bf16 (the weights' bf16 copy). */
int cu_float_to_bf16(bf16 *out, const float *in, size_t n, cudaStream_t s);
/* out = in as fp32 (logits to the host). */
int cu_bf16_to_float(float *out, const bf16 *in, size_t n, cudaStream_t s);

/* GELU (tanh), SiLU, SwiGLU (out = silu(a) * b); backward "=". */
int cu_gelu_forward(bf16 *out, const bf16 *inp, long n, cudaStream_t s);
int cu_gelu_backward(bf16 *dinp, const bf16 *inp, const bf16 *dout, long n, cudaStream_t s);
int cu_silu_forward(bf16 *out, const bf16 *inp, long n, cudaStream_t s);
int cu_silu_backward(bf16 *dinp, const bf16 *inp, const bf16 *dout, long n, cudaStream_t s);
int cu_swiglu_forward(bf16 *out, const bf16 *a, const bf16 *b, long n, cudaStream_t s);
int cu_swiglu_backward(bf16 *da, bf16 *db, const bf16 *dout, const bf16 *a, const bf16 *b,
		       long n, cudaStream_t s);

/* ---- rope.cu ---------------------------------------------------------------- */

/* out (B,T,3C) = qkv with q and k rotated (v copied); cos_t, sin_t
 * (ctx, HS/2) fp32 as rope_table makes them. */
int cu_rope_forward(bf16 *out, const bf16 *qkv, const float *cos_t, const float *sin_t,
		    int B, int T, int C, int NH, cudaStream_t s);
/* dqkv = the inverse rotation of dout (v copied). */
int cu_rope_backward(bf16 *dqkv, const bf16 *dout, const float *cos_t, const float *sin_t,
		     int B, int T, int C, int NH, cudaStream_t s);

/* ---- crossentropy.cu ------------------------------------------------------ */

/* Softmax cross-entropy fused with the head's backward, one row of logits
 * (N, Vp) at a time (the first V count): losses[i] = logsumexp - logit of
 * the target. With grad_scale != 0 the row is overwritten with its gradient
 * grad_scale * (softmax - onehot), zero on the padded columns; with 0 the
 * logits are left alone (evaluation). */
int cu_crossentropy_fused(float *losses, bf16 *logits, const int *targets, int N, int V,
			  int Vp, float grad_scale, cudaStream_t s);

/* ---- optim.cu ----------------------------------------------------------------- */

/* Runs of the flat parameter array with one weight-decay setting (adjacent
 * tensors with the same flag merged): run i covers [end[i-1], end[i]). */
#define CU_ADAMW_MAX_RUNS 64
typedef struct {
	int count;
	size_t end[CU_ADAMW_MAX_RUNS];
	unsigned char decay[CU_ADAMW_MAX_RUNS];
} cu_decay_runs;

/* AdamW over all n parameters at once, optim/adamw.c's formula, step t
 * (1-based): g = grads[i] * grad_scale (clipping; 1 for none), then the
 * update of params (fp32 master) and m, v; params_bf16 gets the rounded
 * result. */
int cu_adamw(float *params, bf16 *params_bf16, const float *grads, float *m, float *v,
	     size_t n, const cu_decay_runs *runs, float lr, float beta1, float beta2,
	     float eps, float weight_decay, long t, float grad_scale, cudaStream_t s);

/* Doubles of scratch cu_sum_squares needs. */
size_t cu_sum_squares_scratch(void);
/* *out (device) = sum of x[i]^2 in double, in a fixed order. */
int cu_sum_squares(double *out, const float *x, size_t n, double *scratch, cudaStream_t s);

/* Floats of scratch cu_bias_backward needs. */
size_t cu_bias_backward_scratch(int N, int OC);
/* dbias (OC) += column sums of dout (N, OC). */
int cu_bias_backward(float *dbias, const bf16 *dout, float *scratch, int N, int OC,
		     cudaStream_t s);

/* The runs of spans (optim/adamw.h, n of them, ascending and contiguous
 * from offset 0), adjacent spans with the same decay flag merged (host code,
 * decay_runs.c). -1 with an error when the spans leave a gap or overlap, or
 * need more than CU_ADAMW_MAX_RUNS runs. */
struct adamw_span;
int cu_decay_runs_from_spans(cu_decay_runs *r, const struct adamw_span *spans, int n);

/* ---- attention.cu: flash attention, causal ------------------------------- */

/* Head sizes the kernels are built for (32, 64, 128). */
bool cu_attention_supports(int HS);
/* out (B,T,C) = causal softmax(q k^T / sqrt(HS)) v per head, from qkv
 * (B,T,3C) laid out as q | k | v, head h at columns h*HS; lse (B,NH,T) the
 * softmax's log-sum-exp per query, kept for the backward. */
int cu_attention_forward(bf16 *out, float *lse, const bf16 *qkv, int B, int T, int C, int NH,
			 cudaStream_t s);
/* dqkv (B,T,3C) "=" from dout (B,T,C); out and lse from the forward;
 * scratch: B*NH*T floats. Deterministic (no atomics). */
int cu_attention_backward(bf16 *dqkv, float *scratch, const bf16 *dout, const bf16 *qkv,
			  const bf16 *out, const float *lse, int B, int T, int C, int NH,
			  cudaStream_t s);

/* ---- matmul.cu: cuBLASLt -------------------------------------------------- */

typedef struct cu_blas cu_blas;  /* a cuBLASLt handle and its workspace */
cu_blas *cu_blas_open(cudaStream_t s);
void cu_blas_close(cu_blas *h);

/* out (N, OC) = inp (N, IC) weight^T + bias + resid; weight (OC, IC) as
 * nn.Linear; bias, resid NULL: none. The residual (N, OC; may be out
 * itself) joins the fp32 sum before its one rounding to bf16: the CPU's
 * matmul_forward followed by gpt.c's residual_add, fused. */
int cu_matmul_forward(cu_blas *h, bf16 *out, const bf16 *inp, const bf16 *weight,
		      const bf16 *bias, const bf16 *resid, int N, int IC, int OC);
/* dinp = (or += with accumulate) dout weight; dweight += dout^T inp (fp32);
 * dbias += column sums of dout (NULL: none), through bias_scratch
 * (cu_bias_backward_scratch floats). */
int cu_matmul_backward(cu_blas *h, bf16 *dinp, float *dweight, float *dbias,
		       float *bias_scratch, const bf16 *dout, const bf16 *inp,
		       const bf16 *weight, int N, int IC, int OC, bool accumulate);

/* ---- device.c ---------------------------------------------------------------- */

/* 0 when this process sees a CUDA GPU; -1 with "WHO: no CUDA GPU found
 * (...)" otherwise. */
int cu_device_check(const char *who);
/* -1 with "what: cudaError text" when e is an error; 0 otherwise. */
int cu_check(cudaError_t e, const char *what);
/* -1 with an error when the last launch failed. */
int cu_check_launch(const char *kernel);

#ifdef __cplusplus
}
#endif

#endif
