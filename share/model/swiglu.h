/*
 * swiglu.h — the SiLU activation and the SwiGLU gate (Shazeer 2020; CS336):
 *   silu(x) = x sigmoid(x)
 *   swiglu(a, b) = silu(a) * b, with a = W1 x and b = W3 x.
 * The "silu" MLP ablation uses silu alone (two matrices); "swiglu" the gate.
 */
#ifndef LMPIPE_SWIGLU_H
#define LMPIPE_SWIGLU_H

void silu_forward(float *out, const float *inp, long n);
/* Accumulates: dinp += silu'(inp) dout. */
void silu_backward(float *dinp, const float *inp, const float *dout, long n);

void swiglu_forward(float *out, const float *a, const float *b, long n);
/* Accumulates into da and db. */
void swiglu_backward(float *da, float *db, const float *dout, const float *a,
		     const float *b, long n);

#endif
