#!/bin/bash
test_description='lm-sample --device auto, the default: the CPU when no GPU is in sight, the
GPU when there is one, the tokens of the device named; one model on the device serves every
sample of --num'
. ./lib-test.sh

# GPT-2's merges: "A" is token 32, inside the model's 64; --ids prints ids.
TOK="--tokenizer $GPT2_DATA/vocab.bpe"
# 40 tokens after one, in a context of 16: the window starts again twice.
GEN="-p A -n 40 -k 20 --ids $TOK"

test_expect_success 'set up a small trained checkpoint' '
	test-tool train stream 20000 64 | shard -o data --val-tokens 2000 &&
	lm-train data --model d1 --vocab 64 --ctx 16 --batch-tokens 128 -b 4 --steps 6 \
		--eval-every 0 --device cpu -o run 2>err
'

# CUDA_VISIBLE_DEVICES empty hides every GPU, a real one or the emulation's.
test_expect_success 'no --device and no GPU in sight: the CPU tokens' '
	CUDA_VISIBLE_DEVICES= lm-sample run/ckpt.safetensors $GEN --seed 4 >auto &&
	lm-sample run/ckpt.safetensors $GEN --seed 4 --device cpu >cpu &&
	test $(wc -w <cpu) = 40 && test_cmp cpu auto
'

# --num N: sample i is the sample of seed S + i alone, though the model
# (and its KV cache) on the device is opened once for all of them.
samples_alone() {
	lm-sample run/ckpt.safetensors $GEN --seed 7 --num 3 "$@" >three &&
	for i in 0 1 2; do
		lm-sample run/ckpt.safetensors $GEN --seed $((7 + i)) "$@" || return 1
		[ $i = 2 ] || printf "\n---\n"
	done >alone &&
	test_cmp alone three
}

test_expect_success '--num 3 on the CPU: each sample as if alone' '
	samples_alone --device cpu
'

test_expect_success CUDA_RUN 'no --device with a GPU: the GPU tokens' '
	lm-sample run/ckpt.safetensors $GEN --seed 4 >auto &&
	lm-sample run/ckpt.safetensors $GEN --seed 4 --device cuda >gpu &&
	test $(wc -w <gpu) = 40 && test_cmp gpu auto
'

test_expect_success CUDA_RUN '--num 3 on the GPU: each sample as if alone' '
	samples_alone --device cuda
'

test_done
