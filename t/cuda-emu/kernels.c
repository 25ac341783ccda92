/*
 * kernels.c — share/model/cuda/kernels.h on the host, for the CUDA
 * emulation (make CUDA=emu): a test double that checks the wiring of the
 * GPU model (gpt_cuda.c, device_model_cuda.c, the tools' --device cuda), not the
 * kernels, which t7000-t7002 check against the same twins on a GPU.
 *
 * Each kernel runs its CPU twin from share/model (and optim/adamw.c) on
 * fp32 copies of its bf16 arguments and rounds every bf16 output to bf16,
 * once, as the GPU does; fp32 arguments are used in place. kernels.h's
 * contract is kept exactly: "+=" outputs start from their contents, "="
 * outputs from zero where the twin accumulates.
 *
 * Stricter than a GPU where that finds wiring bugs sooner: every pointer
 * must lie, whole, in one cudaMalloc allocation (runtime.c); an output may
 * not overlap another argument (elementwise kernels may work in place, and
 * the matmul's residual may be its output, as kernels.h allows); scratch is
 * filled with NaN on every call, so scratch that overlaps live data shows;
 * the embedding's buckets must cover every position once; and the
 * attention backward, which recomputes the probabilities from qkv (the
 * twin keeps them, the flash kernel does not), first checks that the out
 * and lse it is given are the forward's for that qkv.
 *
 * Each launcher (cu_x) queues its runner (run_cu_x) on its stream with a
 * copy of its arguments (the LAUNCH wrappers at the end), and the runner
 * runs when the stream is forced (runtime.c), in the order the scheduler
 * picks: a kernel whose inputs another stream writes sees them only if the
 * stream waited for it. A failed check is then a failed launch: the error
 * sticks, and the next synchronization returns it with the reason.
 */
#include "model/cuda/kernels.h"
#include "emu.h"
#include "model/attention.h"
#include "model/crossentropy.h"
#include "model/embedding.h"
#include "model/gelu.h"
#include "model/layernorm.h"
#include "model/matmul.h"
#include "model/rmsnorm.h"
#include "model/rope.h"
#include "model/swiglu.h"
#include "optim/adamw.h"
#include "util/error.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- one call: its arguments checked, converted, written back ------------------- */

enum { IN = 1, OUT = 2, IO = 3, OPT = 4 };  /* IO: read and written ("+=") */
#define MAX_ARGS 16

typedef struct { const char *p; size_t bytes; int mode; const char *name; } arg_t;
typedef struct { bf16 *dst; const float *src; size_t n; } back_t;  /* a bf16 output */

static struct {
	const char *who;
	int bad;      /* a check failed: the call returns -1 */
	int inplace;  /* an output may be exactly one of the inputs */
	arg_t arg[MAX_ARGS];
	back_t back[MAX_ARGS];
	void *tmp[2 * MAX_ARGS];
	int nargs, nback, ntmp;
} call;

/* WHO: the runner's __func__, "run_" and the launcher's name. */
static void begin(const char *who, int inplace)
{
	memset(&call, 0, sizeof call);
	call.who = who + (strncmp(who, "run_", 4) ? 0 : 4);
	call.inplace = inplace;
}

__attribute__((format(printf, 1, 2)))
static void bad(const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (!call.bad)
		lm_fail("%s (CUDA emulation): %s", call.who, msg);
	call.bad = 1;
}

/* Zeroed host memory, freed by done(). */
static void *tmp_bytes(size_t bytes)
{
	void *p = calloc(bytes ? bytes : 1, 1);
	if (!p || call.ntmp == 2 * MAX_ARGS) {
		fprintf(stderr, "cuda-emu: %s: out of memory or temporaries\n", call.who);
		abort();
	}
	call.tmp[call.ntmp++] = p;
	return p;
}

static float *tmp(size_t n) { return tmp_bytes(n * sizeof(float)); }

/* Argument NAME, BYTES at p: on the device, whole. Returns p, or (after a
 * failed check) zeroed host memory, so the call runs to its end harmlessly;
 * NULL for an OPT argument left out. */
static void *dev(const void *p, size_t bytes, int mode, const char *name)
{
	if (!p && (mode & OPT))
		return NULL;
	if (!p && bytes == 0)
		return tmp_bytes(0);
	if (!emu_on_device(p, bytes)) {
		bad("%s (%zu bytes at %p) is not this device's memory, or runs past its allocation",
		    name, bytes, p);
		return tmp_bytes(bytes);
	}
	if (call.nargs < MAX_ARGS)
		call.arg[call.nargs++] = (arg_t){p, bytes, mode & IO, name};
	return (void *)p;
}

/* A bf16 argument of n values as fp32 (zeros for an OUT one); OUT and IO
 * ones are rounded back by done(). */
