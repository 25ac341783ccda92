#!/bin/bash
# bench/bpe-encode-where.sh — where bpe-encode's time goes, per kind of text
# (the kinds of bench/bpe-encode.sh): callgrind's instruction counts, which
# a shared, noisy machine does not bend, of one thread encoding the first
# HEAD_MB of each kind, and of the start alone (an empty text: loading the
# merges and building the tables). Per kind: instructions a byte without
# the start, and the functions that take the most (self, with what the
# compiler inlined into them), as shares of the run without the start.
# Instructions are not cycles: a lookup that misses the caches costs more
# than its count says (perf record on the bench's corpora shows that side).
#
# The binary is a copy of bpe-encode built for x86-64-v3 in build/where
# (valgrind does not run the AVX-512 that -march=native may pick).
#
# usage: bench/bpe-encode-where.sh [HEAD_MB] [KIND...]   (from the repository root; defaults 2, every kind)
set -eu
head_mb=${1:-2}
shift || true
kinds=${*:-prose c python tech cjk emoji}
PY=${PYTHON:-.venv/bin/python}
D=${SHARED_DATA:-../shared/data}
G=$D/gpt2
top=${TOP:-6}
command -v valgrind >/dev/null || { echo "bench: valgrind is needed" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

make -s MARCH=x86-64-v3 CUDA=0 BUILD=build/where build/where/rel/bin/bpe-encode >&2
BIN=build/where/rel/bin/bpe-encode
. bench/lib-encode-corpora.sh
encode_corpora "$tmp" $((head_mb * 1000000))

profile() {    # NAME FILE: callgrind's output for encoding FILE, in $tmp/NAME.cg
	valgrind -q --tool=callgrind --callgrind-out-file="$tmp/$1.cg" \
		"$BIN" -j 1 -m "$G/vocab.bpe" -s '<|endoftext|>' <"$2" >/dev/null
}
total() { callgrind_annotate "$1" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }'; }

: >"$tmp/empty.txt"
profile start "$tmp/empty.txt"
start=$(total "$tmp/start.cg")
printf 'the start (an empty text): %.1f M instructions\n' "$(awk -v s="$start" 'BEGIN { print s / 1e6 }')"
callgrind_annotate --inclusive=yes "$tmp/start.cg" 2>/dev/null |
	awk '$1 ~ /^[0-9,]+$/ && match($0, /:(merges_read|encoder_new|_dl_start) \[/) {
		name = substr($0, RSTART + 1, RLENGTH - 3); gsub(",", "", $1)
		printf "  %-28s %6.1f M\n", name, $1 / 1e6 }'
for k in $kinds; do
	f=$tmp/$k.txt
	bytes=$(stat -c %s "$f")
	profile "$k" "$f"
	all=$(total "$tmp/$k.cg")
	printf '%s: %.1f instructions a byte without the start (%d bytes)\n' "$k" \
		"$(awk -v a="$all" -v s="$start" -v b="$bytes" 'BEGIN { print (a - s) / b }')" "$bytes"
	# self counts per function, less the start's own count of the same function
	"$PY" - "$tmp/$k.cg" "$tmp/start.cg" "$top" "$((all - start))" <<-'PYEOF'
	import subprocess, sys, re
	def self_counts(path):
	    out = subprocess.run(["callgrind_annotate", path], capture_output=True, text=True).stdout
	    counts = {}
	    for line in out.splitlines():
	        m = re.match(r"\s*([\d,]+) \([ \d.]+%\)\s+(\S+):(\S+)", line)
	        if m:
	            name = m.group(3)
	            counts[name] = counts.get(name, 0) + int(m.group(1).replace(",", ""))
	    return counts
	run, start = self_counts(sys.argv[1]), self_counts(sys.argv[2])
	rest = int(sys.argv[4])
	net = sorted(((c - start.get(f, 0), f) for f, c in run.items()), reverse=True)
	for c, f in net[: int(sys.argv[3])]:
	    print("  %-28s %5.1f%%" % (f, 100.0 * c / rest))
	PYEOF
done
