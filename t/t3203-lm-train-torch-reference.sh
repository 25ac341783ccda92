#!/bin/bash
test_description='bench/torch_loss_curve.py reproduces lm-train on the CPU: the model of
bench/torch_gpt2_bench.py from the same weights on the same batches gives the
same losses (fp32 both), so on a GPU (t7101) only the arithmetic differs'
. ./lib-test.sh

. "$TEST_DIRECTORY/lib-train.sh"

BENCH_PY=$TOP/bench/torch_gpt2_bench.py

test_expect_success PYTHON 'set up: GPT-2 tokens, the initial weights (one step at lr 0)' '
	head -c 300000 "$TEST_DATA/corpus/tinyshakespeare_head.txt" | bpe-encode |
		shard -o shakes --val-tokens 4096 &&
	"$LMPIPE_REL_BIN/lm-train" shakes --model gpt2 --ctx 1024 -b 1 --batch-tokens 1024 \
		--steps 1 --lr 0 --lr-min 0 --eval-every 0 --sample-every 0 -o init 2>err
'

# The losses differ by the padded vocabulary alone: torch's softmax spans
# 50304 columns (the 47 padding ones at logit ~0), lm-train's the 50257
# real ones, about ln(50304/50257) = 9.3e-4 at the first steps. No warmup:
# the first step's update (lr 6e-4) shows in the second loss.
test_expect_success PYTHON 'two steps: the same losses within the padding'"'"'s 1e-3' '
	"$LMPIPE_REL_BIN/lm-train" shakes --model init/ckpt.safetensors -b 1 --batch-tokens 1024 \
		--steps 2 --lr 6e-4 --warmup 0 --eval-every 0 --sample-every 0 --device cpu -o ours 2>err &&
	losses ours/log.jsonl >ours.losses &&
	test-tool loader -B 1 -T 1024 --seed 1337 --batches 2 --dump batches.bin shakes train >/dev/null &&
	"$PYTHON" "$TOP/bench/torch_loss_curve.py" "$BENCH_PY" init/ckpt.safetensors batches.bin \
		1 1 2 6e-4 6e-5 0 2 cpu >torch.out &&
	sed -n "s/^step \([0-9]*\) loss \(.*\)/\1 \2/p" torch.out >torch.losses &&
	cat ours.losses torch.losses &&
	join ours.losses torch.losses | awk "{d = \$3 - \$2; n++; if (d < 0 || d > 1.5e-3) bad++}
		END {exit !(n == 2 && !bad)}"
'

test_done
