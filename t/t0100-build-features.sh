#!/bin/bash
test_description='the build: --version states the features compiled in; they are stamped, and a change rebuilds

Every tool prints "TOOL (lmpipe) VERSION (+cuda -emu +mpi +png)", the
features the Makefile probed, the same for every tool of a build and equal
to the stamp $(O)/features. The stamp is rewritten only when the features
change and every object depends on it, so a build made before set-up
installed MPI or librsvg is rebuilt with them by the next make; make demo
builds after set-up, in a sub-make that probes again.'
. ./lib-test.sh

FEATURES_RE='^\([+-]cuda [+-]emu [+-]mpi [+-]png\)$'

test_expect_success 'every tool states its version and features, the same for all' '
	for t in bpe-learn bpe-encode shard lm-train lm-eval lm-sample lm-stat; do
		"$LMPIPE_BIN/$t" --version >v.$t || return 1
		grep "^$t (lmpipe) [0-9][0-9.]* (" v.$t >/dev/null || { cat v.$t; return 1; }
		sed "s/^$t (lmpipe) [0-9.]* //" v.$t >f.$t &&
		grep -E "$FEATURES_RE" f.$t >/dev/null || { cat v.$t; return 1; }
	done &&
	for t in bpe-learn bpe-encode shard lm-eval lm-sample lm-stat; do
		test_cmp f.lm-train f.$t || return 1
	done
'

test_expect_success 'the features are the stamp of the build that made the tools' '
	test -f "$LMPIPE_BIN/../features" &&
	echo "($(cat "$LMPIPE_BIN/../features"))" >stamp &&
	test_cmp stamp f.lm-train
'

test_expect_success 'the prerequisites of the tests are what lm-train and lm-stat were built with' '
	if grep -q "+mpi" f.lm-train && command -v mpirun >/dev/null; then
		test_have_prereq MPI; else ! test_have_prereq MPI; fi &&
	if grep -q "+png" f.lm-stat; then test_have_prereq RSVG; else ! test_have_prereq RSVG; fi &&
	if grep -q "+cuda" f.lm-train; then test_have_prereq CUDA; else ! test_have_prereq CUDA; fi &&
	if grep -q "+emu" f.lm-train; then test_have_prereq CUDA_EMU; else ! test_have_prereq CUDA_EMU; fi
'

# One small object of a scratch build, under each set of features: what
# changes the features rebuilds it, what does not leaves even the stamp alone.
V=share/util/version.o
mk() { make -s -C "$TOP" BUILD="$PWD/b" CUDA=0 RSVG_PKGS=none "$@"; }

test_expect_success 'a build without MPI or PNG says so' '
	mk MPICC= "$PWD/b/rel/$V" &&
	echo "-cuda -emu -mpi -png" >expect && test_cmp expect b/rel/features &&
	grep -a -- "-cuda -emu -mpi -png" b/rel/$V >/dev/null
'

test_expect_success 'unchanged features: nothing rebuilt, the stamp untouched' '
	touch -r b/rel/$V before && sleep 1.1 &&
	mk MPICC= "$PWD/b/rel/$V" &&
	test ! b/rel/features -nt before && test ! b/rel/$V -nt before
'

test_expect_success 'MPI found later (set-up installed it): the objects rebuild with +mpi' '
	mk MPICC=true "$PWD/b/rel/$V" &&
	echo "-cuda -emu +mpi -png" >expect && test_cmp expect b/rel/features &&
	grep -a -- "-cuda -emu +mpi -png" b/rel/$V >/dev/null &&
	test b/rel/$V -nt before
'

test_expect_success 'make demo builds in a sub-make, after set-up' '
	make -n -C "$TOP" BUILD="$PWD/b" demo >plan 2>&1 &&
	grep -n "setup-deps.sh\|--no-print-directory all\|demo.sh" plan >steps &&
	sed "s/:.*setup-deps.sh.*/ deps/; s/:.*--no-print-directory all.*/ build/; s/:.*demo.sh.*/ demo/" steps |
		cut -d" " -f2 | uniq >order &&
	printf "deps\nbuild\ndemo\n" >expect && test_cmp expect order
'

test_done