static float *bf(const bf16 *p, size_t n, int mode, const char *name)
{
	const bf16 *d = dev(p, n * sizeof(bf16), mode, name);
	if (!d)
		return NULL;
	float *x = tmp(n);
	if (mode & IN)
		for (size_t i = 0; i < n; i++)
			x[i] = bf16_to_float(d[i]);
	if (mode & OUT)
		call.back[call.nback++] = (back_t){(bf16 *)d, x, n};
	return x;
}

static float *f32(const float *p, size_t n, int mode, const char *name)
{
	return dev(p, n * sizeof(float), mode, name);
}

static const int *i32(const int *p, size_t n, const char *name)
{
	return dev(p, n * sizeof(int), IN, name);
}

/* Scratch of the size kernels.h's *_scratch() gives: NaN, every call. */
static void scratch(void *p, size_t bytes, const char *name)
{
	void *s = dev(p, bytes, OUT, name);
	memset(s, 0xff, bytes);
}

static int overlap(int i, int j)
{
	const char *a = call.arg[i].p, *b = call.arg[j].p;
	return a < b + call.arg[j].bytes && b < a + call.arg[i].bytes;
}

/* The end of every launcher: the overlap check, the bf16 outputs rounded
 * back (unless a check failed), the temporaries freed; 0 or -1. */
static int done(void)
{
	for (int i = 0; i < call.nargs; i++)
		for (int j = i + 1; j < call.nargs; j++) {
			int outs = (call.arg[i].mode & OUT) || (call.arg[j].mode & OUT);
			int same = call.arg[i].p == call.arg[j].p &&
				   call.arg[i].bytes == call.arg[j].bytes;
			if (outs && overlap(i, j) && !(call.inplace && same))
				bad("%s and %s overlap", call.arg[i].name, call.arg[j].name);
		}
	for (int k = 0; !call.bad && k < call.nback; k++)
		for (size_t i = 0; i < call.back[k].n; i++)
			call.back[k].dst[i] = bf16_from_float(call.back[k].src[i]);
	for (int k = 0; k < call.ntmp; k++)
		free(call.tmp[k]);
	int rc = call.bad ? -1 : 0;
	memset(&call, 0, sizeof call);
	return rc;
}

/* ---- embedding ------------------------------------------------------------------ */

static int run_cu_embedding_forward(bf16 *out, const int *tokens, const bf16 *wte, const bf16 *wpe,
			 int B, int T, int C, cudaStream_t s)
{
	begin(__func__, 0);
	size_t BT = (size_t)B * T;
	const int *tok = i32(tokens, BT, "tokens");
	int V = 0;  /* the rows of wte read: up to the largest token */
	for (size_t i = 0; i < BT; i++) {
		if (tok[i] < 0)
			bad("token %d at position %zu", tok[i], i);
		else if (tok[i] >= V)
			V = tok[i] + 1;
	}
	if (call.bad)
		return done();
	embedding_forward(bf(out, BT * C, OUT, "out"), tok, bf(wte, (size_t)V * C, IN, "wte"),
			  bf(wpe, (size_t)T * C, IN | OPT, "wpe"), B, T, C);
	return done();
}

static int run_cu_embedding_backward(float *dwte, float *dwpe, const bf16 *dout, const int *ids,
			  const int *starts, const int *pos, int num_ids, int B, int T, int C,
			  cudaStream_t s)
{
	begin(__func__, 0);
	int BT = B * T, V = 0;
	const int *id = i32(ids, (size_t)num_ids, "ids");
	const int *st = i32(starts, (size_t)num_ids + 1, "starts"), *ps = i32(pos, BT, "pos");
	int *tok = tmp_bytes((size_t)BT * sizeof *tok);  /* the tokens, back from the buckets */
	for (int i = 0; i < BT; i++)
		tok[i] = -1;
	int ok = num_ids >= 0 && st[0] == 0 && st[num_ids] == BT;
	for (int u = 0; ok && u < num_ids; u++) {
		ok = id[u] >= V && st[u] <= st[u + 1];
		V = id[u] + 1;
		for (int p = st[u]; ok && p < st[u + 1]; p++) {
			ok = ps[p] >= 0 && ps[p] < BT && tok[ps[p]] < 0;
			if (ok)
				tok[ps[p]] = id[u];
		}
	}
	if (!ok) {
		bad("the buckets are not each of the %d positions once, by ascending token", BT);
		return done();
	}
	embedding_backward(f32(dwte, (size_t)V * C, IO, "dwte"),
			   f32(dwpe, (size_t)T * C, IO | OPT, "dwpe"),
			   bf(dout, (size_t)BT * C, IN, "dout"), tok, B, T, C);
	return done();
}

/* ---- LayerNorm and RMSNorm --------------------------------------------------------- */

