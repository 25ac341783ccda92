/*
 * gelu.h — GELU, tanh approximation (GPT-2's "gelu_new"; Hendrycks, Gimpel
 * 2016): y = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
 */
#ifndef LMPIPE_GELU_H
#define LMPIPE_GELU_H

void gelu_forward(float *out, const float *inp, long n);
/* Accumulates: dinp += gelu'(inp) dout. */
void gelu_backward(float *dinp, const float *inp, const float *dout, long n);

#endif
