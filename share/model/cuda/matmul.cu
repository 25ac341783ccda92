/*
 * matmul.cu — the linear layers through cuBLASLt: bf16 operands, fp32
 * accumulation, the bias added in the GEMM's epilogue and the residual
 * through beta (one rounding of the whole sum), weight gradients
 * accumulated straight into the fp32 gradient array (beta = 1). CPU twin:
 * model/matmul.c.
 *
 * Our matrices are row-major; cuBLASLt's are column-major. A row-major
 * (r, c) array is the column-major (c, r) one, so each product is written
 * for the transposes:
 *   forward   out^T (OC x N)  = W^T-as-stored, op T   x  inp^T,  op N
 *   dinp      dinp^T (IC x N) = W-as-stored (IC x OC) x  dout^T (OC x N)
 *   dweight   dW^T (IC x OC) += inp^T (IC x N)      x  dout (N x OC), op T
 *
 * The algorithm for each shape is chosen once by cuBLASLt's heuristic and
 * cached, and reductions that split K are limited to the in-place and
 * workspace schemes, so the same shapes give the same bits run after run.
 */
#include "model/cuda/common.cuh"

#include <cublasLt.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"

#define WORKSPACE_BYTES (32u << 20)
#define MAX_PLANS 64

/* One cached product: its shape and types, and the algorithm chosen. */
typedef struct {
	int ta, tb, m, n, k, lda, ldb, ldd;
	cudaDataType_t dtype;
	int bias;
	cublasLtMatmulDesc_t desc;
	cublasLtMatrixLayout_t a, b, d;
	cublasLtMatmulAlgo_t algo;
} gemm_plan;

struct cu_blas {
	cublasLtHandle_t lt;
	cudaStream_t stream;
	void *workspace;
	gemm_plan plans[MAX_PLANS];
	int num_plans;
};

static int lt_check(cublasStatus_t st, const char *what)
{
	if (st == CUBLAS_STATUS_SUCCESS)
		return 0;
	return lm_fail("cuBLASLt %s: %s", what, cublasLtGetStatusString(st));
}

cu_blas *cu_blas_open(cudaStream_t s)
{
	cu_blas *h = (cu_blas *)calloc(1, sizeof *h);
	if (!h)
		return lm_fail("out of memory"), nullptr;
	h->stream = s;
	if (lt_check(cublasLtCreate(&h->lt), "create") != 0) {
		free(h);
		return nullptr;
	}
	if (cu_check(cudaMalloc(&h->workspace, WORKSPACE_BYTES), "cuBLASLt workspace") != 0) {
		cublasLtDestroy(h->lt);
		free(h);
		return nullptr;
	}
	return h;
}

static void plan_free(gemm_plan *p)
{
	cublasLtMatrixLayoutDestroy(p->a);
	cublasLtMatrixLayoutDestroy(p->b);
	cublasLtMatrixLayoutDestroy(p->d);
	cublasLtMatmulDescDestroy(p->desc);
}

void cu_blas_close(cu_blas *h)
{
	if (!h)
		return;
	for (int i = 0; i < h->num_plans; i++)
		plan_free(&h->plans[i]);
	cudaFree(h->workspace);
	cublasLtDestroy(h->lt);
	free(h);
}

static bool plan_matches(const gemm_plan *p, const gemm_plan *want)
{
	return p->ta == want->ta && p->tb == want->tb && p->m == want->m && p->n == want->n &&
	       p->k == want->k && p->lda == want->lda && p->ldb == want->ldb &&
	       p->ldd == want->ldd && p->dtype == want->dtype && p->bias == want->bias;
}

