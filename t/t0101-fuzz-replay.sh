#!/bin/bash
test_description='the fuzz targets, replayed: seed corpora and every input that once crashed

Each fuzz/fuzz_NAME.c is also built with a plain main (fuzz/replay.c) into
$(O)/fuzz/bin/replay-NAME against the library under test, sanitized in make
check: it runs the target once on each file of fuzz/corpus/NAME and
fuzz/regressions/NAME, leaks and oversized allocations included (as
under libFuzzer). A crash that
make fuzz finds is saved in fuzz/regressions/NAME once fixed, and stays
fixed here.'
. ./lib-test.sh

FUZZ=$TOP/fuzz
# As under make fuzz: a leak is a finding, and so is an allocation above
# its memory limit (scripts/fuzz.sh's -rss_limit_mb) that an input asks for.
REPLAY_ASAN=detect_leaks=1:abort_on_error=0:max_allocation_size_mb=2048
REPLAY=$LMPIPE_BIN/../fuzz/bin

test_expect_success 'every fuzz target has its replay, its seeds and its dictionary' '
	ls "$FUZZ"/fuzz_*.c >targets && test -s targets &&
	while read -r src; do
		n=$(basename "$src" .c) && n=${n#fuzz_} &&
		test -x "$REPLAY/replay-$n" || { echo "no replay-$n"; return 1; }
		ls "$FUZZ/corpus/$n"/* >/dev/null || { echo "no seeds for $n"; return 1; }
		test -f "$FUZZ/$n.dict" || { echo "no $n.dict"; return 1; }
	done <targets
'

for src in "$FUZZ"/fuzz_*.c; do
	n=$(basename "$src" .c) && n=${n#fuzz_}
	test_expect_success "$n: the seed corpus and the saved crashes run clean" "
		dirs=\"$FUZZ/corpus/$n\" &&
		if test -d \"$FUZZ/regressions/$n\"; then dirs=\"\$dirs $FUZZ/regressions/$n\"; fi &&
		ASAN_OPTIONS=\$REPLAY_ASAN \"$REPLAY/replay-$n\" \$dirs >out &&
		grep '^replayed [1-9][0-9]* inputs\$' out
	"
done

test_done
