#!/bin/bash
test_description='lm-train --device cuda against PyTorch: GPT-2 124M from the same weights on the
same batches follows the loss curve of the model of bench/torch_gpt2_bench.py
(bench/torch_loss_curve.py: bf16 autocast, the same AdamW, clipping and schedule)'
. ./lib-test.sh

BENCH_PY=$TOP/bench/torch_gpt2_bench.py
STEPS=60
TRAIN="-b 16 --batch-tokens 16384 --steps $STEPS --lr 6e-4 --warmup 10 --eval-every 0 --sample-every 0"

. "$TEST_DIRECTORY/lib-train.sh"

test_expect_success GPU,CUDA,!CUDA_EMU,PYTHON 'set up: GPT-2 tokens of Shakespeare, the initial weights' '
	cat "$TEST_DATA/corpus/tinyshakespeare_head.txt" "$TEST_DATA/corpus/tinystories_val_head.txt" |
		bpe-encode | shard -o shakes --val-tokens 8192 &&
	lm-train shakes --model gpt2 --ctx 1024 -b 1 --batch-tokens 1024 --steps 1 --lr 0 \
		--lr-min 0 --eval-every 0 --sample-every 0 --device cuda -o init 2>err &&
	test-tool loader -B 16 -T 1024 --seed 1337 --batches $STEPS --dump batches.bin shakes train >/dev/null
'

# bf16 on both sides, different kernels and summation orders: the curves
# part by bf16 noise, which grows as training amplifies it; a wrong
# gradient, optimizer or schedule parts them by far more within 60 steps.
test_expect_success GPU,CUDA,!CUDA_EMU,PYTHON 'GPT-2 124M: the CUDA loss curve follows PyTorch'"'"'s within bf16 noise' '
	lm-train shakes --model init/ckpt.safetensors $TRAIN --device cuda -o ours 2>err &&
	losses ours/log.jsonl >ours.losses &&
	"$PYTHON" "$TOP/bench/torch_loss_curve.py" "$BENCH_PY" init/ckpt.safetensors batches.bin \
		16 1 $STEPS 6e-4 6e-5 10 $STEPS cuda >torch.out &&
	sed -n "s/^step \([0-9]*\) loss \(.*\)/\1 \2/p" torch.out >torch.losses &&
	test $(wc -l <torch.losses) = $STEPS &&
	compare_losses ours.losses torch.losses >diff &&
	cat diff &&
	awk "{exit !(\$2 == $STEPS && \$4 < 0.03 && \$6 < 0.1)}" diff &&
	head -n 3 ours.losses torch.losses && tail -n 3 ours.losses torch.losses
'

test_done