/* The descriptors for one shape (bias pointer set per call). */
static int plan_describe(cu_blas *h, gemm_plan *p)
{
	cublasOperation_t opa = p->ta ? CUBLAS_OP_T : CUBLAS_OP_N;
	cublasOperation_t opb = p->tb ? CUBLAS_OP_T : CUBLAS_OP_N;
	if (lt_check(cublasLtMatmulDescCreate(&p->desc, CUBLAS_COMPUTE_32F, CUDA_R_32F), "desc") != 0)
		return -1;
	cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_TRANSA, &opa, sizeof opa);
	cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_TRANSB, &opb, sizeof opb);
	if (p->bias) {
		cublasLtEpilogue_t epi = CUBLASLT_EPILOGUE_BIAS;
		cudaDataType_t bt = CUDA_R_16BF;
		cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof epi);
		cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bt,
					       sizeof bt);
	}
	/* stored shapes: A is (m x k) or its transpose, B (k x n) or its transpose */
	int ar = p->ta ? p->k : p->m, ac = p->ta ? p->m : p->k;
	int br = p->tb ? p->n : p->k, bc = p->tb ? p->k : p->n;
	if (lt_check(cublasLtMatrixLayoutCreate(&p->a, CUDA_R_16BF, ar, ac, p->lda), "layout A") ||
	    lt_check(cublasLtMatrixLayoutCreate(&p->b, CUDA_R_16BF, br, bc, p->ldb), "layout B") ||
	    lt_check(cublasLtMatrixLayoutCreate(&p->d, p->dtype, p->m, p->n, p->ldd), "layout D"))
		return -1;

	cublasLtMatmulPreference_t pref;
	if (lt_check(cublasLtMatmulPreferenceCreate(&pref), "preference") != 0)
		return -1;
	size_t ws = WORKSPACE_BYTES;
	uint32_t schemes = CUBLASLT_REDUCTION_SCHEME_NONE | CUBLASLT_REDUCTION_SCHEME_INPLACE |
			   CUBLASLT_REDUCTION_SCHEME_COMPUTE_TYPE | CUBLASLT_REDUCTION_SCHEME_OUTPUT_TYPE;
	cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws,
					     sizeof ws);
	cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_REDUCTION_SCHEME_MASK,
					     &schemes, sizeof schemes);
	cublasLtMatmulHeuristicResult_t res;
	int found = 0;
	cublasStatus_t st = cublasLtMatmulAlgoGetHeuristic(h->lt, p->desc, p->a, p->b, p->d, p->d,
							   pref, 1, &res, &found);
	cublasLtMatmulPreferenceDestroy(pref);
	if (st != CUBLAS_STATUS_SUCCESS || found == 0)
		return lm_fail("cuBLASLt has no algorithm for %s%s %d x %d x %d", p->ta ? "T" : "N",
			       p->tb ? "T" : "N", p->m, p->n, p->k);
	p->algo = res.algo;
	return 0;
}

static gemm_plan *plan_get(cu_blas *h, const gemm_plan *want)
{
	for (int i = 0; i < h->num_plans; i++)
		if (plan_matches(&h->plans[i], want))
			return &h->plans[i];
	if (h->num_plans == MAX_PLANS)
		return lm_fail("cuBLASLt: more than %d matrix shapes", MAX_PLANS), nullptr;
	gemm_plan *p = &h->plans[h->num_plans];
	*p = *want;
	if (plan_describe(h, p) != 0) {
		plan_free(p);
		return nullptr;
	}
	h->num_plans++;
	return p;
}

/* D = op(A) op(B) + beta C (+ bias over the m rows of D); C has D's
 * layout and may be D itself (NULL: D). */
static int gemm(cu_blas *h, bool ta, bool tb, int m, int n, int k, const void *A, int lda,
		const void *B, int ldb, const void *C, void *D, int ldd, cudaDataType_t dtype,
		float beta, const bf16 *bias)
{
	gemm_plan want;
	memset(&want, 0, sizeof want);
	want.ta = ta, want.tb = tb, want.m = m, want.n = n, want.k = k;
	want.lda = lda, want.ldb = ldb, want.ldd = ldd, want.dtype = dtype, want.bias = bias != nullptr;
	gemm_plan *p = plan_get(h, &want);
	if (!p)
		return -1;
	if (bias)
		cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias,
					       sizeof bias);
	float alpha = 1.0f;
	return lt_check(cublasLtMatmul(h->lt, p->desc, &alpha, A, p->a, B, p->b, &beta,
				       C ? C : D, p->d, D, p->d, &p->algo, h->workspace,
				       WORKSPACE_BYTES, h->stream),
			"matmul");
}

int cu_matmul_forward(cu_blas *h, bf16 *out, const bf16 *inp, const bf16 *weight,
		      const bf16 *bias, const bf16 *resid, int N, int IC, int OC)
{
	return gemm(h, true, false, OC, N, IC, weight, IC, inp, IC, resid, out, OC, CUDA_R_16BF,
		    resid ? 1.0f : 0.0f, bias);
}

int cu_matmul_backward(cu_blas *h, bf16 *dinp, float *dweight, float *dbias,
		       float *bias_scratch, const bf16 *dout, const bf16 *inp,
		       const bf16 *weight, int N, int IC, int OC, bool accumulate)
{
	if (dinp && gemm(h, false, false, IC, N, OC, weight, IC, dout, OC, nullptr, dinp, IC,
			 CUDA_R_16BF, accumulate ? 1.0f : 0.0f, nullptr) != 0)
		return -1;
	if (dweight && gemm(h, false, true, IC, OC, N, inp, IC, dout, OC, nullptr, dweight, IC,
			    CUDA_R_32F, 1.0f, nullptr) != 0)
		return -1;
	if (dbias)
		return cu_bias_backward(dbias, dout, bias_scratch, N, OC, h->stream);
	return 0;
}
