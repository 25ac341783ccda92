#!/bin/bash
test_description='share/model/cuda/attention.cu: flash attention against the CPU twin'
. ./lib-test.sh

# out within 1e-2 (bf16 output), lse within 1e-3 (fp32), dq dk dv within
# 2e-2 (P and dS rounded to bf16 for the tensor-core products), and the
# backward twice gives the same bits; head sizes 32, 64, 128, T from 1 to 1024
test_expect_success GPU,CUDA,!CUDA_EMU 'forward and backward match attention.c, deterministically' '
	test-tool cuda-attention >out &&
	cat out &&
	! grep -v "^ok " out
'

test_expect_success GPU,CUDA,!CUDA_EMU 'another seed' '
	test-tool cuda-attention 7 >out &&
	! grep -v "^ok " out
'

test_expect_success GPU,CUDA,!CUDA_EMU 'the timing mode runs' '
	test-tool cuda-attention bench 1 256 2 64 >out &&
	grep "^forward B=1 T=256 NH=2 HS=64: .* ms" out &&
	grep "^backward B=1 T=256 NH=2 HS=64: .* ms" out
'

test_done
