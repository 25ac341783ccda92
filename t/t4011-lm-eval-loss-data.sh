#!/bin/bash
test_description='lm-eval loss: a token beyond the vocabulary names the shard and the offset'
. ./lib-test.sh

test_expect_success 'set up a model of vocabulary 64 and a shard with a token 100' '
	test-tool train stream 4000 64 | shard -o data --val-tokens 1000 &&
	lm-train data --model d1 --vocab 64 --ctx 16 --batch-tokens 128 -b 4 --eval-every 0 \
		--steps 1 -o run 2>err &&
	test-tool train stream 700 64 >ids && printf "\144\000" >>ids &&
	test-tool train stream 300 64 >>ids &&
	shard -o bad --prefix bad --val-tokens 0 <ids
'

test_expect_success 'the error names the shard and the offset of the token' '
	test_expect_code_() { "$@"; test $? = 1; } &&
	f=$(ls bad/*.bin) &&
	test_expect_code_ lm-eval loss run/ckpt.safetensors "$f" --device cpu 2>err &&
	test_error_mentions err "lm-eval:" "$f" "token 100 at offset 700" "vocabulary (64)"
'

test_done
