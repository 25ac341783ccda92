#!/bin/bash
# scripts/gpu-check.sh — what to run on a machine with an NVIDIA GPU: the
# GPU tests (t7xxx: every kernel against its CPU twin, the model, lm-train
# on CUDA), then the training benchmarks beside PyTorch. Each part's log
# goes to OUT_DIR; a summary is printed last.
#
#   scripts/gpu-check.sh OUT_DIR [tests] [bench] [bench-xl] [bench-llama] [kernels]
#       (no part named: tests and bench; kernels: bench/cuda-kernel-times.sh,
#       where a gpt2 step's GPU time goes, by kernel)
#
# Each test script gets GPU_TEST_TIMEOUT seconds (300); GPU_TESTS picks
# scripts (default t7*.sh).
# Uses the tools in LMPIPE_BIN (default build/rel/bin, built with CUDA),
# ../shared or LMPIPE_SHARED, and python3 (LMPIPE_PYTHON) for torch.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
out=${1:?usage: scripts/gpu-check.sh OUT_DIR [tests] [bench] [bench-xl] [bench-llama] [kernels]}
shift
parts=${*:-tests bench}
mkdir -p "$out"
export LMPIPE_BIN=${LMPIPE_BIN:-$top/build/rel/bin} LMPIPE_REL_BIN=${LMPIPE_REL_BIN:-${LMPIPE_BIN:-$top/build/rel/bin}}
export LMPIPE_PYTHON=${LMPIPE_PYTHON:-$(command -v python3)} PYTHONUNBUFFERED=1
summary=$out/summary.txt
: >"$summary"

run_tests() {
	cd "$top/t" || return 1
	for t in ${GPU_TESTS:-t7*.sh}; do
		local start=$SECONDS
		timeout "${GPU_TEST_TIMEOUT:-300}" bash "$t" -v >"$out/$t.log" 2>&1
		local rc=$?
		printf '%-34s rc=%d %3ds  %s\n' "$t" $rc $((SECONDS - start)) \
			"$(grep -c '^ok' "$out/$t.log") ok, $(grep -c '^not ok' "$out/$t.log") not ok" |
			tee -a "$summary"
		grep '^not ok' "$out/$t.log" | tee -a "$summary"
	done
	cd "$top" || return 1
}

run_bench() {  # NAME ARGS...
	local name=$1
	shift
	"$top/bench/lm-train-cuda.sh" "$@" >"$out/$name.log" 2>&1
	echo "== $name: bench/lm-train-cuda.sh $*" | tee -a "$summary"
	tail -4 "$out/$name.log" | tee -a "$summary"
}

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee -a "$summary"
for p in $parts; do
	case $p in
	tests) run_tests ;;
	bench) run_bench bench-gpt2 gpt2 64 gpt2 30 ;;
	bench-llama) run_bench bench-llama gpt2 64 llama 30 ;;
	bench-xl) run_bench bench-xl gpt2-xl 12 gpt2 12 8 ;;   # ~61 GB for ours at 12 (28 GB state)
	kernels) "$top/bench/cuda-kernel-times.sh" >"$out/kernels.log" 2>&1
		echo "== kernels: bench/cuda-kernel-times.sh (rc=$?)" | tee -a "$summary"
		head -25 "$out/kernels.log" | tee -a "$summary" ;;
	*) echo "scripts/gpu-check.sh: unknown part '$p'" >&2; exit 2 ;;
	esac
done
echo "---- summary"
cat "$summary"
