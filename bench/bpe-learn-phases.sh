#!/bin/bash
# bench/bpe-learn-phases.sh — where bpe-learn's time goes: counting (read,
# pre-tokenize, count) and merging, wall and CPU seconds of each (--stats),
# at vocab 32000 and 100000, with 1 thread and with THREADS; the merges of
# every run compared (the same file whatever -j). With BEFORE=path/to/an/older/
# bpe-learn, the same runs with it too, and its merges compared with ours.
#
#   bench/bpe-learn-phases.sh [MB] [THREADS] [RUNS] [CORPUS]   defaults: 1000 2 1, built
#
# Each row is the run with the least total CPU time of RUNS (the machine is
# shared: the load average before that run is printed). BEFORE must print
# --stats' CPU line (build the older share/tok/learn_merge.c with this
# bpe-learn.c). The corpus, MB megabytes
# under $TMPDIR (removed at the end; give CORPUS to use a file of yours):
# the text this machine holds, in this order: ../shared/data's corpora
# (tiny shakespeare, the head of TinyStories, CS336's corpus.en, HellaSwag's
# validation set), Debian's /usr/share/doc (changelogs, copyrights, READMEs)
# and man pages (roff), the Python sources under /usr/lib/python3*, the C
# headers of /usr/include, and /usr/share/{fpcsrc,perl,perl5,vim,i18n}
# (Free Pascal sources, Perl modules, Vim's runtime, locale sources); NUL
# bytes and invalid UTF-8 dropped, then repeated up to MB. On the project's
# box that is 854 MB of text before repeating, more code than prose: 287M
# pre-tokens, 2.19M distinct, in 1000 MB.
#
# Measured on the project's 2-core box (shared, load average 2.1-2.4 before
# each run), BEFORE = bpe-learn at 7089436 with only --stats' CPU line added
# (its counting without the table fix too), `bench/bpe-learn-phases.sh
# 1000 2 1 corpus`: seconds, wall / CPU
#   vocab   -j   counting before   counting now   merging before   merging now
#   32000    1     9.77 / 9.75      9.69 / 9.62     7.92 / 7.86     3.48 / 3.47
#   32000    2    11.76 / 14.04     7.98 / 13.14    7.33 / 7.29     2.82 / 3.30
#   100000   1     9.68 / 9.63      9.73 / 9.65    10.59 / 10.53    4.83 / 4.82
#   100000   2     8.87 / 13.41    12.12 / 11.99   10.90 / 10.89    4.72 / 4.64
# Merging was 45-52% of a 1-thread run's CPU time, now 27-33%. The
# merges, every run: the same file. Wall time with 2 threads swings by 2x
# from run to run here (other jobs hold the cores): read CPU time.

set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
mb=${1:-1000}
threads=${2:-2}
runs=${3:-1}
corpus=${4:-}
bin=${LMPIPE_REL_BIN:-$top/build/rel/bin}
data=${LMPIPE_SHARED:-$top/../shared}/data
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# ---- the corpus ------------------------------------------------------------------
if [ -z "$corpus" ]; then
	corpus=$work/corpus.txt
	need=$((mb * 1000000 / 1024 + 2048))  # KB: the corpus and its base
	avail=$(df -Pk "$work" | awk 'NR == 2 { print $4 }')
	if [ "$avail" -lt $((2 * need)) ]; then
		echo "bpe-learn-phases: $((avail / 1024)) MB free under $work, $((2 * need / 1024)) MB needed: give a smaller MB" >&2
		exit 1
	fi
	some_text() {  # the files named on stdin, decompressed where gzipped
		LC_ALL=C sort | xargs -r zcat -f 2>/dev/null || true
	}
	{
		cat "$data/corpus/tinyshakespeare.txt" "$data/corpus/tinystories_val_head.txt" \
			"$data/cs336/corpus.en"
		bzcat "$data/hellaswag/hellaswag_val_full.txt.bz2"
		find /usr/share/doc -type f | some_text
		find /usr/share/man -type f -name '*.gz' | some_text
		find /usr/lib/python3 /usr/lib/python3.* -type f \
			\( -name '*.py' -o -name '*.pyi' -o -name '*.txt' -o -name '*.rst' \) 2>/dev/null | some_text
		find /usr/include -type f | some_text
		find /usr/share/fpcsrc /usr/share/perl /usr/share/perl5 /usr/share/vim /usr/share/i18n \
			-type f -size -2M 2>/dev/null | some_text
	} | tr -d '\000' | iconv -c -f UTF-8 -t UTF-8 >"$work/base.txt" || true
	base_mb=$(($(stat -c %s "$work/base.txt") / 1000000))
	while [ "$(stat -c %s "$corpus" 2>/dev/null || echo 0)" -lt $((mb * 1000000)) ]; do
		cat "$work/base.txt" >>"$corpus"
	done
	rm "$work/base.txt"
	truncate -s $((mb * 1000000)) "$corpus"
	echo "corpus: $mb MB built from $base_mb MB of this machine's text (the rest repeats it)"