#define NORM_ROWS_PER_BLOCK 128  /* the scratch: fp32 partials a block of rows */

size_t cu_norm_backward_scratch(int N, int C)
{
	if (N <= 0 || C <= 0)
		return 0;
	return (size_t)((N + NORM_ROWS_PER_BLOCK - 1) / NORM_ROWS_PER_BLOCK) * 2 * C;
}

static int run_cu_layernorm_forward(bf16 *out, float *mean, float *rstd, const bf16 *inp,
			 const bf16 *weight, const bf16 *bias, int N, int C, float eps,
			 cudaStream_t s)
{
	begin(__func__, 0);
	size_t NC = (size_t)N * C;
	layernorm_forward(bf(out, NC, OUT, "out"), f32(mean, N, OUT, "mean"),
			  f32(rstd, N, OUT, "rstd"), bf(inp, NC, IN, "inp"),
			  bf(weight, C, IN, "weight"), bf(bias, C, IN | OPT, "bias"), N, C, eps);
	return done();
}

static int run_cu_layernorm_backward(bf16 *dinp, float *dweight, float *dbias, float *scr,
			  const bf16 *dout, const bf16 *inp, const bf16 *weight,
			  const float *mean, const float *rstd, int N, int C, cudaStream_t s)
{
	begin(__func__, 0);
	size_t NC = (size_t)N * C;
	scratch(scr, cu_norm_backward_scratch(N, C) * sizeof(float), "scratch");
	layernorm_backward(bf(dinp, NC, IO, "dinp"), f32(dweight, C, IO, "dweight"),
			   f32(dbias, C, IO | OPT, "dbias"), bf(dout, NC, IN, "dout"),
			   bf(inp, NC, IN, "inp"), bf(weight, C, IN, "weight"),
			   f32(mean, N, IN, "mean"), f32(rstd, N, IN, "rstd"), N, C);
	return done();
}

static int run_cu_rmsnorm_forward(bf16 *out, float *rstd, const bf16 *inp, const bf16 *weight,
		       int N, int C, float eps, cudaStream_t s)
{
	begin(__func__, 0);
	size_t NC = (size_t)N * C;
	rmsnorm_forward(bf(out, NC, OUT, "out"), f32(rstd, N, OUT, "rstd"), bf(inp, NC, IN, "inp"),
			bf(weight, C, IN, "weight"), N, C, eps);
	return done();
}

static int run_cu_rmsnorm_backward(bf16 *dinp, float *dweight, float *scr, const bf16 *dout,
			const bf16 *inp, const bf16 *weight, const float *rstd, int N, int C,
			cudaStream_t s)
{
	begin(__func__, 0);
	size_t NC = (size_t)N * C;
	scratch(scr, cu_norm_backward_scratch(N, C) * sizeof(float), "scratch");
	rmsnorm_backward(bf(dinp, NC, IO, "dinp"), f32(dweight, C, IO, "dweight"),
			 bf(dout, NC, IN, "dout"), bf(inp, NC, IN, "inp"),
			 bf(weight, C, IN, "weight"), f32(rstd, N, IN, "rstd"), N, C);
	return done();
}

/* ---- elementwise: the backwards "=", so their twins accumulate into zeros ----------- */

static int run_cu_float_to_bf16(bf16 *out, const float *in, size_t n, cudaStream_t s)
{
	begin(__func__, 0);
	float *y = bf(out, n, OUT, "out");
	memcpy(y, f32(in, n, IN, "in"), n * sizeof *y);  /* done() rounds */
	return done();
}

static int run_cu_bf16_to_float(float *out, const bf16 *in, size_t n, cudaStream_t s)
{
	begin(__func__, 0);
	memcpy(f32(out, n, OUT, "out"), bf(in, n, IN, "in"), n * sizeof *out);
	return done();
}

static int run_cu_gelu_forward(bf16 *out, const bf16 *inp, long n, cudaStream_t s)
{
	begin(__func__, 1);
	gelu_forward(bf(out, n, OUT, "out"), bf(inp, n, IN, "inp"), n);
	return done();
}

static int run_cu_gelu_backward(bf16 *dinp, const bf16 *inp, const bf16 *dout, long n,
				cudaStream_t s)
{
	begin(__func__, 1);
	gelu_backward(bf(dinp, n, OUT, "dinp"), bf(inp, n, IN, "inp"), bf(dout, n, IN, "dout"), n);
	return done();
}

static int run_cu_silu_forward(bf16 *out, const bf16 *inp, long n, cudaStream_t s)
{
	begin(__func__, 1);
	silu_forward(bf(out, n, OUT, "out"), bf(inp, n, IN, "inp"), n);
	return done();
}

