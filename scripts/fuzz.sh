#!/bin/sh
# fuzz.sh DIR SECONDS NAME... — run each libFuzzer target DIR/fuzz/bin/fuzz_NAME
# for SECONDS, one after the other (make fuzz builds them).
#
# Seeds: fuzz/corpus/NAME (read only); what a run finds new goes to
# DIR/corpus/NAME, kept for the next run. Dictionary: fuzz/NAME.dict when
# there is one. A crash, leak or timeout leaves its input in DIR/crashes/
# and fails the whole run, after every target has run; copy the input to
# fuzz/regressions/NAME/ (t0101 replays it in make check) once fixed.
set -u
dir=${1:?usage: fuzz.sh DIR SECONDS NAME...}
secs=${2:?usage: fuzz.sh DIR SECONDS NAME...}
shift 2
mkdir -p "$dir/crashes"
failed=""
for name in "$@"; do
	bin=$dir/fuzz/bin/fuzz_$name
	[ -x "$bin" ] || { echo "fuzz: no target $bin" >&2; failed="$failed $name"; continue; }
	mkdir -p "$dir/corpus/$name" "fuzz/corpus/$name"
	dict=""
	[ -f "fuzz/$name.dict" ] && dict="-dict=fuzz/$name.dict"
	echo "fuzz: $name for ${secs}s" >&2
	# shellcheck disable=SC2086
	if ! "$bin" -max_total_time="$secs" -timeout=20 -rss_limit_mb=2048 -max_len=65536 \
		-print_final_stats=1 $dict -artifact_prefix="$dir/crashes/$name-" \
		"$dir/corpus/$name" "fuzz/corpus/$name" >"$dir/$name.log" 2>&1; then
		failed="$failed $name"
		grep -E 'ERROR|SUMMARY|Test unit written' "$dir/$name.log" >&2
	fi
	grep -E '^stat::number_of_executed_units|^#[0-9]+ *DONE' "$dir/$name.log" | tail -2 | sed "s/^/fuzz: $name: /" >&2
done
if [ -n "$failed" ]; then
	echo "fuzz: findings in:$failed (inputs in $dir/crashes, logs in $dir/NAME.log)" >&2
	exit 1
fi
echo "fuzz: no finding in $# targets, ${secs}s each" >&2
