/*
 * elementwise.cu — the elementwise kernels: fp32 <-> bf16 conversions, and
 * GELU (tanh), SiLU and SwiGLU with their backwards (the residual add rides
 * in the projections' GEMM, matmul.cu). CPU
 * twins: share/model/gelu.c and swiglu.c, with the same formulas and
 * constants; the backwards here overwrite ("=") where the twins accumulate.
 *
 * Every kernel is memory-bound: a grid-stride loop over packs of 8 bf16
 * (16-byte loads and stores) when every pointer is 16-byte aligned, then the
 * last n % 8 elements one at a time; unaligned pointers take the scalar loop
 * for all n. Math is fp32, rounded once to bf16 on the way out.
 */
#include "model/cuda/common.cuh"

#include <stdint.h>

#define EW_THREADS 256
#define EW_MAX_BLOCKS 65536  /* grid-stride beyond this */
#define PACK 8               /* bf16 a 16-byte pack */

/* ---- packs of 8 bf16 --------------------------------------------------- */

struct alignas(16) pack8 {
	__nv_bfloat162 h[PACK / 2];
};

static __device__ inline void pack_to_floats(float *f, pack8 p)
{
	for (int k = 0; k < PACK / 2; k++) {
		float2 v = __bfloat1622float2(p.h[k]);
		f[2 * k] = v.x;
		f[2 * k + 1] = v.y;
	}
}

static __device__ inline pack8 pack_from_floats(const float *f)
{
	pack8 p;
	for (int k = 0; k < PACK / 2; k++)
		p.h[k] = __floats2bfloat162_rn(f[2 * k], f[2 * k + 1]);
	return p;
}

static __device__ inline void load8(float *f, const bf16_t *x, long pack)
{
	pack_to_floats(f, reinterpret_cast<const pack8 *>(x)[pack]);
}

static __device__ inline void store8(bf16_t *x, long pack, const float *f)
{
	reinterpret_cast<pack8 *>(x)[pack] = pack_from_floats(f);
}

static bool aligned16(const void *p) { return ((uintptr_t)p & 15) == 0; }

/* Packs the vector loop takes: all of n / 8 when every pointer is aligned. */
static long vector_packs(long n, const void *p0, const void *p1, const void *p2,
			 const void *p3, const void *p4)
{
	bool ok = aligned16(p0) && aligned16(p1) && aligned16(p2) && aligned16(p3) &&
		  aligned16(p4);
	return ok ? n / PACK : 0;
}

/* Blocks for n elements: the grid covers the packs, or every element when
 * there are none (a tail of < 8 after packs fits in the first block). */
static unsigned grid_for(long n, long packs)
{
	long work = packs ? packs : n;
	long b = (long)ceil_div((size_t)(work > 0 ? work : 1), EW_THREADS);
	return (unsigned)(b < EW_MAX_BLOCKS ? b : EW_MAX_BLOCKS);
}

/* ---- the formulas (gelu.c, swiglu.c) ----------------------------------- */

#define GELU_K 0.7978845608028654f   /* sqrt(2 / pi) */
#define GELU_A 0.044715f

static __device__ inline float sigmoid_f(float x) { return 1.0f / (1.0f + expf(-x)); }

struct gelu_op {
	__device__ float operator()(float x) const
	{
		return 0.5f * x * (1.0f + tanhf(GELU_K * (x + GELU_A * x * x * x)));
	}
};

struct gelu_grad_op {
	__device__ float operator()(float x, float dout) const
	{
		float t = tanhf(GELU_K * (x + GELU_A * x * x * x));
		float du = GELU_K * (1.0f + 3.0f * GELU_A * x * x);
		float grad = 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * du;
		return grad * dout;
	}
};

struct silu_op {
	__device__ float operator()(float x) const { return x * sigmoid_f(x); }
};

struct silu_grad_op {
	__device__ float operator()(float x, float dout) const
	{
		float s = sigmoid_f(x);
		return s * (1.0f + x * (1.0f - s)) * dout;
	}
};