static int run_cu_silu_backward(bf16 *dinp, const bf16 *inp, const bf16 *dout, long n,
				cudaStream_t s)
{
	begin(__func__, 1);
	silu_backward(bf(dinp, n, OUT, "dinp"), bf(inp, n, IN, "inp"), bf(dout, n, IN, "dout"), n);
	return done();
}

static int run_cu_swiglu_forward(bf16 *out, const bf16 *a, const bf16 *b, long n, cudaStream_t s)
{
	begin(__func__, 1);
	swiglu_forward(bf(out, n, OUT, "out"), bf(a, n, IN, "a"), bf(b, n, IN, "b"), n);
	return done();
}

static int run_cu_swiglu_backward(bf16 *da, bf16 *db, const bf16 *dout, const bf16 *a,
				  const bf16 *b,
		       long n, cudaStream_t s)
{
	begin(__func__, 1);
	swiglu_backward(bf(da, n, OUT, "da"), bf(db, n, OUT, "db"), bf(dout, n, IN, "dout"),
			bf(a, n, IN, "a"), bf(b, n, IN, "b"), n);
	return done();
}

/* ---- RoPE ------------------------------------------------------------------------- */

static int run_cu_rope_forward(bf16 *out, const bf16 *qkv, const float *cos_t, const float *sin_t,
		    int B, int T, int C, int NH, cudaStream_t s)
{
	begin(__func__, 0);
	size_t n = (size_t)B * T * 3 * C, tab = (size_t)T * (C / NH / 2);
	rope_forward(bf(out, n, OUT, "out"), bf(qkv, n, IN, "qkv"), f32(cos_t, tab, IN, "cos"),
		     f32(sin_t, tab, IN, "sin"), B, T, C, NH);
	return done();
}

static int run_cu_rope_backward(bf16 *dqkv, const bf16 *dout, const float *cos_t,
				const float *sin_t,
		     int B, int T, int C, int NH, cudaStream_t s)
{
	begin(__func__, 0);
	size_t n = (size_t)B * T * 3 * C, tab = (size_t)T * (C / NH / 2);
	rope_backward(bf(dqkv, n, OUT, "dqkv"), bf(dout, n, IN, "dout"),
		      f32(cos_t, tab, IN, "cos"), f32(sin_t, tab, IN, "sin"), B, T, C, NH);
	return done();
}

/* ---- cross-entropy -------------------------------------------------------------------- */

static int run_cu_crossentropy_fused(float *losses, bf16 *logits, const int *targets, int N, int V,
			  int Vp, float grad_scale, cudaStream_t s)
{
	begin(__func__, 0);
	const int *tg = i32(targets, N, "targets");
	for (int i = 0; i < N && !call.bad; i++)
		if (tg[i] < 0 || tg[i] >= V)
			bad("target %d of row %d is outside [0, %d)", tg[i], i, V);
	if (call.bad)
		return done();
	float *z = bf(logits, (size_t)N * Vp, grad_scale != 0.0f ? IO : IN, "logits");
	float *lse = tmp(N);
	crossentropy_forward(f32(losses, N, OUT, "losses"), lse, z, tg, N, V, Vp);
	if (grad_scale != 0.0f)
		crossentropy_backward(z, lse, tg, N, V, Vp, grad_scale);
	return done();
}

/* ---- the optimizer and the reductions ------------------------------------------------ */

static int run_cu_adamw(float *params, bf16 *params_bf16, const float *grads, float *m, float *v,
	     size_t n, const cu_decay_runs *runs, float lr, float beta1, float beta2,
	     float eps, float weight_decay, long t, float grad_scale, cudaStream_t s)
{
	begin(__func__, 0);
	if (n == 0)
		return done();
	int ok = runs->count >= 1 && runs->count <= CU_ADAMW_MAX_RUNS &&
		 runs->end[runs->count - 1] == n;
	for (int i = 1; ok && i < runs->count; i++)
		ok = runs->end[i] > runs->end[i - 1];
	if (!ok) {
		bad("the %d decay runs do not cover the %zu parameters in order", runs->count, n);
		return done();
	}
	unsigned char *decay = tmp_bytes(n);
	for (int r = 0; r < runs->count; r++)
		memset(decay + (r ? runs->end[r - 1] : 0), runs->decay[r],
		       runs->end[r] - (r ? runs->end[r - 1] : 0));
	const float *g = f32(grads, n, IN, "grads");
	float *gs = tmp(n), *p = f32(params, n, IO, "params");
	for (size_t i = 0; i < n; i++)
		gs[i] = g[i] * grad_scale;
	adamw o = {.hp = {beta1, beta2, eps, weight_decay}, .n = n, .m = f32(m, n, IO, "m"),
		   .v = f32(v, n, IO, "v"), .decay = decay, .step = t - 1};
	adamw_step(&o, p, gs, lr);
	float *pb = bf(params_bf16, n, OUT | OPT, "params_bf16");
	if (pb)
		memcpy(pb, p, n * sizeof *pb);  /* done() rounds */
	return done();
}

