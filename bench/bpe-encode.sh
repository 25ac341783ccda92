#!/bin/bash
# bench/bpe-encode.sh — bpe-encode against tiktoken's gpt2 encoding, one
# thread each, on the same English text (tinystories + tiny shakespeare
# repeated to about SIZE_MB, default 50), then bpe-encode's -j scaling.
# Prints MB/s of each and the ratio; checks the ids are equal.
#
# usage: bench/bpe-encode.sh [SIZE_MB]   (from the repository root, after make)
set -eu
size_mb=${1:-50}
BIN=${LMPIPE_REL_BIN:-build/rel/bin}
PY=${PYTHON:-.venv/bin/python}
D=${SHARED_DATA:-../shared/data}
G=$D/gpt2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

while [ "$(stat -c %s "$tmp/text" 2>/dev/null || echo 0)" -lt $((size_mb * 1000000)) ]; do
	cat "$D/corpus/tinystories_val_head.txt" "$D/corpus/tinyshakespeare.txt" >>"$tmp/text"
done
bytes=$(stat -c %s "$tmp/text")
echo "text: $bytes bytes of English (tinystories + tiny shakespeare)"

tt=$("$PY" - "$tmp/text" "$tmp/tiktoken.ids" "$G" <<'PYEOF'
import sys, time, json, os
import numpy as np
sys.path.insert(0, "t")
import importlib
os.environ["GPT2_DATA"] = sys.argv[3]
lt = importlib.import_module("lib-tiktoken")
enc = lt.gpt2()
text = open(sys.argv[1], encoding="utf-8").read()
t = time.perf_counter()
ids = enc.encode(text, allowed_special="all")
dt = time.perf_counter() - t
np.array(ids, dtype="<u2").tofile(sys.argv[2])
print(dt)
PYEOF
)
mbs() { awk -v b="$bytes" -v t="$1" 'BEGIN { printf "%.1f", b / t / 1e6 }'; }
run() {
	local t0 t1
	t0=$(date +%s.%N)
	"$BIN/bpe-encode" -m "$G/vocab.bpe" -s '<|endoftext|>' "$@" "$tmp/text" >"$tmp/ours.ids"
	t1=$(date +%s.%N)
	cmp -s "$tmp/ours.ids" "$tmp/tiktoken.ids" || { echo "bpe-encode $*: ids differ from tiktoken's" >&2; exit 1; }
	awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }'
}
t1=$(run -j 1)
t2=$(run -j 2)
echo "tiktoken 0.8.0 gpt2, 1 thread:  $(mbs "$tt") MB/s"
echo "bpe-encode -j 1:                $(mbs "$t1") MB/s  ($(awk -v a="$tt" -v b="$t1" 'BEGIN { printf "%.1f", a / b }')x tiktoken)"
echo "bpe-encode -j 2:                $(mbs "$t2") MB/s  ($(awk -v a="$t1" -v b="$t2" 'BEGIN { printf "%.2f", a / b }')x -j 1)"
echo "(bpe-encode times include loading the merges and reading the file; ids checked equal)"
