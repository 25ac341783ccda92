#!/bin/bash
test_description='lm-train --device auto, the default: the CPU when no GPU is in sight (or the
build has no CUDA), the GPU when there is one, the same run as the device named'
. ./lib-test.sh

MODEL="--model d1 --vocab 64 --ctx 16"
SMALL="$MODEL --batch-tokens 128 -b 4 --steps 4 --eval-every 2 --eval-tokens 256"
. "$TEST_DIRECTORY/lib-train.sh"

# The device a run trained on, from its start line ("... | cpu, 2 threads").
started_on() {
	sed -n "s/^training .* steps | \([a-z]*\), [0-9]* threads$/\1/p" "$1"
}

test_expect_success 'set up shards' '
	test-tool train stream 20000 64 | shard -o data --val-tokens 2000
'

# CUDA_VISIBLE_DEVICES empty hides every GPU, a real one or the emulation's.
test_expect_success 'no --device and no GPU in sight: the CPU, bit for bit --device cpu' '
	CUDA_VISIBLE_DEVICES= lm-train data $SMALL -o auto 2>err.auto &&
	lm-train data $SMALL --device cpu -o cpu 2>err.cpu &&
	echo cpu >expect && started_on err.auto >actual && test_cmp expect actual &&
	loss_values auto/log.jsonl >auto.losses && loss_values cpu/log.jsonl >cpu.losses &&
	test $(wc -l <auto.losses) -gt 3 && test_cmp cpu.losses auto.losses
'

test_expect_success '--device auto said: the same' '
	CUDA_VISIBLE_DEVICES= lm-train data $SMALL --device auto -o auto2 2>err &&
	echo cpu >expect && started_on err >actual && test_cmp expect actual
'

test_expect_success '!CUDA' 'no --device in a build without CUDA: the CPU, whatever is visible' '
	lm-train data $SMALL -o nocuda 2>err &&
	echo cpu >expect && started_on err >actual && test_cmp expect actual
'

# A GPU (or the CUDA emulation): auto is cuda, and the run the one --device
# cuda makes (deterministic on the device: the same bits).
test_expect_success CUDA_RUN 'no --device with a GPU: the GPU, bit for bit --device cuda' '
	lm-train data $SMALL -o gpu-auto 2>err.auto &&
	lm-train data $SMALL --device cuda -o gpu 2>err.gpu &&
	echo cuda >expect && started_on err.auto >actual && test_cmp expect actual &&
	loss_values gpu-auto/log.jsonl >auto.losses && loss_values gpu/log.jsonl >gpu.losses &&
	test $(wc -l <auto.losses) -gt 3 && test_cmp gpu.losses auto.losses
'

test_done