struct swiglu_op {
	__device__ float operator()(float a, float b) const { return a * sigmoid_f(a) * b; }
};

/* swiglu backward: (da, db) from (dout, a, b). */
static __device__ inline void swiglu_grad(float *da, float *db, float dout, float a, float b)
{
	float s = sigmoid_f(a);
	*da = s * (1.0f + a * (1.0f - s)) * b * dout;
	*db = a * s * dout;
}

/* ---- generic kernels ----------------------------------------------------- */

/* out = f(in); the first `packs` packs vectorized, the rest one by one. */
template <class F>
__global__ void map1_kernel(bf16_t *out, const bf16_t *in, long n, long packs, F f)
{
	long stride = (long)gridDim.x * blockDim.x;
	long id = (long)blockIdx.x * blockDim.x + threadIdx.x;
	for (long p = id; p < packs; p += stride) {
		float x[PACK];
		load8(x, in, p);
		for (int k = 0; k < PACK; k++)
			x[k] = f(x[k]);
		store8(out, p, x);
	}
	for (long i = packs * PACK + id; i < n; i += stride)
		out[i] = __float2bfloat16_rn(f(__bfloat162float(in[i])));
}

/* out = f(a, b). */
template <class F>
__global__ void map2_kernel(bf16_t *out, const bf16_t *a, const bf16_t *b, long n, long packs,
			    F f)
{
	long stride = (long)gridDim.x * blockDim.x;
	long id = (long)blockIdx.x * blockDim.x + threadIdx.x;
	for (long p = id; p < packs; p += stride) {
		float x[PACK], y[PACK];
		load8(x, a, p);
		load8(y, b, p);
		for (int k = 0; k < PACK; k++)
			x[k] = f(x[k], y[k]);
		store8(out, p, x);
	}
	for (long i = packs * PACK + id; i < n; i += stride)
		out[i] = __float2bfloat16_rn(f(__bfloat162float(a[i]), __bfloat162float(b[i])));
}

__global__ void swiglu_backward_kernel(bf16_t *da, bf16_t *db, const bf16_t *dout,
				       const bf16_t *a, const bf16_t *b, long n, long packs)
{
	long stride = (long)gridDim.x * blockDim.x;
	long id = (long)blockIdx.x * blockDim.x + threadIdx.x;
	for (long p = id; p < packs; p += stride) {
		float d[PACK], x[PACK], y[PACK], ga[PACK], gb[PACK];
		load8(d, dout, p);
		load8(x, a, p);
		load8(y, b, p);
		for (int k = 0; k < PACK; k++)
			swiglu_grad(&ga[k], &gb[k], d[k], x[k], y[k]);
		store8(da, p, ga);
		store8(db, p, gb);
	}
	for (long i = packs * PACK + id; i < n; i += stride) {
		float ga, gb;
		swiglu_grad(&ga, &gb, __bfloat162float(dout[i]), __bfloat162float(a[i]),
			    __bfloat162float(b[i]));
		da[i] = __float2bfloat16_rn(ga);
		db[i] = __float2bfloat16_rn(gb);
	}
}

/* ---- conversions --------------------------------------------------------- */

__global__ void float_to_bf16_kernel(bf16_t *out, const float *in, long n, long packs)
{
	long stride = (long)gridDim.x * blockDim.x;
	long id = (long)blockIdx.x * blockDim.x + threadIdx.x;
	for (long p = id; p < packs; p += stride) {
		const float4 *src = reinterpret_cast<const float4 *>(in) + 2 * p;
		float4 lo = src[0], hi = src[1];
		float x[PACK] = {lo.x, lo.y, lo.z, lo.w, hi.x, hi.y, hi.z, hi.w};
		store8(out, p, x);
	}
	for (long i = packs * PACK + id; i < n; i += stride)
		out[i] = __float2bfloat16_rn(in[i]);
}