#define SUMSQ_PARTIALS 1024  /* the scratch: doubles of fixed partial sums */
#define BIAS_ROWS_PER_CHUNK 128
#define BIAS_MAX_CHUNKS 1024   /* the scratch: fp32 partials a chunk of rows */

size_t cu_sum_squares_scratch(void) { return SUMSQ_PARTIALS; }

static int run_cu_sum_squares(double *out, const float *x, size_t n, double *scr, cudaStream_t s)
{
	begin(__func__, 0);
	scratch(scr, SUMSQ_PARTIALS * sizeof(double), "scratch");
	const float *v = f32(x, n, IN, "x");
	double *sum = dev(out, sizeof *out, OUT, "out"), total = 0.0;
	for (size_t i = 0; i < n; i++)  /* grad_norm's sum, before its sqrt */
		total += (double)v[i] * v[i];
	*sum = total;
	return done();
}

size_t cu_bias_backward_scratch(int N, int OC)
{
	size_t chunks = ((size_t)(N > 0 ? N : 1) + BIAS_ROWS_PER_CHUNK - 1) / BIAS_ROWS_PER_CHUNK;
	return (chunks < BIAS_MAX_CHUNKS ? chunks : BIAS_MAX_CHUNKS) * (size_t)(OC > 0 ? OC : 0);
}

/* matmul_backward's column sums (the twin has them only with dweight). */
static void bias_sums(float *dbias, const float *dout, int N, int OC)
{
	for (int o = 0; o < OC; o++) {
		float sum = 0.0f;
		for (int i = 0; i < N; i++)
			sum += dout[(size_t)i * OC + o];
		dbias[o] += sum;
	}
}

static int run_cu_bias_backward(float *dbias, const bf16 *dout, float *scr, int N, int OC,
				cudaStream_t s)
{
	begin(__func__, 0);
	if (N <= 0 || OC <= 0)
		return done();
	scratch(scr, cu_bias_backward_scratch(N, OC) * sizeof(float), "scratch");
	bias_sums(f32(dbias, OC, IO, "dbias"), bf(dout, (size_t)N * OC, IN, "dout"), N, OC);
	return done();
}

/* ---- attention ------------------------------------------------------------------------ */

bool cu_attention_supports(int HS) { return HS == 32 || HS == 64 || HS == 128; }

/* The shape and alignment attention.cu asks for. */
static void attention_args_ok(int C, int NH, const void *a, const void *b)
{
	if (NH <= 0 || C % NH != 0 || !cu_attention_supports(C / NH))
		bad("no kernel for C = %d over %d heads (head sizes 32, 64, 128)", C, NH);
	if ((uintptr_t)a % 16 || (uintptr_t)b % 16)
		bad("the bf16 tensors must be 16-byte aligned");
}

/* lse (B, NH, T): log sum_{t2 <= t} exp(q_t . k_t2 / sqrt(HS)), in double. */
static void attention_lse(float *lse, const float *qkv, int B, int T, int C, int NH)
{
	int HS = C / NH;
	double scale = 1.0 / sqrt((double)HS), *sc = (double *)tmp_bytes((size_t)T * sizeof *sc);
	for (int b = 0; b < B; b++)
		for (int h = 0; h < NH; h++)
			for (int t = 0; t < T; t++) {
				const float *q = qkv + ((size_t)b * T + t) * 3 * C + h * HS;
				double mx = -INFINITY, sum = 0.0;
				for (int t2 = 0; t2 <= t; t2++) {
					const float *k = qkv + ((size_t)b * T + t2) * 3 * C + C + h * HS;
					double d = 0.0;
					for (int i = 0; i < HS; i++)
						d += (double)q[i] * k[i];
					sc[t2] = d * scale;
					mx = fmax(mx, sc[t2]);
				}
				for (int t2 = 0; t2 <= t; t2++)
					sum += exp(sc[t2] - mx);
				lse[((size_t)b * NH + h) * T + t] = (float)(mx + log(sum));
			}
}

/* The largest |got - want| (want rounded to bf16 first when round). */
static double max_diff(const float *got, const float *want, size_t n, int round)
{
	double worst = 0.0;
	for (size_t i = 0; i < n; i++) {
		double d = fabs((double)got[i] - (round ? bf16_round(want[i]) : want[i]));
		worst = d > worst || isnan(d) ? d : worst;
	}
	return worst;
}