else
	echo "corpus: $corpus, $(($(stat -c %s "$corpus") / 1000000)) MB"
fi
echo "machine: $(nproc) cores"

# ---- the runs ----------------------------------------------------------------------
# one NAME BIN VOCAB J: the run of least CPU time; its --stats into $work/NAME.stats
one() {
	local name=$1 tool=$2 vocab=$3 j=$4 best= cpu load
	for _ in $(seq "$runs"); do
		load=$(cut -d' ' -f1 /proc/loadavg)
		"$tool" -f --stats -j "$j" -v "$vocab" -s '<|endoftext|>' -o "$work/$name.bpe" \
			"$corpus" 2>"$work/$name.err" || { cat "$work/$name.err" >&2; exit 1; }
		cpu=$(awk '/CPU time/ { gsub(",", ""); print $5 + $8 }' "$work/$name.err")
		if [ -z "$best" ] || awk -v a="$cpu" -v b="$best" 'BEGIN { exit !(a < b) }'; then
			best=$cpu
			{ cat "$work/$name.err"; echo "load $load"; } >"$work/$name.stats"
		fi
	done
}

# row NAME VOCAB J: a line of the table from NAME's --stats
row() {
	awk -v name="$1" -v vocab="$2" -v j="$3" '
		/counting .* merges/ { cw = $3; mw = $(NF - 1); n = $(NF - 3) }
		/CPU time/ { gsub(",", ""); cc = $5; mc = $8 }
		/^load / { load = $2 }
		END {
			printf "%-16s %7d %3d %7d %9.2f %9.2f %9.2f %9.2f %8.0f%% %5s\n", name, vocab,
				j, n, cw, cc, mw, mc, 100 * mc / (cc + mc), load
		}' "$work/$1.stats"
}

printf '%-16s %7s %3s %7s %9s %9s %9s %9s %9s %5s\n' run vocab -j merges "count s" "count CPU" \
	"merge s" "merge CPU" "merge/CPU" load
for vocab in 32000 100000; do
	for j in $(printf '%s\n' 1 "$threads" | awk '!seen[$0]++'); do
		one "ours_${vocab}_$j" "$bin/bpe-learn" "$vocab" "$j"
		row "ours_${vocab}_$j" "$vocab" "$j"
		cmp -s "$work/ours_${vocab}_1.bpe" "$work/ours_${vocab}_$j.bpe" ||
			{ echo "bpe-learn-phases: -j $j learned other merges than -j 1" >&2; exit 1; }
		if [ -n "${BEFORE:-}" ]; then
			one "before_${vocab}_$j" "$BEFORE" "$vocab" "$j"
			row "before_${vocab}_$j" "$vocab" "$j"
			cmp -s "$work/ours_${vocab}_1.bpe" "$work/before_${vocab}_$j.bpe" ||
				{ echo "bpe-learn-phases: BEFORE learned other merges" >&2; exit 1; }
		fi
	done
done
echo "merge/CPU: merging's share of the run's CPU time; load: the load average before the run"
exit 0