__global__ void bf16_to_float_kernel(float *out, const bf16_t *in, long n, long packs)
{
	long stride = (long)gridDim.x * blockDim.x;
	long id = (long)blockIdx.x * blockDim.x + threadIdx.x;
	for (long p = id; p < packs; p += stride) {
		float x[PACK];
		load8(x, in, p);
		float4 *dst = reinterpret_cast<float4 *>(out) + 2 * p;
		dst[0] = make_float4(x[0], x[1], x[2], x[3]);
		dst[1] = make_float4(x[4], x[5], x[6], x[7]);
	}
	for (long i = packs * PACK + id; i < n; i += stride)
		out[i] = __bfloat162float(in[i]);
}

/* ---- launchers ------------------------------------------------------------- */

template <class F>
static int launch_map1(const char *name, bf16 *out, const bf16 *in, long n, cudaStream_t s, F f)
{
	if (n <= 0)
		return 0;
	long packs = vector_packs(n, out, in, out, out, out);
	map1_kernel<<<grid_for(n, packs), EW_THREADS, 0, s>>>(dev(out), dev(in), n, packs, f);
	return CU_LAUNCHED(name);
}

template <class F>
static int launch_map2(const char *name, bf16 *out, const bf16 *a, const bf16 *b, long n,
		       cudaStream_t s, F f)
{
	if (n <= 0)
		return 0;
	long packs = vector_packs(n, out, a, b, out, out);
	map2_kernel<<<grid_for(n, packs), EW_THREADS, 0, s>>>(dev(out), dev(a), dev(b), n, packs,
							      f);
	return CU_LAUNCHED(name);
}

extern "C" int cu_float_to_bf16(bf16 *out, const float *in, size_t n, cudaStream_t s)
{
	if (n == 0)
		return 0;
	long packs = vector_packs((long)n, out, in, out, out, out);
	float_to_bf16_kernel<<<grid_for((long)n, packs), EW_THREADS, 0, s>>>(dev(out), in,
									      (long)n, packs);
	return CU_LAUNCHED("cu_float_to_bf16");
}

extern "C" int cu_bf16_to_float(float *out, const bf16 *in, size_t n, cudaStream_t s)
{
	if (n == 0)
		return 0;
	long packs = vector_packs((long)n, out, in, out, out, out);
	bf16_to_float_kernel<<<grid_for((long)n, packs), EW_THREADS, 0, s>>>(out, dev(in),
									      (long)n, packs);
	return CU_LAUNCHED("cu_bf16_to_float");
}

extern "C" int cu_gelu_forward(bf16 *out, const bf16 *inp, long n, cudaStream_t s)
{
	return launch_map1("cu_gelu_forward", out, inp, n, s, gelu_op());
}

extern "C" int cu_gelu_backward(bf16 *dinp, const bf16 *inp, const bf16 *dout, long n,
				cudaStream_t s)
{
	return launch_map2("cu_gelu_backward", dinp, inp, dout, n, s, gelu_grad_op());
}

extern "C" int cu_silu_forward(bf16 *out, const bf16 *inp, long n, cudaStream_t s)
{
	return launch_map1("cu_silu_forward", out, inp, n, s, silu_op());
}

extern "C" int cu_silu_backward(bf16 *dinp, const bf16 *inp, const bf16 *dout, long n,
				cudaStream_t s)
{
	return launch_map2("cu_silu_backward", dinp, inp, dout, n, s, silu_grad_op());
}

extern "C" int cu_swiglu_forward(bf16 *out, const bf16 *a, const bf16 *b, long n, cudaStream_t s)
{
	return launch_map2("cu_swiglu_forward", out, a, b, n, s, swiglu_op());
}

extern "C" int cu_swiglu_backward(bf16 *da, bf16 *db, const bf16 *dout, const bf16 *a,
				  const bf16 *b, long n, cudaStream_t s)
{
	if (n <= 0)
		return 0;
	long packs = vector_packs(n, da, db, dout, a, b);
	swiglu_backward_kernel<<<grid_for(n, packs), EW_THREADS, 0, s>>>(
		dev(da), dev(db), dev(dout), dev(a), dev(b), n, packs);
	return CU_LAUNCHED("cu_swiglu_backward");
}
