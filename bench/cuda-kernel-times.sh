#!/bin/bash
# bench/cuda-kernel-times.sh — where a training step's GPU time goes: every
# kernel lm-train --device cuda launches in a window of steps, timed one at
# a time by Nsight Compute (ncu, duration only), summed by kernel name.
#
#   bench/cuda-kernel-times.sh [MODEL [MICRO_BATCH [FAMILY [SKIP [COUNT]]]]]
#       defaults: gpt2 64 gpt2; SKIP (3000) kernels are let run untimed
#       (start-up and the first steps), then COUNT (700) are timed: two
#       or more whole steps of the 124M model, whose step launches about
#       300 kernels.
#
# Prints one line a kernel name: calls, total milliseconds in the window,
# share of the window; names are shortened to the kernel's own (cuBLASLt's
# GEMMs keep their tile names). ncu serializes the kernels and replays
# each, so the sum is the GPU time of the kernels alone: no overlap, no
# launch gaps (bench/lm-train-cuda.sh has the end-to-end figure). Needs ncu
# (Nsight Compute) that can read the GPU's counters, a CUDA build in
# build/rel (or LMPIPE_REL_BIN) and ../shared (or LMPIPE_SHARED).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
model=${1:-gpt2} B=${2:-64} family=${3:-gpt2} skip=${4:-3000} count=${5:-700}
bin=${LMPIPE_REL_BIN:-$top/build/rel/bin}
shared=${LMPIPE_SHARED:-$top/../shared}
python=${LMPIPE_PYTHON:-python3}
ncu=${NCU:-ncu}
command -v "$ncu" >/dev/null || { echo "bench/cuda-kernel-times.sh: no ncu (Nsight Compute) on PATH" >&2; exit 2; }
work=$(mktemp -d "${TMPDIR:-/tmp}/kernel-times.XXXXXX")
trap 'rm -rf "$work"' EXIT

"$bin/bpe-encode" <"$shared/data/corpus/tinyshakespeare.txt" | "$bin/shard" -o "$work/data" --val-tokens 65536 >/dev/null
echo "model $model ($family family), micro-batch $B x 1024; kernels $skip..$((skip + count - 1)) timed"
"$ncu" --clock-control none --metrics gpu__time_duration.sum --csv --print-units base \
	--launch-skip "$skip" --launch-count "$count" \
	"$bin/lm-train" "$work/data" --model "$model" --family "$family" --ctx 1024 \
	-b "$B" --batch-tokens $((B * 1024)) --steps 100 --eval-every 0 --sample-every 0 \
	--ckpt-every 0 --device cuda -o "$work/run" >"$work/ncu.csv" 2>"$work/ncu.err" ||
	{ tail -20 "$work/ncu.err" >&2; exit 1; }
"$python" - "$work/ncu.csv" <<'PY'
import csv, collections, re, sys
rows = [r for r in csv.reader(l for l in open(sys.argv[1]) if l.startswith('"'))]
head, body = rows[0], rows[1:]
col = {h: i for i, h in enumerate(head)}
to_ms = {"nsecond": 1e-6, "ns": 1e-6, "usecond": 1e-3, "us": 1e-3, "msecond": 1.0, "ms": 1.0,
         "second": 1e3, "s": 1e3}
total, calls = collections.Counter(), collections.Counter()
for r in body:
    if r[col["Metric Name"]] != "gpu__time_duration.sum":
        continue
    full = r[col["Kernel Name"]]
    name = re.sub(r"^void |[<(].*", "", full).split("::")[-1].strip() or full
    total[name] += float(r[col["Metric Value"]].replace(",", "")) * to_ms[r[col["Metric Unit"]]]
    calls[name] += 1
window = sum(total.values())
print(f"{'kernel':60} {'calls':>6} {'ms':>9} {'share':>6}")
for name, ms in total.most_common():
    print(f"{name[:60]:60} {calls[name]:6d} {ms:9.3f} {100 * ms / window:5.1f}%")
print(f"{'all':60} {sum(calls.values()):6d} {window:9.3f}")
PY
