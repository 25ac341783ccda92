/*
 * crossentropy.h — softmax cross-entropy over the real vocabulary.
 *
 * Logits are (N, Vp) with Vp the padded vocabulary; only the first V columns
 * take part in the softmax, and the padded columns get zero gradient, so the
 * padding never changes the loss or the training.
 */
#ifndef LMPIPE_CROSSENTROPY_H
#define LMPIPE_CROSSENTROPY_H

/* Returns the mean loss over the N rows; lse (N) keeps each row's
 * log-sum-exp for the backward pass, losses (N) each row's loss. */
float crossentropy_forward(float *losses, float *lse, const float *logits, const int *targets,
			   int N, int V, int Vp);
/* Overwrites logits with dloss/dlogits: (softmax - onehot) * scale for the
 * first V columns, 0 for the padding. scale = dloss_mean / N for the mean. */
void crossentropy_backward(float *logits, const float *lse, const int *targets,
			   int N, int V, int Vp, float scale);

#endif
