#!/bin/bash
test_description='share/model/cuda: the row kernels against their CPU twins

test-tool cuda-rows checks the embedding (forward, and the backward through
embedding_buckets, with tokens that repeat many times), LayerNorm (with and
without bias), RMSNorm (forward, backward, the parameter gradients through
per-block partials) and the fused cross-entropy (losses, the in-place
gradient, padded columns, evaluation leaving the logits alone) against
embedding.c, layernorm.c, rmsnorm.c and crossentropy.c on the same bf16
inputs: odd shapes (the plain paths) and real ones (C = 768, 1600, 4096,
8192; V = 50257 padded to 50304, 128256). Thresholds (normalized error):
1e-2 for bf16 outputs, 1e-5 for fp32 statistics, losses and the norms
parameter gradients, 1e-6 for the embedding gradients (fp32 rounding
apart from the CPU order); every backward run twice must give the same bits.
"buckets" checks the host-side grouping alone against a brute force.'
. ./lib-test.sh


test_expect_success CUDA 'embedding buckets: a stable grouping of the positions by token' '
	test-tool cuda-rows buckets >out &&
	cat out &&
	! grep -v "^ok " out
'

test_expect_success !CUDA 'without CUDA the parity command says so (exit 2)' '
	{ test-tool cuda-rows 2>err; test $? = 2; } &&
	grep "built without CUDA" err
'

test_expect_success GPU,CUDA,!CUDA_EMU 'every row kernel matches its CPU twin, deterministically' '
	test-tool cuda-rows 1 >out &&
	cat out &&
	grep "^all checks passed" out &&
	! grep "^FAIL" out
'

test_expect_success GPU,CUDA,!CUDA_EMU 'and with other inputs (seed 7)' '
	test-tool cuda-rows 7 >out &&
	! grep "^FAIL" out
'

test_done
