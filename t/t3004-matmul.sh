#!/bin/bash
test_description='share/model: the packed GEMM against the triple-loop reference

matmul_forward and matmul_backward (the packed, blocked GEMM) and
matvec_forward (a few rows) against matmul_forward_naive and
matmul_backward_naive (triple loops summing in double), over shapes that
miss the blocking: 1x1x1, primes, sizes just off the micro-tile (6 x 16),
the depth block (256) and the tiles (96 x 256), with and without a bias.
Each element within the float error bound of its sum (test-tool matmul:
gamma_n times the sum of the absolute terms, Higham 3.1); a packing or
tiling mistake is off by the size of the terms. Then: the packed results
have the same bits for any number of threads.'
. ./lib-test.sh

# N IC OC: rows, input width, output width
shapes='
1 1 1
1 7 1
2 3 5
5 1 17
7 13 31
6 16 16
6 256 16
7 257 17
13 255 15
97 263 257
96 256 256
193 17 513
3 769 29
'

expect_ok() {
	printf "ok %s $1x$2x$3\n" forward matvec backward-dinp backward-dweight &&
	echo "ok backward-dbias $1x$2x$3 untouched without a bias" &&
	printf "ok %s bias $1x$2x$3\n" forward matvec backward-dinp backward-dweight \
		backward-dbias
}

test_expect_success 'every shape: forward, matvec and backward within the bound' '
	echo "$shapes" | while read -r n ic oc; do
		test -n "$n" || continue
		expect_ok $n $ic $oc >>expect &&
		test-tool matmul check $n $ic $oc 11 >>actual || { cat actual; exit 1; }
	done &&
	test_cmp expect actual
'

test_expect_success 'one product missing from the sums fails the check' '
	# the packed side given inp with its first element zeroed: as a lost
	# element of a packed panel would; matvec and the dweight sums miss it too
	for s in "1 1 1" "97 263 257" "7 257 17"; do
		test_must_fail test-tool matmul drop $s 11 >out &&
		grep -q "^FAIL forward " out &&
		grep -q "^FAIL forward bias " out &&
		grep -q "^FAIL matvec " out &&
		grep -q "^FAIL backward-dweight " out &&
		grep -q "^ok backward-dinp " out || { cat out; exit 1; }
	done &&
	test_must_fail test-tool matmul check 0 13 31 11 2>err &&
	grep -q "sizes must be positive" err
'

test_expect_success 'the packed results have the same bits on 1 and 3 threads' '
	for s in "97 263 257" "193 17 513" "7 257 17"; do
		OMP_NUM_THREADS=1 test-tool matmul bits $s 5 >one &&
		OMP_NUM_THREADS=3 test-tool matmul bits $s 5 >three &&
		test_cmp one three || exit 1
	done
'

test_done
