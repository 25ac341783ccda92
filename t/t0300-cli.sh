#!/bin/bash
test_description='one command-line shape for every tool (share/util/cli.h)

Every tool: --help and -h print the same usage to stdout (listing -h, --help
and --version) and exit 0 with nothing on stderr; --version prints
"TOOL (lmpipe) VERSION (FEATURES)"; an unknown option or a bad value is a
usage error: exit 2, a message naming the tool on stderr, nothing on
stdout. A tool with -j runs, when -j is not given, as many threads as the
CPUs it may run on (its affinity mask: taskset), and says how many in its
--stats or -v report.'
. ./lib-test.sh

TOOLS="bpe-learn bpe-encode shard lm-train lm-eval lm-sample lm-stat lm-convert"
FEATURES_RE='\([+-]cuda [+-]emu [+-]mpi [+-]png\)'

test_expect_success 'every tool is built' '
	for t in $TOOLS; do
		test -x "$LMPIPE_BIN/$t" || { echo "no $t in $LMPIPE_BIN"; return 1; }
	done
'

test_expect_success '--help: the usage on stdout, exit 0, stderr empty; -h the same' '
	for t in $TOOLS; do
		$t --help >help.$t 2>err.$t || { echo "$t --help failed"; return 1; }
		test_cmp /dev/null err.$t || return 1
		head -n 1 help.$t | grep -q "^usage: $t " || { echo "$t: no usage line"; return 1; }
		$t -h >h.$t 2>err.$t || { echo "$t -h failed"; return 1; }
		test_cmp help.$t h.$t && test_cmp /dev/null err.$t || return 1
	done
'

test_expect_success 'every usage and man page lists -h, --help and --version' '
	for t in $TOOLS; do
		grep -q -- "-h, --help" help.$t && grep -q -- "--version" help.$t ||
			{ echo "$t --help lacks -h, --help or --version:"; cat help.$t; return 1; }
		grep -qxF ".BR \\-h \", \" \\-\\-help" "$TOP/$t/$t.1" &&
		grep -qxF ".B \\-\\-version" "$TOP/$t/$t.1" ||
			{ echo "$t.1 lacks -h, --help or --version"; return 1; }
	done
'

test_expect_success '--version: the version line with the features, exit 0' '
	for t in $TOOLS; do
		$t --version >v.$t 2>err.$t || { echo "$t --version failed"; return 1; }
		test_cmp /dev/null err.$t || return 1
		test $(wc -l <v.$t) = 1 &&
		grep -Eq "^$t \(lmpipe\) [0-9]+\.[0-9]+\.[0-9]+ $FEATURES_RE\$" v.$t ||
			{ echo "$t --version:"; cat v.$t; return 1; }
	done
'

test_expect_success 'an unknown option: exit 2, the tool named on stderr, stdout empty' '
	for t in $TOOLS; do
		test_expect_code 2 $t --no-such-option >out.$t 2>err.$t || return 1
		test_cmp /dev/null out.$t || return 1
		test_error_mentions err.$t "$t: " "no-such-option" "$t --help" || return 1
		test_expect_code 2 $t -Z >out.$t 2>err.$t || return 1
		test_cmp /dev/null out.$t && test_error_mentions err.$t "$t: " "Z" || return 1
	done
'

test_expect_success 'run by its path, a tool still names itself alone' '
	for t in $TOOLS; do
		test_expect_code 2 "$LMPIPE_BIN/$t" --no-such-option 2>err.$t &&
		test_expect_code 2 "$LMPIPE_BIN/$t" -j 2>>err.$t || return 1
		if grep -v "^$t: " err.$t | grep -v "^Try '\''$t --help'\''"; then
			echo "$t: a line not prefixed by the tool alone"; return 1
		fi
	done
'

test_expect_success 'a bad option value: exit 2, the tool and the option named, stdout empty' '
	for t in bpe-learn bpe-encode shard lm-train; do
		test_expect_code 2 $t -j 0 >out.$t 2>err.$t || return 1
		test_cmp /dev/null out.$t && test_error_mentions err.$t "$t: " "threads" "0" ||
			return 1
	done &&
	test_expect_code 2 lm-eval loss x y --limit lots >out 2>err &&
	test_cmp /dev/null out && test_error_mentions err "lm-eval: " "--limit" "lots" &&
	test_expect_code 2 lm-sample x --top-k -1 >out 2>err &&
	test_cmp /dev/null out && test_error_mentions err "lm-sample: " "--top-k" &&
	test_expect_code 2 lm-stat --flops gpt2 --layers x >out 2>err &&
	test_cmp /dev/null out && test_error_mentions err "lm-stat: " "--layers" &&
	test_expect_code 2 lm-convert -t f8 a b >out 2>err &&
	test_cmp /dev/null out && test_error_mentions err "lm-convert: " "--dtype" "f8"
'

# The CPUs this test may use: taskset narrows them to one, or to two.
ncpu=$(nproc)
test "$ncpu" -ge 2 && test_set_prereq TWO_CPUS
command -v taskset >/dev/null && taskset -c 0 true 2>/dev/null && test_set_prereq TASKSET

text() { for i in $(seq 1 200); do echo "the cat sat on the mat $i times"; done; }

test_expect_success TASKSET 'no -j: as many threads as the affinity mask has CPUs' '
	text >c.txt &&
	printf "t h\nth e\n" | sed "1i#version: 0.2" >m.bpe &&
	head -c 20000 /dev/zero >z.u16 &&
	for cpus in 0 0-1; do
		if [ $cpus = 0 ]; then n=1; else test_have_prereq TWO_CPUS || continue; n=2; fi
		taskset -c $cpus bpe-learn --stats -v 260 c.txt >/dev/null 2>err &&
		grep -q "^bpe-learn: $n threads\$" err &&
		taskset -c $cpus bpe-encode --stats -m m.bpe c.txt >/dev/null 2>err &&
		grep -q "^bpe-encode: $n threads\$" err &&
		taskset -c $cpus shard -v --zstd -f -o shards z.u16 2>err &&
		grep -q "^shard: $n threads\$" err || { cat err; return 1; }
	done
'

test_expect_success '-j N: N threads, whatever the affinity mask' '
	bpe-learn -j 3 --stats -v 260 c.txt >/dev/null 2>err &&
	grep -q "^bpe-learn: 3 threads\$" err &&
	bpe-encode -j 3 --stats -m m.bpe c.txt >/dev/null 2>err &&
	grep -q "^bpe-encode: 3 threads\$" err &&
	shard -j 3 -v --zstd -f -o shards z.u16 2>err &&
	grep -q "^shard: 3 threads\$" err
'

test_done
