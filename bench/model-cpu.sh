#!/bin/bash
# bench/model-cpu.sh — tokens/s of one training step of the CPU model
# (forward + backward + clip + AdamW) beside PyTorch on the CPU: the same
# model (t/py/model_ref.py's explicit implementation, float32), the same
# batch, the same number of threads, timed the same way (one warm-up step,
# the median of STEPS). The runs alternate ours/torch ROUNDS times so that
# both see the same machine load; the load average is printed with them.
#
#   bench/model-cpu.sh [MODEL [B [T [STEPS [THREADS [ROUNDS]]]]]]
#       defaults: cs336-ts 8 256 3 2 2 (CS336's TinyStories model, 22.8 M
#       parameters with its untied head, 2048 tokens a step)
#
# PyTorch here is Debian's 1.13, which needs OpenBLAS (libopenblas0-pthread,
# in make deps) for its matrix products: with Debian's reference BLAS it is
# about 100 times slower, and the comparison would mean nothing.
# Needs make (build/rel: test-tool) and make deps.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
model=${1:-cs336-ts} B=${2:-8} T=${3:-256} steps=${4:-3} threads=${5:-2} rounds=${6:-2}
bin=${LMPIPE_REL_BIN:-$top/build/rel/bin}
python=$top/.venv/bin/python
[ -x "$bin/test-tool" ] || { echo "bench/model-cpu.sh: no $bin/test-tool (run make)" >&2; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/model-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
"$bin/test-tool" config "$model" | sed 's/ padded_vocab=.*//' >"$work/config.json"

echo "model $model, batch $B x $T, $threads threads, median of $steps steps, $rounds rounds"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
field() { sed -n "s/.*$1=\([^ ]*\).*/\1/p"; }
ours_all= torch_all=
for r in $(seq "$rounds"); do
	o=$(OMP_NUM_THREADS=$threads "$bin/test-tool" model-bench "$model" "$B" "$T" "$steps")
	p=$(OMP_NUM_THREADS=$threads "$python" "$top/bench/model_cpu_torch.py" "$work/config.json" \
		"$B" "$T" "$steps" "$threads")
	ot=$(echo "$o" | field tok_per_s) pt=$(echo "$p" | field tok_per_s)
	printf 'round %d: lmpipe %7s tok/s (%s ms/step)   torch %7s tok/s (%s ms/step)   load %s\n' \
		"$r" "$ot" "$(echo "$o" | field ms_per_step)" "$pt" "$(echo "$p" | field ms_per_step)" \
		"$(cut -d' ' -f1 /proc/loadavg)"
	ours_all="$ours_all $ot" torch_all="$torch_all $pt"
done
best() { echo "$@" | tr ' ' '\n' | sort -n | tail -1; }
bo=$(best $ours_all) bt=$(best $torch_all)
echo "best: lmpipe $bo tok/s, torch $bt tok/s, ratio $(echo "scale=2; $bo / $bt" | bc -l)x"
