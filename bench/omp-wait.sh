#!/bin/bash
# bench/omp-wait.sh — how OpenMP's idle threads wait, and what it costs when
# another process holds a core: a 20-step lm-train (a small model, 2
# threads) alone and beside a busy loop pinned to one CPU, with each wait
# policy (not run in CI):
#
#   passive   the tools' default (share/util/threads.h): idle threads sleep
#   spin      GOMP_SPINCOUNT=300000, libgomp's own default, the tools' old
#             behaviour: idle threads spin that long at each barrier
#   active    OMP_WAIT_POLICY=active: idle threads spin until there is work
#
# It prints the wall seconds of each run and, for each policy, busy / alone;
# then the old default's time beside a busy core over the new default's.
# The figures depend on the machine's load: run it on an idle machine, and
# read the load average it prints.
#
#   bench/omp-wait.sh [STEPS [THREADS]]       default: 20 steps, 2 threads
#
# Needs make (build/rel: lm-train, shard, test-tool) and 2 CPUs or more.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
steps=${1:-20} threads=${2:-2}
bin=${LMPIPE_REL_BIN:-$top/build/rel/bin}
[ -x "$bin/test-tool" ] || { echo "bench/omp-wait.sh: no $bin/test-tool (run make)" >&2; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/omp-wait.XXXXXX")
busy=
trap '[ -n "$busy" ] && kill "$busy" 2>/dev/null; rm -rf "$work"' EXIT
"$bin/test-tool" train stream 200000 512 | "$bin/shard" -o "$work/data" --vocab 512 --val-tokens 4096 2>/dev/null

# run POLICY: wall seconds of one run under that policy's environment
run() {
	local env=(env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT OMP_NUM_THREADS="$threads")
	case $1 in
	spin) env+=(GOMP_SPINCOUNT=300000) ;;
	active) env+=(OMP_WAIT_POLICY=active) ;;
	esac
	local t0 t1
	t0=$(date +%s.%N)
	"${env[@]}" "$bin/lm-train" "$work/data" --model d2 --vocab 512 --ctx 64 --batch-tokens 1024 -b 4 \
		--steps "$steps" --eval-every 0 --sample-every 0 --ckpt-every 0 -f -o "$work/run" 2>/dev/null
	t1=$(date +%s.%N)
	echo "$t1 - $t0" | bc
}

echo "lm-train: $steps steps, model d2, vocab 512, ctx 64, 1024 tokens a step, $threads threads; $(nproc) CPUs"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
declare -A alone busy_s
for p in passive spin active; do alone[$p]=$(run $p); done
taskset -c 0 sh -c 'while :; do :; done' &
busy=$!
for p in passive spin active; do busy_s[$p]=$(run $p); done
kill "$busy" && wait "$busy" 2>/dev/null || true
busy=
printf '%-8s %8s %14s %8s\n' policy alone "beside busy" ratio
for p in passive spin active; do
	printf '%-8s %8.2f %14.2f %8.1f\n' $p "${alone[$p]}" "${busy_s[$p]}" "$(echo "${busy_s[$p]} / ${alone[$p]}" | bc -l)"
done
printf 'beside a busy core, old default (spin) / new default (passive): %.1f\n' \
	"$(echo "${busy_s[spin]} / ${busy_s[passive]}" | bc -l)"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
