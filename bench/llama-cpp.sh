#!/bin/bash
# bench/llama-cpp.sh — our GGUF files in llama.cpp itself: greedy tokens
# equal to lm-sample -t 0's, and llama.cpp's tokenization equal to
# bpe-encode's, for both families (gpt2 and llama architectures) and each
# dtype (not run in CI: it builds llama.cpp).
#
#   bench/llama-cpp.sh [STEPS]      default 200 training steps a model
#
# llama.cpp comes from PyPI's llama-cpp-python (pinned below), built from
# source into build/llama-venv (minutes on 2 cores; once). Two small models
# (d1, vocabulary 384 over a 320-token BPE, context 64) train on the
# repository's own text, then each prompt's greedy continuation (ours on
# the CPU in fp32, llama.cpp on the f32, f16 and bf16 GGUF) is compared.
# f32 must agree token for token; f16/bf16 round the weights, so a
# near-tie can differ there: those are reported, not required. The logits
# too, at every position of 2 x 32 random tokens (test-tool ckpt logits):
# rel = max|llama.cpp - ours| / max|ours|, with the KV cache in f32. The f32
# bound: llama 1e-5 (float32 rounding alone); gpt2 1e-3, because ggml's CPU
# GELU rounds its f32 input to f16 and reads a table (GGML_GELU_FP16 in
# ggml-cpu/vec.h), which alone gives about 1e-4.
set -eu
cd "$(dirname "$0")/.."
STEPS=${1:-200}
BIN=${LMPIPE_REL_BIN:-build/rel/bin}
LLAMA_CPP_PYTHON=llama-cpp-python==0.3.36
V=build/llama-venv
if ! "$V/bin/python" -c 'import llama_cpp' 2>/dev/null; then
	python3 -m venv --system-site-packages "$V"
	CMAKE_BUILD_PARALLEL_LEVEL=$(nproc) "$V/bin/pip" install -q --disable-pip-version-check \
		"$LLAMA_CPP_PYTHON"
fi
PY="$V/bin/python"
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
cat README.md ./*/*.1 >"$W/text"
"$BIN/bpe-learn" -v 320 -s '<|endoftext|>' -o "$W/merges" "$W/text" 2>/dev/null
"$BIN/bpe-encode" -m "$W/merges" -s '<|endoftext|>' "$W/text" |
	"$BIN/shard" -o "$W/data" --val-tokens 2000 2>/dev/null
prompts=("The model" "Train a small GPT" "lm-train data/ --model" "<|endoftext|>")
bad=0
echo "llama.cpp: $("$PY" -c 'import llama_cpp; print(llama_cpp.__version__)') (llama-cpp-python)"
for fam in gpt2 llama; do
	"$BIN/lm-train" "$W/data" --model d1 --family "$fam" --vocab 384 --ctx 64 \
		--batch-tokens 512 -b 8 --eval-every 0 --steps "$STEPS" --lr 3e-3 \
		--merges "$W/merges" -s '<|endoftext|>' -o "$W/$fam" 2>/dev/null
	for dt in f32 f16 bf16; do
		"$BIN/lm-convert" -t $dt "$W/$fam" "$W/$fam-$dt.gguf"
		"$BIN/test-tool" ckpt logits "$W/$fam" 2 32 "$W/ours.logits"
		rel=$("$PY" bench/llama_cpp_greedy.py logits "$W/$fam-$dt.gguf" "$W/ours.logits" \
			2>>"$W/llama.log")
		bound=$([ $fam = gpt2 ] && echo 1e-3 || echo 1e-5)
		[ $dt = f32 ] && [ "$(echo "$rel > $bound" | sed "s/e/*10^/g" | bc -l)" = 1 ] && bad=1
		same=0 n=0
		for p in "${prompts[@]}"; do
			ids=$(printf '%s' "$p" | "$BIN/bpe-encode" -m "$W/merges" -s '<|endoftext|>' |
				od -An -tu2 -v | xargs)
			theirs_tok=$("$PY" bench/llama_cpp_greedy.py tokenize "$W/$fam-$dt.gguf" "$p" 2>>"$W/llama.log")
			ours=$("$BIN/lm-sample" "$W/$fam" -p "$p" -t 0 -n 32 --ids --device cpu)
			theirs=$("$PY" bench/llama_cpp_greedy.py "$W/$fam-$dt.gguf" 32 $ids 2>>"$W/llama.log")
			n=$((n + 1))
			if [ "$ids" != "$theirs_tok" ]; then
				echo "  $fam $dt: tokenization of '$p' differs: ours [$ids] llama.cpp [$theirs_tok]"
				bad=1
			fi
			if [ "$ours" = "$theirs" ]; then
				same=$((same + 1))
				[ $dt = f32 ] && [ $n = 2 ] && echo "  e.g. '$p' -> [$ours]"
			else
				echo "  $fam $dt '$p': ours    [$ours]"
				echo "  $fam $dt '$p': llama.cpp [$theirs]"
				[ $dt = f32 ] && bad=1
			fi
		done
		echo "$fam $dt: greedy tokens equal on $same of $n prompts (32 new tokens each); logits rel $rel$([ $dt = f32 ] && echo " (bound $bound)")"
	done
done
exit $bad
