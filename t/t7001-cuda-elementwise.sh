#!/bin/bash
test_description='share/model/cuda: elementwise, RoPE and optimizer kernels against their CPU twins

test-tool cuda-elementwise checks the fp32 <-> bf16 conversions, GELU,
SiLU, SwiGLU and RoPE (forward and backward), AdamW, the sum of squares and
the bias gradient against gelu.c, swiglu.c, rope.c, adamw.c and a double
column sum, on the same bf16 inputs, with odd sizes (scalar tails), an
unaligned pointer, and ~3M elements. Thresholds (normalized error): 1e-2
for bf16 outputs, bit equality for the conversions and the bf16 copy of
the weights, 1e-6 for AdamW (params, m, v after 3 steps) and the sum of
squares, 1e-5 for the bias gradient; the reductions run twice must give
the same bits. "runs" checks the host-side decay runs alone.'
. ./lib-test.sh


test_expect_success CUDA 'decay runs: spans merged, gaps, overlaps and too many refused' '
	test-tool cuda-elementwise runs >out &&
	cat out &&
	! grep -v "^ok " out
'

test_expect_success !CUDA 'without CUDA the parity command says so (exit 2)' '
	{ test-tool cuda-elementwise 2>err; test $? = 2; } &&
	grep "built without CUDA" err
'

test_expect_success GPU,CUDA,!CUDA_EMU 'every kernel matches its CPU twin, deterministically' '
	test-tool cuda-elementwise >out &&
	cat out &&
	grep -c "^ok " out &&
	! grep -v "^ok " out
'

test_expect_success GPU,CUDA,!CUDA_EMU 'another seed' '
	test-tool cuda-elementwise 12345 >out &&
	! grep -v "^ok " out
'

test_done
