#!/bin/bash
# bench/bpe-learn.sh — bpe-learn against HF tokenizers' BpeTrainer (ByteLevel
# pre-tokenizer, same vocabulary, same threads) on the same corpus, side by
# side: seconds, peak memory (GNU time), and the ratio; once with THREADS
# threads and once with one (bpe-learn -j 1, RAYON_NUM_THREADS=1). Each figure
# is the best of RUNS runs (the machine is shared: the load is printed).
#
#   bench/bpe-learn.sh [MB] [VOCAB] [THREADS] [RUNS]    defaults: 100 32000 2 3
#
# The corpus, MB megabytes of varied text so that VOCAB is reached (tiny
# shakespeare and TinyStories alone run out of pairs before 32000):
#   - with LINUX_SRC=path/to/linux-source-*.tar.xz (Debian's linux-source
#     package; bench/bpe-learn-linux.sh says how to fetch it): the first MB
#     megabytes of its files' text, in archive order;
#   - otherwise: ../shared/data's corpora (tiny shakespeare, the head of
#     TinyStories, CS336's corpus.en), then this machine's Debian changelogs
#     and copyright files under /usr/share/doc, invalid UTF-8 dropped (HF
#     reads UTF-8 only); repeated if that is short of MB.
# HF breaks ties the other way, so only speed and memory are compared, not
# merges. Needs make (build/rel, or LMPIPE_REL_BIN) and make deps (.venv).
#
# Measured on the project's 2-core box (shared: load average 6-7 from other
# jobs), `bench/bpe-learn.sh 100 32000 2 2`, the default corpus, 99 MB:
#   2 threads: bpe-learn 2.85 s, 94 MB peak; HF tokenizers 63.6 s, 267 MB: 22.3x
#   1 thread:  bpe-learn 3.69 s, 99 MB peak; HF tokenizers 64.2 s, 258 MB: 17.4x;
#              bpeasy 39.9 s, 288 MB: 10.8x
# bpe-learn reaches 31743 merges (+ 256 bytes + <|endoftext|> = 32000).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
mb=${1:-100}
vocab=${2:-32000}
threads=${3:-2}
runs=${4:-3}
bin=${LMPIPE_REL_BIN:-$top/build/rel/bin}
python=$top/.venv/bin/python
data=${LMPIPE_SHARED:-$top/../shared}/data
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# ---- the corpus ------------------------------------------------------------------
corpus=$work/corpus.txt
bytes=$((mb * 1000000))
if [ -n "${LINUX_SRC:-}" ]; then
	source="the first $mb MB of $(basename "$LINUX_SRC")'s files"
	{ tar -xJOf "$LINUX_SRC" 2>/dev/null || true; } | iconv -c -f UTF-8 -t UTF-8 | head -c "$bytes" >"$corpus"
else
	source="../shared corpora + /usr/share/doc changelogs and copyrights"
	{
		cat "$data/corpus/tinyshakespeare.txt" "$data/corpus/tinystories_val_head.txt" \
			"$data/cs336/corpus.en"
		find /usr/share/doc -type f -name '*.gz' | LC_ALL=C sort | xargs -r zcat -f 2>/dev/null
		find /usr/share/doc -type f -name copyright | LC_ALL=C sort | xargs -r cat
	} | iconv -c -f UTF-8 -t UTF-8 >"$work/base.txt" || true
	while [ "$(stat -c %s "$corpus" 2>/dev/null || echo 0)" -lt "$bytes" ]; do
		cat "$work/base.txt" >>"$corpus"
	done
	truncate -s "$bytes" "$corpus"
fi
# a cut may split a character: drop what is not UTF-8
"$python" -c 'import sys; d = open(sys.argv[1], "rb").read().decode("utf-8", "ignore")
open(sys.argv[1], "w", encoding="utf-8", newline="").write(d)' "$corpus"
echo "corpus: $(($(stat -c %s "$corpus") / 1000000)) MB ($source), vocab $vocab, best of $runs"
echo "machine: $(nproc) cores; load before: $(cut -d' ' -f1-3 /proc/loadavg)"

# run NAME CMD...: the best of $runs runs: one line with seconds and peak RSS
run() {
	local name=$1 best= best_kb= secs kb
	shift
	for _ in $(seq "$runs"); do
		/usr/bin/time -f "%e %M" -o "$work/$name.time" "$@" >/dev/null 2>"$work/$name.err" ||
			{ cat "$work/$name.err" >&2; exit 1; }
		read -r secs kb <"$work/$name.time"
		if [ -z "$best" ] || awk -v a="$secs" -v b="$best" 'BEGIN { exit !(a < b) }'; then
			best=$secs
			best_kb=$kb
		fi
	done
	printf '  %-22s %8.2f s %8d MB peak\n' "$name" "$best" "$((best_kb / 1024))"
	eval "secs_$name=$best"
}

cat >"$work/hf.py" <<'PY'
import sys
from tokenizers import Tokenizer, models, pre_tokenizers, trainers
tok = Tokenizer(models.BPE())
tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
trainer = trainers.BpeTrainer(vocab_size=int(sys.argv[2]), special_tokens=["<|endoftext|>"],
                              initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
tok.train([sys.argv[1]], trainer)
PY

ratio() {
	awk -v a="$1" -v b="$2" -v what="$3" 'BEGIN { printf "  bpe-learn is %.1fx faster than %s\n", b / a, what }'
}

for t in $(printf '%s\n' "$threads" 1 | awk '!seen[$0]++'); do
	echo "$t thread(s):"
	run "bpe_learn_j$t" "$bin/bpe-learn" -f -j "$t" -v "$vocab" -s '<|endoftext|>' -o "$work/ours.bpe" "$corpus"
	echo "    ($(($(wc -l <"$work/ours.bpe") - 1)) merges learned)"
	run "hf_tokenizers_j$t" env RAYON_NUM_THREADS="$t" "$python" "$work/hf.py" "$corpus" "$vocab"
	ratio "$(eval echo "\$secs_bpe_learn_j$t")" "$(eval echo "\$secs_hf_tokenizers_j$t")" "HF tokenizers"
	if [ "$t" = 1 ] && "$python" -c 'import bpeasy' 2>/dev/null; then
		run bpeasy "$python" -c '
import sys, bpeasy
def it():
    with open(sys.argv[1], encoding="utf-8") as f:
        while True:
            s = f.read(1 << 20)
            if not s:
                return
            yield s
pat = r"""'"'"'s|'"'"'t|'"'"'re|'"'"'ve|'"'"'m|'"'"'ll|'"'"'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
bpeasy.train_bpe(it(), pat, 1 << 30, int(sys.argv[2]))
' "$corpus" "$vocab"
		ratio "$secs_bpe_learn_j1" "$secs_bpeasy" "bpeasy"
	fi
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
exit 0