static int run_cu_attention_forward(bf16 *out, float *lse, const bf16 *qkv, int B, int T, int C,
				    int NH,
			 cudaStream_t s)
{
	begin(__func__, 0);
	attention_args_ok(C, NH, out, qkv);
	if (call.bad)
		return done();
	size_t BT = (size_t)B * T;
	float *x = bf(qkv, BT * 3 * C, IN, "qkv"), *att = tmp((size_t)B * NH * T * T);
	attention_forward(bf(out, BT * C, OUT, "out"), att, x, B, T, C, NH);
	attention_lse(f32(lse, (size_t)B * NH * T, OUT, "lse"), x, B, T, C, NH);
	return done();
}

/* out and lse must be the forward's of this qkv: the flash backward reads
 * them instead of the probabilities the twin keeps. Here the forward is
 * the same twin on the same bits, so they match to the last bit; the slack
 * is fp32 noise only. (Another layer's lse is close in norm: near log of
 * the keys' count at the first steps; the largest difference shows it.) */
#define FORWARD_MATCH 1e-5

static int run_cu_attention_backward(bf16 *dqkv, float *scr, const bf16 *dout, const bf16 *qkv,
			  const bf16 *out, const float *lse, int B, int T, int C, int NH,
			  cudaStream_t s)
{
	begin(__func__, 0);
	attention_args_ok(C, NH, dqkv, dout);
	attention_args_ok(C, NH, qkv, out);
	if (call.bad)
		return done();
	size_t BT = (size_t)B * T, nlse = (size_t)B * NH * T;
	scratch(scr, nlse * sizeof(float), "scratch");
	float *x = bf(qkv, BT * 3 * C, IN, "qkv"), *y = bf(out, BT * C, IN, "out");
	const float *l = f32(lse, nlse, IN, "lse");
	float *att = tmp(nlse * T), *y_again = tmp(BT * C), *l_again = tmp(nlse);
	attention_forward(y_again, att, x, B, T, C, NH);
	attention_lse(l_again, x, B, T, C, NH);
	double ey = max_diff(y, y_again, BT * C, 1), el = max_diff(l, l_again, nlse, 0);
	if (!(ey <= FORWARD_MATCH && el <= FORWARD_MATCH))
		bad("out and lse are not the forward's of this qkv (differ by up to %.2g, %.2g)",
		    ey, el);
	attention_backward(bf(dqkv, BT * 3 * C, OUT, "dqkv"), bf(dout, BT * C, IN, "dout"), x, att,
			   B, T, C, NH);
	return done();
}

/* ---- matmul ----------------------------------------------------------------------------- */

struct cu_blas { cudaStream_t stream; };

cu_blas *cu_blas_open(cudaStream_t s)
{
	cu_blas *h = calloc(1, sizeof *h);
	if (!h)
		return lm_fail("out of memory"), NULL;
	h->stream = s;
	return h;
}

void cu_blas_close(cu_blas *h) { free(h); }

static int run_cu_matmul_forward(cu_blas *h, bf16 *out, const bf16 *inp, const bf16 *weight,
		      const bf16 *bias, const bf16 *resid, int N, int IC, int OC)
{
	begin(__func__, 0);
	if (!h)
		bad("no cuBLASLt handle");
	size_t n = (size_t)N * OC;
	int own = resid == out;  /* out += the product: kernels.h allows it */
	float *y = bf(out, n, own ? IO : OUT, "out"), *prod = tmp(n);
	const float *r = own ? NULL : bf(resid, n, IN | OPT, "resid");
	matmul_forward(prod, bf(inp, (size_t)N * IC, IN, "inp"),
		       bf(weight, (size_t)OC * IC, IN, "weight"), bf(bias, OC, IN | OPT, "bias"),
		       N, IC, OC);
	for (size_t i = 0; i < n; i++)  /* the fp32 sum, rounded once by done() */
		y[i] = prod[i] + (own ? y[i] : r ? r[i] : 0.0f);
	return done();
}

static int run_cu_matmul_backward(cu_blas *h, bf16 *dinp, float *dweight, float *dbias,
		       float *bias_scratch, const bf16 *dout, const bf16 *inp,
		       const bf16 *weight, int N, int IC, int OC, bool accumulate)
{
	begin(__func__, 0);
	if (!h)
		bad("no cuBLASLt handle");
	size_t nin = (size_t)N * IC, nw = (size_t)OC * IC;
	if (dbias)
		scratch(bias_scratch, cu_bias_backward_scratch(N, OC) * sizeof(float),
			"bias_scratch");
	float *dx = bf(dinp, nin, (accumulate ? IO : OUT) | OPT, "dinp");
	float *dw = dweight ? f32(dweight, nw, IO, "dweight") : tmp(nw);  /* the twin needs one */
	float *db = f32(dbias, OC, IO | OPT, "dbias");
	matmul_backward(dx, dw, db, bf(dout, (size_t)N * OC, IN, "dout"),
			dweight ? bf(inp, nin, IN, "inp") : tmp(nin), bf(weight, nw, IN, "weight"),
			N, IC, OC);
	return done();
}

