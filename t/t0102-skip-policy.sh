#!/bin/bash
test_description='lib-test.sh: only a GPU test may skip; prerequisites come from the build; make check lists skips

A scratch harness (a copy of lib-test.sh, stand-in tools that state their
build, no GPU, no Python) runs a script with one test per kind of
prerequisite: a GPU test skips with its reason, a test lacking MPI or the
Python oracles fails naming what is missing, and scripts/check-skips.sh
lists both at the end, failing for the second kind.'
. ./lib-test.sh

# stand_in NAME FEATURES: a tool that states a build and does nothing else
stand_in() {
	printf "#!/bin/sh\necho \"%s (lmpipe) 0.1.0 (%s)\"\n" "$1" "$2" >h/bin/$1 && chmod +x h/bin/$1
}

test_expect_success 'set up a harness with stand-in tools and a script of five tests' '
	mkdir -p h/t h/bin &&
	cp "$TEST_DIRECTORY/lib-test.sh" h/t/ &&
	printf "#!/bin/sh\nexit 1\n" >h/bin/nvidia-smi && printf "#!/bin/sh\nexit 0\n" >h/bin/mpirun &&
	chmod +x h/bin/nvidia-smi h/bin/mpirun &&
	stand_in lm-train "-cuda -emu -mpi -png" && stand_in lm-stat "-cuda -emu -mpi -png" &&
	cat >h/t/t9999-kinds.sh <<-\EOF &&
	#!/bin/bash
	. ./lib-test.sh
	test_expect_success "plain" "true"
	test_expect_success GPU "needs a GPU" "true"
	test_expect_success MPI "needs MPI" "true"
	test_expect_success PYTHON,GPU "needs the oracles and a GPU" "true"
	test_expect_success !GPU "needs no GPU" "true"
	test_done
	EOF
	chmod +x h/t/t9999-kinds.sh
'

run_harness() {
	(cd h/t && env -u LMPIPE_PYTHON -u TEST_VERBOSE LMPIPE_BIN="$PWD/../bin" LMPIPE_SKIP_LOG="$PWD/../skips" \
		./t9999-kinds.sh) >tap
}

test_expect_success 'a build without MPI: the GPU test skips, the MPI and Python ones fail' '
	rm -f h/skips &&
	test_must_fail run_harness &&
	grep "^ok\|^not ok" tap >results &&
	cat >expect <<-\EOF &&
	ok 1 - plain
	ok 2 # skip needs a GPU (no NVIDIA GPU on this machine)
	not ok 3 - needs MPI
	not ok 4 - needs the oracles and a GPU
	ok 5 - needs no GPU
	EOF
	test_cmp expect results &&
	grep "missing prerequisite MPI: lm-train was built without MPI (its --version: -cuda -emu -mpi -png)" tap &&
	grep "missing prerequisite PYTHON: no Python oracles" tap
'

test_expect_success 'check-skips.sh lists the skip and the failures, and fails' '
	test_must_fail "$TOP/scripts/check-skips.sh" h/skips >list &&
	cat >expect <<-\EOF &&
	make check: 1 skipped, each needing a GPU (script, test (tools): title: reason):
	  t9999-kinds 2 (bin): needs a GPU: no NVIDIA GPU on this machine
	make check: 2 FAILED for a missing prerequisite that is not a GPU'"'"'s:
	  t9999-kinds 3 (bin): needs MPI: FAILED, missing MPI: lm-train was built without MPI (its --version: -cuda -emu -mpi -png)
	  t9999-kinds 4 (bin): needs the oracles and a GPU: FAILED, missing PYTHON: no Python oracles in TOPDIR/.venv (run make deps)
	EOF
	sed "s|$PWD/h|TOPDIR|" list >got &&
	test_cmp expect got
'

test_expect_success 'lm-train built with MPI, mpirun here: the MPI test runs' '
	stand_in lm-train "-cuda -emu +mpi -png" && rm -f h/skips &&
	test_must_fail run_harness &&
	grep "^ok 3 - needs MPI\$" tap
'

test_expect_success 'only GPU skips: check-skips.sh lists them and succeeds' '
	printf "t7000-x 1 (build/san/bin): a kernel: no NVIDIA GPU on this machine\n" >gpu-skips &&
	"$TOP/scripts/check-skips.sh" gpu-skips >list &&
	grep "1 skipped, each needing a GPU" list &&
	: >none && "$TOP/scripts/check-skips.sh" none >list && grep "no test skipped" list
'

test_done
