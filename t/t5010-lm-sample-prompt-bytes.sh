#!/bin/bash
test_description='lm-sample: a prompt on stdin is all of its bytes, NUL bytes included

The prompt read from stdin was cut at its first NUL byte. A model of 260
tokens under a tokenizer of 271 tells: the merged tokens of the text after
the NUL (ids 263 and 264) are beyond the model, so lm-sample refuses them,
which it can only do if it read them.'
. ./lib-test.sh

test_expect_success 'set up a tokenizer of 271 tokens and models of 260 and 271' '
	printf "hello world hello there world\n" >corpus.txt &&
	bpe-learn -v 271 -s "<|endoftext|>" -o tok.merges corpus.txt &&
	printf "hello world" | bpe-encode -m tok.merges | od -An -tu2 | tr -s " " >ids &&
	echo " 263 264" >expect && test_cmp expect ids &&
	model="\"family\":\"llama\",\"n_layer\":2,\"d_model\":48,\"n_head\":4,\"d_ff\":72,\"ctx\":16" &&
	echo "{$model,\"vocab_size\":260}" >small.json &&
	echo "{$model,\"vocab_size\":271}" >full.json &&
	test-tool ckpt save small.json 5 small.safetensors &&
	test-tool ckpt save full.json 5 full.safetensors
'

test_expect_success 'the bytes after a NUL reach the tokenizer' '
	printf "a\000hello world" >prompt &&
	test_must_fail lm-sample small.safetensors --device cpu -n 3 -t 0 --ids \
		--tokenizer tok.merges <prompt 2>err &&
	test_error_mentions err "lm-sample: the prompt" "token 263 is beyond the model" &&
	printf "a" | lm-sample small.safetensors --device cpu -n 3 -t 0 --ids --tokenizer tok.merges >out &&
	test -s out
'

test_expect_success 'a prompt with NUL bytes samples like any other' '
	printf "hello\000\000world\n" | lm-sample full.safetensors --device cpu -n 4 -t 0 --ids \
		--tokenizer tok.merges >out &&
	test -s out
'

test_done
