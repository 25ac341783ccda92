#!/bin/bash
# bench/lm-eval.sh — lm-eval hellaswag and lm-sample against PyTorch/transformers
# on CPU, same random GPT-2-shaped model, same items (not run in CI).
#
#   bench/lm-eval.sh [LAYERS WIDTH HEADS [ITEMS [TOKENS]]]     default: 12 768 12 200 64 (GPT-2 124M)
#
# Needs .venv (make deps), ../shared/data (HellaSwag text form, GPT-2 merges)
# and a built tree (make). Prints seconds and items/s, tokens/s, and checks
# that the per-item choices agree.
set -eu
cd "$(dirname "$0")/.."
L=${1:-12} C=${2:-768} NH=${3:-12} N=${4:-200} NEW=${5:-64}
BIN=${LMPIPE_REL_BIN:-build/rel/bin}
PY=.venv/bin/python
export SHARED_DATA=${SHARED_DATA:-../shared/data}
export GPT2_DATA=${GPT2_DATA:-$SHARED_DATA/gpt2}  # t/lib-tiktoken.py
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
"$PY" bench/random_gpt2.py "$W/m" "$L" "$C" "$NH"
bzip2 -dc "$SHARED_DATA/hellaswag/hellaswag_val_full.txt.bz2" | head -n $((6 * N)) >"$W/hs.txt"
TOK="--tokenizer $SHARED_DATA/gpt2/vocab.bpe"
echo "model: $L layers, width $C; $N HellaSwag items; $(nproc) CPUs"
t0=$(date +%s.%N)
"$BIN/lm-eval" hellaswag "$W/m" --device cpu --data "$W/hs.txt" -v --json $TOK >"$W/ours.json"
t1=$(date +%s.%N)
"$PY" t/py/eval_ref.py hellaswag "$W/m" "$W/hs.txt" >"$W/ref.jsonl"
t2=$(date +%s.%N)
"$PY" - "$W/ours.json" "$W/ref.jsonl" <<'PY'
import json, sys
a = json.load(open(sys.argv[1]))["items"]; b = [json.loads(l) for l in open(sys.argv[2])]
same = sum(x["pred"] == y["pred"] and x["pred_norm"] == y["pred_norm"] for x, y in zip(a, b))
print(f"per-item choices equal: {same}/{len(b)}")
PY
awk -v a="$t0" -v b="$t1" -v c="$t2" -v n="$N" 'BEGIN {
	printf "lm-eval hellaswag:        %7.2f s  %7.2f items/s\n", b - a, n / (b - a)
	printf "PyTorch (transformers):   %7.2f s  %7.2f items/s (incl. ~4 s of imports)\n", c - b, n / (c - b) }'
t0=$(date +%s.%N)
"$BIN/lm-sample" "$W/m" --device cpu -p "Once upon a time" -n "$NEW" -t 0 --ids $TOK >"$W/ours.ids"
t1=$(date +%s.%N)
"$PY" t/py/eval_ref.py generate "$W/m" "Once upon a time" "$NEW" >"$W/ref.ids"
t2=$(date +%s.%N)
cmp -s "$W/ours.ids" "$W/ref.ids" && echo "greedy tokens equal" || echo "greedy tokens DIFFER"
awk -v a="$t0" -v b="$t1" -v c="$t2" -v n="$NEW" 'BEGIN {
	printf "lm-sample (KV cache):     %7.2f s  %7.1f tokens/s\n", b - a, n / (b - a)
	printf "transformers generate:    %7.2f s  %7.1f tokens/s (incl. imports)\n", c - b, n / (c - b) }'
