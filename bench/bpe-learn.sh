#!/bin/bash
# bench/bpe-learn.sh — bpe-learn against HF tokenizers' BpeTrainer (ByteLevel
# pre-tokenizer, same vocabulary, same threads) on the same corpus, side by
# side: seconds, peak memory (GNU time), and the ratio.
#
#   bench/bpe-learn.sh [MB] [VOCAB] [THREADS]     defaults: 100 32000 2
#
# The corpus: tiny shakespeare and the head of TinyStories (../shared/data),
# repeated to MB megabytes. HF breaks ties the other way, so only speed and
# memory are compared, not merges. Needs make (build/rel) and make deps.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
mb=${1:-100}
vocab=${2:-32000}
threads=${3:-2}
bin=${LMPIPE_REL_BIN:-$top/build/rel/bin}
python=$top/.venv/bin/python
data=${LMPIPE_SHARED:-$top/../shared}/data
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

corpus=$work/corpus.txt
while [ $(($(stat -c %s "$corpus" 2>/dev/null || echo 0) / 1000000)) -lt "$mb" ]; do
	cat "$data/corpus/tinyshakespeare.txt" "$data/corpus/tinystories_val_head.txt" >>"$corpus"
done
echo "corpus: $(($(stat -c %s "$corpus") / 1000000)) MB, vocab $vocab, $threads threads, $(nproc) cores"

# run NAME CMD...: one line with seconds and peak RSS
run() {
	local name=$1
	shift
	/usr/bin/time -f "%e %M" -o "$work/$name.time" "$@" >/dev/null 2>"$work/$name.err" ||
		{ cat "$work/$name.err" >&2; exit 1; }
	read -r secs kb <"$work/$name.time"
	printf '%-24s %8.2f s %8.0f MB\n' "$name" "$secs" "$((kb / 1024))"
	eval "secs_$name=$secs"
}

run bpe_learn "$bin/bpe-learn" -f -j "$threads" -v "$vocab" -s '<|endoftext|>' -o "$work/ours.bpe" "$corpus"
run hf_tokenizers env RAYON_NUM_THREADS="$threads" "$python" -c '
import sys
from tokenizers import Tokenizer, models, pre_tokenizers, trainers
tok = Tokenizer(models.BPE())
tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
trainer = trainers.BpeTrainer(vocab_size=int(sys.argv[2]), special_tokens=["<|endoftext|>"],
                              initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
tok.train([sys.argv[1]], trainer)
' "$corpus" "$vocab"
if "$python" -c 'import bpeasy' 2>/dev/null; then
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
fi
awk -v a="$secs_bpe_learn" -v b="$secs_hf_tokenizers" 'BEGIN { printf "bpe-learn is %.1fx faster than HF tokenizers\n", b / a }'
[ -n "${secs_bpeasy:-}" ] &&
	awk -v a="$secs_bpe_learn" -v b="$secs_bpeasy" 'BEGIN { printf "bpe-learn is %.1fx faster than bpeasy\n", b / a }'
exit 0
