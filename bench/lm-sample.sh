#!/bin/bash
# bench/lm-sample.sh — lm-sample's KV cache: the time of one new token as the
# sequence grows, with the cache and without (--no-cache: the whole window
# forwarded again each token), and greedy tokens/s against transformers'
# generate() (which keeps a KV cache) on the same random GPT-2-shaped model,
# same threads (not run in CI).
#
#   bench/lm-sample.sh [LAYERS WIDTH HEADS [THREADS]]     default: 6 384 6, 2 threads
#
# A token's time at position P is (time of P-token prompt + 65 new tokens -
# time of the same prompt + 1 new token) / 64: checkpoint loading and the
# prompt's prefill cancel out. Tokens/s: 256 new tokens after an 8-token
# prompt, the same difference for both. Needs .venv (make deps),
# ../shared/data (GPT-2 merges) and a built tree (make).
set -eu
cd "$(dirname "$0")/.."
L=${1:-6} C=${2:-384} NH=${3:-6} J=${4:-2}
BIN=${LMPIPE_REL_BIN:-build/rel/bin}
PY=.venv/bin/python
export SHARED_DATA=${SHARED_DATA:-../shared/data} OMP_NUM_THREADS=$J
export GPT2_DATA=${GPT2_DATA:-$SHARED_DATA/gpt2}  # t/lib-tiktoken.py
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
"$PY" bench/random_gpt2.py "$W/m" "$L" "$C" "$NH"
TOK="--tokenizer $SHARED_DATA/gpt2/vocab.bpe"
# prompts of about P tokens: " the" is one GPT-2 token
prompt() { printf 'The%.0s' 1; for ((i = 1; i < $1; i++)); do printf ' the'; done; }
secs() {   # secs ARGS...: wall seconds of one lm-sample run (best of 2)
	local best=
	for r in 1 2; do
		local t0=$(date +%s.%N)
		"$BIN/lm-sample" "$W/m" --device cpu $TOK -t 0 --ids "$@" >"$W/out"
		local t=$(echo "$(date +%s.%N) - $t0" | bc)
		if [ -z "$best" ] || [ "$(echo "$t < $best" | bc)" = 1 ]; then best=$t; fi
	done
	echo "$best"
}
echo "model: $L layers, width $C, ctx 1024, vocab 50257; $J threads; $(nproc) CPUs"
echo "ms a new token at position P (64 tokens after a P-token prompt):"
printf '%6s %12s %12s\n' P cache no-cache
for P in 8 128 512 896; do
	p=$(prompt $P)
	row=
	for mode in "" --no-cache; do
		a=$(secs -p "$p" -n 1 $mode) b=$(secs -p "$p" -n 65 $mode)
		row="$row $(echo "scale=2; 1000 * ($b - $a) / 64" | bc)"
	done
	printf '%6s %12s %12s\n' $P $row
done
p=$(prompt 8)
a=$(secs -p "$p" -n 1) b=$(secs -p "$p" -n 257)
n=$(wc -w <"$W/out")
echo "lm-sample (KV cache): $(echo "scale=1; ($n - 1) / ($b - $a)" | bc) tokens/s ($n tokens)"
"$PY" - "$W/m" "$J" <<'PY'
import sys, time, torch
import transformers.generation.utils as gu
from transformers import GPT2LMHeadModel
gu.is_fsdp_managed_module = lambda module: False
torch.set_num_threads(int(sys.argv[2]))
m = GPT2LMHeadModel.from_pretrained(sys.argv[1]).eval()
m.generation_config.eos_token_id = None
x = torch.tensor([[464] + [262] * 7])   # "The the the ..." as above
def run(n):
    best = 1e9
    for _ in range(2):
        t0 = time.perf_counter()
        with torch.no_grad():
            m.generate(x, do_sample=False, max_new_tokens=n, min_new_tokens=n, pad_token_id=50256,
                       attention_mask=torch.ones_like(x), use_cache=True)
        best = min(best, time.perf_counter() - t0)
    return best
a, b = run(1), run(257)
print("transformers generate (KV cache): %.1f tokens/s (256 tokens)" % (256 / (b - a)))
PY
uptime
