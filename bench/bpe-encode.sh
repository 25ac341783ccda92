#!/bin/bash
# bench/bpe-encode.sh — bpe-encode against tiktoken's gpt2 encoding, one
# thread each, on six kinds of text of about SIZE_MB each (default 20),
# made by bench/bpe_encode_corpora.py (which says what each is; through
# bench/lib-encode-corpora.sh):
#   prose (English), c (/usr/include), python (site-packages), tech (licences,
#   copyright files, man pages, dpkg/apt logs), cjk (Chinese, Japanese,
#   Russian, Arabic, Hindi with Latin, from Faker's word lists), emoji (chat
#   lines with emoji from the emoji package's table).
# Faker and emoji are fetched once by pip, pinned by version and sha256, into
# build/bench-wheels (never installed). Where the time goes, per kind:
# bench/bpe-encode-where.sh.
#
# Time is CPU time (user + sys): tiktoken's time.process_time() around
# encode(); bpe-encode's whole process by wait4's rusage (loading the merges,
# reading, its reader/writer threads included), so a busy machine does not
# bend the ratio. Per kind: MB/s of each, the ratio, the ids checked equal.
# Then bpe-encode's -j scaling (wall time) on the concatenation of all kinds,
# -j 1 up to the machine's cores. Each side's time per kind is the best of
# RUNS runs (default 3): a shared machine's noise only ever adds time.
#
# usage: [RUNS=N] bench/bpe-encode.sh [SIZE_MB] [KIND...]   (from the repository root, after make)
set -eu
size_mb=${1:-20}
shift || true
kinds=${*:-prose c python tech cjk emoji}
runs=${RUNS:-3}
BIN=${LMPIPE_REL_BIN:-build/rel/bin}
PY=${PYTHON:-.venv/bin/python}
D=${SHARED_DATA:-../shared/data}
G=$D/gpt2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

. bench/lib-encode-corpora.sh
encode_corpora "$tmp" $((size_mb * 1000000))

# ---- tiktoken: CPU seconds of encode() per kind --------------------------
set --
for k in $kinds; do set -- "$@" "$tmp/$k.txt"; done
"$PY" - "$G" "$runs" "$@" >"$tmp/tiktoken.cpu" <<'PYEOF'
import sys, time, os, importlib
import numpy as np
sys.path.insert(0, "t")
os.environ["GPT2_DATA"] = sys.argv[1]
enc = importlib.import_module("lib-tiktoken").gpt2()
for path in sys.argv[3:]:
    text = open(path, encoding="utf-8", newline="").read()
    dt = float("inf")
    for _ in range(int(sys.argv[2])):
        t = time.process_time()
        ids = enc.encode(text, allowed_special="all")
        dt = min(dt, time.process_time() - t)
    np.array(ids, dtype="<u2").tofile(path + ".tiktoken")
    print(dt)
PYEOF

# ---- bpe-encode: CPU seconds of the process ------------------------------
cpu() {    # EXPECTED ARGS...: user+sys and wall seconds; ids checked equal to EXPECTED
	local f=$1
	shift
	"$PY" - "$BIN/bpe-encode" -m "$G/vocab.bpe" -s '<|endoftext|>' "$@" <<-'PYEOF' >"$tmp/ours.ids" 3>"$tmp/time"
	import os, sys, time    # the child's rusage in microseconds (/usr/bin/time's are 10 ms)
	t = time.perf_counter()
	pid = os.spawnv(os.P_NOWAIT, sys.argv[1], sys.argv[1:])
	_, status, ru = os.wait4(pid, 0)
	wall = time.perf_counter() - t
	os.write(3, b"%.4f %.4f\n" % (ru.ru_utime + ru.ru_stime, wall))
	sys.exit(os.waitstatus_to_exitcode(status))
	PYEOF
	cmp -s "$tmp/ours.ids" "$f" || { echo "bench: bpe-encode $*: ids differ from tiktoken's" >&2; exit 1; }
	cat "$tmp/time"
}
mbs() { awk -v b="$1" -v t="$2" 'BEGIN { printf "%.1f", (t > 0 ? b / t / 1e6 : 0) }'; }

# the start (loading the merges, building the tables), on an empty text
: >"$tmp/empty.txt"
: >"$tmp/empty.txt.tiktoken"
best() {    # EXPECTED ARGS...: the least user+sys seconds of RUNS runs
	for ((r = 0; r < runs; r++)); do cpu "$@"; done | sort -n | head -1 | cut -d' ' -f1
}
start=$(best "$tmp/empty.txt.tiktoken" -j 1 "$tmp/empty.txt")
echo "bpe-encode's start (an empty text): $start s of CPU"
printf '%-7s %9s  %14s  %16s  %6s  %22s\n' kind MB 'tiktoken MB/s' 'bpe-encode MB/s' ratio 'without the start'
i=0
for k in $kinds; do
	i=$((i + 1))
	f=$tmp/$k.txt
	bytes=$(stat -c %s "$f")
	tt=$(sed -n "${i}p" "$tmp/tiktoken.cpu")
	ours=$(best "$f.tiktoken" -j 1 "$f")
	rest=$(awk -v a="$ours" -v b="$start" 'BEGIN { print a - b }')
	printf '%-7s %9.1f  %14s  %16s  %5.1fx  %9s MB/s %5.1fx\n' "$k" "$(awk -v b="$bytes" 'BEGIN { print b / 1e6 }')" \
		"$(mbs "$bytes" "$tt")" "$(mbs "$bytes" "$ours")" "$(awk -v a="$tt" -v b="$ours" 'BEGIN { print a / b }')" \
		"$(mbs "$bytes" "$rest")" "$(awk -v a="$tt" -v b="$rest" 'BEGIN { print a / b }')"
done
echo "(CPU time, user+sys, one thread each, the best of $runs runs; bpe-encode's includes loading the merges and reading; ids checked equal)"

# ---- -j scaling ------------------------------------------------------------
# each file a text of its own, as tiktoken saw them
for k in $kinds; do cat "$tmp/$k.txt.tiktoken"; done >"$tmp/all.tiktoken"
bytes=$(cat "$@" | wc -c)
cores=$(nproc)
echo "-j scaling on all kinds together ($((bytes / 1000000)) MB; $cores cores; wall time, a shared machine bends it):"
w1=
for ((j = 1; j <= cores; j *= 2)); do
	read -r c w < <(cpu "$tmp/all.tiktoken" -j "$j" "$@")
	w1=${w1:-$w}
	printf '  -j %-3d %7s MB/s wall  %7s MB/s of CPU  %5.2fx -j 1\n' "$j" "$(mbs "$bytes" "$w")" \
		"$(mbs "$bytes" "$c")" "$(awk -v a="$w1" -v b="$w" 'BEGIN { print a / b }')"
done
