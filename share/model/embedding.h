/*
 * embedding.h — token (and learned position) embedding:
 * out[b,t] = wte[tok[b,t]] + wpe[t]. wpe may be NULL (rope or no positions).
 */
#ifndef LMPIPE_EMBEDDING_H
#define LMPIPE_EMBEDDING_H

void embedding_forward(float *out, const int *tokens, const float *wte, const float *wpe,
		       int B, int T, int C);
/* Accumulates into dwte (rows of the tokens seen) and dwpe (may be NULL). */
void embedding_backward(float *dwte, float *dwpe, const float *dout, const int *tokens,
			int B, int T, int C);

#endif
