/*
 * rope.cu — RoPE on the q and k thirds of a (B, T, 3C) qkv tensor, v
 * copied; the backward applies the inverse rotation (a rotation's
 * transpose) and overwrites. CPU twin: share/model/rope.c — the ADJACENT
 * pair (x[2i], x[2i+1]) of each head rotated by the angle of (t, i), with
 * cos_t, sin_t (ctx, HS/2) from rope_table.
 *
 * One block a (b, t) row, its threads striding over the row in units of 8
 * bf16 (16-byte loads, when C % 8 == 0 and the pointers are aligned) or of
 * one pair otherwise. A unit never straddles the q | k | v boundaries
 * (C is even since HS is), and every unit starts on an even column, so it
 * holds whole pairs; a unit may span two heads, so each pair finds its own
 * angle index.
 */
#include "model/cuda/common.cuh"
extern "C" {
#include "util/error.h"
}

#include <stdint.h>

#define ROPE_THREADS 128
#define ROPE_VEC 8  /* bf16 a 16-byte unit */

struct alignas(16) rope_pack {
	__nv_bfloat162 h[ROPE_VEC / 2];
};

/* One pair rotated by (c, s): y0 = x0 c - x1 s, y1 = x0 s + x1 c (rope.c). */
static __device__ inline __nv_bfloat162 rotate_pair(__nv_bfloat162 x, float c, float s)
{
	float2 v = __bfloat1622float2(x);
	return __floats2bfloat162_rn(v.x * c - v.y * s, v.x * s + v.y * c);
}

/* A unit of W bf16 (W/2 pairs) of one row at column col of 3C; sign -1
 * for the inverse rotation. W is 8 (one 16-byte pack) or 2 (one pair). */
template <int W>
static __device__ inline void rope_unit(bf16_t *out, const bf16_t *in, int col, int C, int HS,
					const float *cos_row, const float *sin_row, float sign)
{
	__nv_bfloat162 h[W / 2];
	if (W == ROPE_VEC) {
		rope_pack p = *reinterpret_cast<const rope_pack *>(in + col);
		for (int k = 0; k < W / 2; k++)
			h[k] = p.h[k];
	} else {
		for (int k = 0; k < W / 2; k++)
			h[k] = __halves2bfloat162(in[col + 2 * k], in[col + 2 * k + 1]);
	}
	if (col < 2 * C) {  /* q or k: rotate; v passes through */
		int j = (col < C ? col : col - C) % HS;  /* column within the head, even */
		for (int k = 0; k < W / 2; k++) {
			h[k] = rotate_pair(h[k], cos_row[j / 2], sign * sin_row[j / 2]);
			j += 2;
			if (j == HS)  /* the unit runs into the next head */
				j = 0;
		}
	}
	if (W == ROPE_VEC) {
		rope_pack p;
		for (int k = 0; k < W / 2; k++)
			p.h[k] = h[k];
		*reinterpret_cast<rope_pack *>(out + col) = p;
	} else {
		for (int k = 0; k < W / 2; k++) {
			out[col + 2 * k] = __low2bfloat16(h[k]);
			out[col + 2 * k + 1] = __high2bfloat16(h[k]);
		}
	}
}

/* Block r: row r = (b, t) of (B*T) rows of 3C. */
template <int W>
__global__ void rope_kernel(bf16_t *out, const bf16_t *in, const float *cos_t,
			    const float *sin_t, int T, int C, int HS, float sign)
{
	long row = blockIdx.x;
	int t = (int)(row % T);
	const float *cos_row = cos_t + (long)t * (HS / 2), *sin_row = sin_t + (long)t * (HS / 2);
	const bf16_t *src = in + row * 3 * C;
	bf16_t *dst = out + row * 3 * C;
	for (int col = threadIdx.x * W; col < 3 * C; col += blockDim.x * W)
		rope_unit<W>(dst, src, col, C, HS, cos_row, sin_row, sign);
}

static bool aligned16(const void *p) { return ((uintptr_t)p & 15) == 0; }

static int rope_launch(const char *name, bf16 *out, const bf16 *in, const float *cos_t,
		       const float *sin_t, int B, int T, int C, int NH, float sign,
		       cudaStream_t s)
{
	if (NH <= 0 || C % NH != 0 || (C / NH) % 2 != 0)
		return lm_fail("%s: C %d is not NH %d heads of an even size", name, C, NH);
	long rows = (long)B * T;
	if (rows <= 0 || C == 0)
		return 0;
	int HS = C / NH;
	if (C % ROPE_VEC == 0 && aligned16(out) && aligned16(in))
		rope_kernel<ROPE_VEC><<<(unsigned)rows, ROPE_THREADS, 0, s>>>(
			dev(out), dev(in), cos_t, sin_t, T, C, HS, sign);
	else
		rope_kernel<2><<<(unsigned)rows, ROPE_THREADS, 0, s>>>(dev(out), dev(in), cos_t,
								       sin_t, T, C, HS, sign);
	return CU_LAUNCHED(name);
}

extern "C" int cu_rope_forward(bf16 *out, const bf16 *qkv, const float *cos_t,
			       const float *sin_t, int B, int T, int C, int NH, cudaStream_t s)
{
	return rope_launch("cu_rope_forward", out, qkv, cos_t, sin_t, B, T, C, NH, 1.0f, s);
}

extern "C" int cu_rope_backward(bf16 *dqkv, const bf16 *dout, const float *cos_t,
				const float *sin_t, int B, int T, int C, int NH, cudaStream_t s)
{
	return rope_launch("cu_rope_backward", dqkv, dout, cos_t, sin_t, B, T, C, NH, -1.0f, s);
}
