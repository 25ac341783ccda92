/*
 * matmul.h — the linear layer, y = x W^T + b, forward and backward.
 *
 * Weights are stored as nn.Linear does, (OC, IC): one row per output.
 * The products run through one packed, blocked GEMM (gemm()) that OpenMP
 * spreads over rows of the output. Every output element is summed in the
 * same order whatever the number of threads, so results are reproducible
 * bit for bit from run to run and across thread counts.
 */
#ifndef LMPIPE_MATMUL_H
#define LMPIPE_MATMUL_H

/* C(M,N) = A(M,K) B(K,N) (+ C when accumulate). Element (i,k) of A is
 * A[i*rsa + k*csa], (k,j) of B is B[k*rsb + j*csb]: any transpose is a
 * choice of strides. C is row-major with leading dimension ldc. */
void gemm(int M, int N, int K, const float *A, long rsa, long csa,
	  const float *B, long rsb, long csb, float *C, long ldc, int accumulate);

/* out (N, OC) = inp (N, IC) @ weight (OC, IC)^T + bias (OC); bias may be NULL. */
void matmul_forward(float *out, const float *inp, const float *weight, const float *bias,
		    int N, int IC, int OC);

/* Accumulates: dinp (N, IC) += dout @ weight; dweight (OC, IC) += dout^T @ inp;
 * dbias (OC) += column sums of dout. dinp and dbias may be NULL. */
void matmul_backward(float *dinp, float *dweight, float *dbias, const float *dout,
		     const float *inp, const float *weight, int N, int IC, int OC);

/* matmul_forward for a few rows: a matrix-vector product per row, each
 * output channel one vec_dot (threads over the channels), reading weight
 * once where the GEMM would pack all of it for one row. Sums in another
 * order than the GEMM: equal to float rounding, not bit for bit. */
void matvec_forward(float *out, const float *inp, const float *weight, const float *bias,
		    int N, int IC, int OC);

/* matmul_forward and matmul_backward as triple loops over the definition,
 * each sum in double in index order (one rounding to float at the end):
 * the reference the packed GEMM is checked against (test-tool matmul). */
void matmul_forward_naive(float *out, const float *inp, const float *weight, const float *bias,
			  int N, int IC, int OC);
void matmul_backward_naive(float *dinp, float *dweight, float *dbias, const float *dout,
			   const float *inp, const float *weight, int N, int IC, int OC);

#endif