/* ---- the launchers: each queues its runner with a copy of its arguments ------------ */

/* MAP(M, SEP, (type, name), ...): M(type, name) for each pair, SEP() between. */
#define PAIR(M, p) M p
#define MAP1(M, S, x) PAIR(M, x)
#define MAP2(M, S, x, ...) PAIR(M, x) S() MAP1(M, S, __VA_ARGS__)
#define MAP3(M, S, x, ...) PAIR(M, x) S() MAP2(M, S, __VA_ARGS__)
#define MAP4(M, S, x, ...) PAIR(M, x) S() MAP3(M, S, __VA_ARGS__)
#define MAP5(M, S, x, ...) PAIR(M, x) S() MAP4(M, S, __VA_ARGS__)
#define MAP6(M, S, x, ...) PAIR(M, x) S() MAP5(M, S, __VA_ARGS__)
#define MAP7(M, S, x, ...) PAIR(M, x) S() MAP6(M, S, __VA_ARGS__)
#define MAP8(M, S, x, ...) PAIR(M, x) S() MAP7(M, S, __VA_ARGS__)
#define MAP9(M, S, x, ...) PAIR(M, x) S() MAP8(M, S, __VA_ARGS__)
#define MAP10(M, S, x, ...) PAIR(M, x) S() MAP9(M, S, __VA_ARGS__)
#define MAP11(M, S, x, ...) PAIR(M, x) S() MAP10(M, S, __VA_ARGS__)
#define MAP12(M, S, x, ...) PAIR(M, x) S() MAP11(M, S, __VA_ARGS__)
#define MAP13(M, S, x, ...) PAIR(M, x) S() MAP12(M, S, __VA_ARGS__)
#define NTH(_1, _2, _3, _4, _5, _6, _7, _8, _9, _10, _11, _12, _13, N, ...) N
#define MAPN(...) NTH(__VA_ARGS__, MAP13, MAP12, MAP11, MAP10, MAP9, MAP8, MAP7, MAP6, MAP5, \
		      MAP4, MAP3, MAP2, MAP1, -)
#define MAP(M, S, ...) MAPN(__VA_ARGS__)(M, S, __VA_ARGS__)
#define COMMA() ,
#define NOTHING()
#define FIELD(t, n) t n;
#define PARAM(t, n) t n
#define NAME(t, n) n
#define FROM(t, n) k_->n

