#!/bin/bash
# bench/lm-train-cuda.sh — training tokens/s on one GPU: lm-train --device
# cuda beside bench/torch_gpt2_bench.py (nanoGPT-style PyTorch:
# torch.compile, flash SDPA, bf16 autocast, fused AdamW), the same model
# shape, micro-batch and T = 1024, one after the other in one run, with the
# peak GPU memory of each (nvidia-smi, sampled every 100 ms).
#
#   bench/lm-train-cuda.sh [MODEL [MICRO_BATCH [FAMILY [STEPS [TORCH_BATCH]]]]]
#       MODEL   gpt2 | gpt2-medium | gpt2-large | gpt2-xl      (gpt2)
#       FAMILY  gpt2 | llama (the llama family at MODEL's shape) (gpt2)
#       defaults: gpt2 64 gpt2 30; TORCH_BATCH defaults to MICRO_BATCH
#
# lm-train trains on Shakespeare's tokens (the data does not change the
# speed); its figure is the median tok/s of the steps after the fifth, from
# log.jsonl, one step = one micro-batch (no accumulation), global-norm
# clipping and AdamW included, as torch's step. PyTorch trains on random
# tokens with its own timing (20 steps after 8 warm-ups). MFU: lm-stat's
# FLOP count over 989 TFLOP/s (H100 SXM dense bf16).
# Needs make (build/rel) with CUDA, a GPU, python3 with torch, and
# ../shared (or LMPIPE_SHARED) for the corpus.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
model=${1:-gpt2} B=${2:-64} family=${3:-gpt2} steps=${4:-30} torch_B=${5:-${2:-64}}
bin=${LMPIPE_REL_BIN:-$top/build/rel/bin}
shared=${LMPIPE_SHARED:-$top/../shared}
python=${LMPIPE_PYTHON:-python3}
case $model in
gpt2) torch_model=gpt2 ;; gpt2-medium) torch_model=gpt2m ;;
gpt2-large) torch_model=gpt2l ;; gpt2-xl) torch_model=gpt2xl ;;
*) echo "bench/lm-train-cuda.sh: MODEL is one of gpt2, gpt2-medium, gpt2-large, gpt2-xl" >&2; exit 2 ;;
esac
work=$(mktemp -d "${TMPDIR:-/tmp}/train-bench.XXXXXX")
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$work"' EXIT

# the largest memory.used nvidia-smi reports while "$@" runs, in MiB
peak_mem() {
	(while :; do nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits; sleep 0.1; done) \
		>"$work/mem" 2>/dev/null &
	local sampler=$! rc=0
	"$@" || rc=$?
	kill $sampler 2>/dev/null; wait $sampler 2>/dev/null || true
	sort -n "$work/mem" | tail -1
	return $rc
}

echo "model $model ($family family), micro-batch $B x 1024 (torch $torch_B), $steps steps"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
"$bin/bpe-encode" <"$shared/data/corpus/tinyshakespeare.txt" | "$bin/shard" -o "$work/data" --val-tokens 65536 >/dev/null

ours_mem=$(peak_mem "$bin/lm-train" "$work/data" --model "$model" --family "$family" --ctx 1024 \
	-b "$B" --batch-tokens $((B * 1024)) --steps "$steps" --eval-every 0 --sample-every 0 \
	--ckpt-every 0 --peak 989T --device cuda -o "$work/run" 2>"$work/ours.err" | tail -1) ||
	{ cat "$work/ours.err" >&2; exit 1; }
ours=$(grep -o '"tok_s":[0-9.e+]*' "$work/run/log.jsonl" | tail -n +6 | cut -d: -f2 | sort -g |
	awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}')
mfu=$(grep -o '"mfu":[0-9.e+-]*' "$work/run/log.jsonl" | tail -n +6 | cut -d: -f2 | sort -g |
	awk '{v[NR] = $1} END {printf "%.1f", 100 * v[int((NR + 1) / 2)]}')

torch_out=$(peak_mem "$python" "$top/bench/torch_gpt2_bench.py" "$torch_model" "$torch_B" compile \
	"$family" 2>"$work/torch.err") || { tail -5 "$work/torch.err" >&2; exit 1; }
torch_line=$(grep 'tok/s=' <<<"$torch_out" || true)
torch_mem=$(tail -1 <<<"$torch_out")
torch=$(sed -n 's/.*tok\/s=\([0-9]*\).*/\1/p' <<<"$torch_line")

printf 'lm-train   %9.0f tok/s  MFU %s%%  peak GPU memory %s MiB\n' "$ours" "$mfu" "$ours_mem"
printf 'PyTorch    %9.0f tok/s  (%s)  peak GPU memory %s MiB\n' "$torch" "$torch_line" "$torch_mem"
awk -v a="$ours" -v b="$torch" 'BEGIN {printf "ratio      %.2fx PyTorch\n", a / b}'
