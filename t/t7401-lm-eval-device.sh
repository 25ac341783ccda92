#!/bin/bash
test_description='lm-eval --device auto, the default: the CPU losses when no GPU is in sight,
the GPU losses when there is one, to the bit of the device named'
. ./lib-test.sh

test_expect_success 'set up shards and a small trained checkpoint' '
	test-tool train stream 20000 64 | shard -o data --val-tokens 2000 &&
	lm-train data --model d1 --vocab 64 --ctx 16 --batch-tokens 128 -b 4 --steps 6 \
		--eval-every 0 --device cpu -o run 2>err
'

# CUDA_VISIBLE_DEVICES empty hides every GPU, a real one or the emulation's.
test_expect_success 'no --device and no GPU in sight: the CPU losses' '
	CUDA_VISIBLE_DEVICES= lm-eval loss run/ckpt.safetensors --json -b 3 data/*val* >auto.json &&
	lm-eval loss run/ckpt.safetensors --json -b 3 --device cpu data/*val* >cpu.json &&
	grep "\"tokens\": 1984," cpu.json && test_cmp cpu.json auto.json
'

test_expect_success CUDA_RUN 'no --device with a GPU: the GPU losses' '
	lm-eval loss run/ckpt.safetensors --json -b 3 data/*val* >auto.json &&
	lm-eval loss run/ckpt.safetensors --json -b 3 --device cuda data/*val* >gpu.json &&
	test_cmp gpu.json auto.json
'

test_done