/* int NAME(the pairs): queues run_NAME on STREAM. */
#define LAUNCH(name, stream, ...) \
	struct name##_args { MAP(FIELD, NOTHING, __VA_ARGS__) }; \
	static int name##_step(void *p, int must) \
	{ \
		struct name##_args *k_ = p; \
		return run_##name(MAP(FROM, COMMA, __VA_ARGS__)) ? EMU_FAIL : EMU_DONE; \
	} \
	int name(MAP(PARAM, COMMA, __VA_ARGS__)) \
	{ \
		struct name##_args k_ = {MAP(NAME, COMMA, __VA_ARGS__)}; \
		return emu_launch(stream, #name, name##_step, &k_, sizeof k_); \
	}

LAUNCH(cu_embedding_forward, s, (bf16 *, out), (const int *, tokens), (const bf16 *, wte),
       (const bf16 *, wpe), (int, B), (int, T), (int, C), (cudaStream_t, s))
LAUNCH(cu_embedding_backward, s, (float *, dwte), (float *, dwpe), (const bf16 *, dout),
       (const int *, ids), (const int *, starts), (const int *, pos), (int, num_ids), (int, B),
       (int, T), (int, C), (cudaStream_t, s))
LAUNCH(cu_layernorm_forward, s, (bf16 *, out), (float *, mean), (float *, rstd),
       (const bf16 *, inp), (const bf16 *, weight), (const bf16 *, bias), (int, N), (int, C),
       (float, eps), (cudaStream_t, s))
LAUNCH(cu_layernorm_backward, s, (bf16 *, dinp), (float *, dweight), (float *, dbias),
       (float *, scr), (const bf16 *, dout), (const bf16 *, inp), (const bf16 *, weight),
       (const float *, mean), (const float *, rstd), (int, N), (int, C), (cudaStream_t, s))
LAUNCH(cu_rmsnorm_forward, s, (bf16 *, out), (float *, rstd), (const bf16 *, inp),
       (const bf16 *, weight), (int, N), (int, C), (float, eps), (cudaStream_t, s))
LAUNCH(cu_rmsnorm_backward, s, (bf16 *, dinp), (float *, dweight), (float *, scr),
       (const bf16 *, dout), (const bf16 *, inp), (const bf16 *, weight), (const float *, rstd),
       (int, N), (int, C), (cudaStream_t, s))
LAUNCH(cu_float_to_bf16, s, (bf16 *, out), (const float *, in), (size_t, n), (cudaStream_t, s))
LAUNCH(cu_bf16_to_float, s, (float *, out), (const bf16 *, in), (size_t, n), (cudaStream_t, s))
LAUNCH(cu_gelu_forward, s, (bf16 *, out), (const bf16 *, inp), (long, n), (cudaStream_t, s))
LAUNCH(cu_gelu_backward, s, (bf16 *, dinp), (const bf16 *, inp), (const bf16 *, dout),
       (long, n), (cudaStream_t, s))
LAUNCH(cu_silu_forward, s, (bf16 *, out), (const bf16 *, inp), (long, n), (cudaStream_t, s))
LAUNCH(cu_silu_backward, s, (bf16 *, dinp), (const bf16 *, inp), (const bf16 *, dout),
       (long, n), (cudaStream_t, s))
LAUNCH(cu_swiglu_forward, s, (bf16 *, out), (const bf16 *, a), (const bf16 *, b), (long, n),
       (cudaStream_t, s))
LAUNCH(cu_swiglu_backward, s, (bf16 *, da), (bf16 *, db), (const bf16 *, dout),
       (const bf16 *, a), (const bf16 *, b), (long, n), (cudaStream_t, s))
LAUNCH(cu_rope_forward, s, (bf16 *, out), (const bf16 *, qkv), (const float *, cos_t),
       (const float *, sin_t), (int, B), (int, T), (int, C), (int, NH), (cudaStream_t, s))
LAUNCH(cu_rope_backward, s, (bf16 *, dqkv), (const bf16 *, dout), (const float *, cos_t),
       (const float *, sin_t), (int, B), (int, T), (int, C), (int, NH), (cudaStream_t, s))
LAUNCH(cu_crossentropy_fused, s, (float *, losses), (bf16 *, logits), (const int *, targets),
       (int, N), (int, V), (int, Vp), (float, grad_scale), (cudaStream_t, s))
LAUNCH(cu_sum_squares, s, (double *, out), (const float *, x), (size_t, n), (double *, scr),
       (cudaStream_t, s))
LAUNCH(cu_bias_backward, s, (float *, dbias), (const bf16 *, dout), (float *, scr), (int, N),
       (int, OC), (cudaStream_t, s))
LAUNCH(cu_attention_forward, s, (bf16 *, out), (float *, lse), (const bf16 *, qkv), (int, B),
       (int, T), (int, C), (int, NH), (cudaStream_t, s))
LAUNCH(cu_attention_backward, s, (bf16 *, dqkv), (float *, scr), (const bf16 *, dout),
       (const bf16 *, qkv), (const bf16 *, out), (const float *, lse), (int, B), (int, T),
       (int, C), (int, NH), (cudaStream_t, s))
LAUNCH(cu_matmul_forward, h ? h->stream : NULL, (cu_blas *, h), (bf16 *, out),
       (const bf16 *, inp), (const bf16 *, weight), (const bf16 *, bias), (const bf16 *, resid),
       (int, N), (int, IC), (int, OC))
LAUNCH(cu_matmul_backward, h ? h->stream : NULL, (cu_blas *, h), (bf16 *, dinp),
       (float *, dweight), (float *, dbias), (float *, bias_scratch), (const bf16 *, dout),
       (const bf16 *, inp), (const bf16 *, weight), (int, N), (int, IC), (int, OC),
       (bool, accumulate))

/* AdamW's decay runs go by value, as a kernel's parameters do. */
struct adamw_args {
	float *params, *m, *v;
	bf16 *params_bf16;
	const float *grads;
	size_t n;
	cu_decay_runs runs;
	float lr, beta1, beta2, eps, weight_decay, grad_scale;
	long t;
};

static int adamw_launch_step(void *p, int must)
{
	struct adamw_args *a = p;
	return run_cu_adamw(a->params, a->params_bf16, a->grads, a->m, a->v, a->n, &a->runs, a->lr,
			    a->beta1, a->beta2, a->eps, a->weight_decay, a->t, a->grad_scale,
			    NULL) ? EMU_FAIL : EMU_DONE;
}

int cu_adamw(float *params, bf16 *params_bf16, const float *grads, float *m, float *v,
	     size_t n, const cu_decay_runs *runs, float lr, float beta1, float beta2,
	     float eps, float weight_decay, long t, float grad_scale, cudaStream_t s)
{
	struct adamw_args a = {params, m, v, params_bf16, grads, n, *runs, lr, beta1, beta2, eps,
			       weight_decay, grad_scale, t};
	return emu_launch(s, "cu_adamw", adamw_launch_step, &a, sizeof a);
}
