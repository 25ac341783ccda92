#!/bin/bash
test_description='share/util/threads: idle OpenMP threads sleep unless the user says otherwise'
. ./lib-test.sh

# libgomp's own report of what it read (OMP_DISPLAY_ENV=verbose, on stderr
# as it starts): the spin count of each libgomp start, one a line. A tool
# that sets the policy starts twice, its last line the one it runs with.
spincounts() {
	env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT OMP_DISPLAY_ENV=verbose "$@" >/dev/null 2>err &&
	sed -n "s/^ *GOMP_SPINCOUNT = .\([0-9]*\).$/\1/p" err
}

test_expect_success 'lm-train, lm-eval and lm-sample run with passive waiting by default' '
	for tool in lm-train lm-eval lm-sample; do
		spincounts $tool --help >counts &&
		test "$(tail -1 counts)" = 0 || return 1
	done
'

test_expect_success 'a user'\''s OMP_WAIT_POLICY or GOMP_SPINCOUNT is kept, the tool run once' '
	spincounts env OMP_WAIT_POLICY=active lm-train --help >counts &&
	echo 30000000000 >expect &&
	test_cmp expect counts &&
	spincounts env GOMP_SPINCOUNT=1000 lm-train --help >counts &&
	echo 1000 >expect &&
	test_cmp expect counts
'

test_expect_success 'the arguments and the exit status survive the second start' '
	test_expect_code 2 env -u OMP_WAIT_POLICY lm-train data --steps ten 2>err &&
	test_error_mentions err "lm-train:" "ten"
'

test_expect_success 'OpenMP threads default to the CPUs the process may run on' '
	test-tool train stream 4000 64 | shard -o data --val-tokens 500 &&
	env -u OMP_NUM_THREADS taskset -c 0 lm-train data --model d1 --vocab 64 --ctx 16 \
		--batch-tokens 64 -b 4 --steps 1 --eval-every 0 -o r 2>err &&
	grep "cpu, 1 threads" err
'

test_done
