#!/bin/bash
test_description='a model that cannot compute is refused when it is loaded

A NaN or an infinity in a checkpoint'"'"'s weights, and a RoPE theta that is
not positive, made empty samples and a loss of nan with exit 0. Now every
tool that loads the model (through ckpt_open_model and config_finish) stops
there, naming the file and the tensor or the setting.'
. ./lib-test.sh

# A tiny llama (RoPE) with a tokenizer of its own: 256 bytes, 13 merges and
# <|endoftext|> are the model's 270 tokens.
test_expect_success 'set up a checkpoint, its tokenizer and a val shard' '
	printf "hello world hello there world\n" >corpus.txt &&
	bpe-learn -v 270 -s "<|endoftext|>" -o tok.merges corpus.txt &&
	echo "{\"family\":\"llama\",\"n_layer\":2,\"d_model\":48,\"n_head\":4,\"d_ff\":72,\"vocab_size\":270,\"ctx\":16}" >llama.json &&
	test-tool ckpt save llama.json 5 good.safetensors &&
	lm-sample good.safetensors --device cpu -p hello -n 4 --seed 1 --ids --tokenizer tok.merges >ids &&
	test -s ids &&
	test-tool shard gen 2000 --vocab 270 | shard -o data --val-tokens 1000 --vocab 270 &&
	lm-eval loss good.safetensors data/shard_val_000000.bin --device cpu >loss &&
	! grep -q nan loss
'

# poke FILE BYTES: overwrite the last 4 bytes of FILE (the last element of
# the last tensor) with BYTES (a printf format).
poke() {
	local size=$(wc -c <"$1")
	printf "$2" | dd of="$1" bs=1 seek=$((size - 4)) conv=notrunc status=none
}

test_expect_success 'a NaN weight: lm-sample, lm-eval and lm-train --model name the tensor' '
	cp good.safetensors nan.safetensors && poke nan.safetensors "\000\000\300\177" &&
	test_must_fail lm-sample nan.safetensors --device cpu -p hello -n 4 --tokenizer tok.merges >out 2>err &&
	test_error_mentions err "lm-sample: " "nan.safetensors" "tensor '"'"'lm_head.weight'"'"' holds NaN at element" &&
	! test -s out &&
	test_must_fail lm-eval loss nan.safetensors data/shard_val_000000.bin --device cpu 2>err &&
	test_error_mentions err "lm-eval: " "nan.safetensors" "holds NaN" &&
	test_must_fail lm-train data --model nan.safetensors --steps 1 --device cpu -o run 2>err &&
	test_error_mentions err "lm-train: " "nan.safetensors" "holds NaN"
'

test_expect_success 'an infinite weight is refused too' '
	cp good.safetensors inf.safetensors && poke inf.safetensors "\000\000\200\377" &&
	test_must_fail lm-sample inf.safetensors --device cpu -p hello -n 4 --tokenizer tok.merges 2>err &&
	test_error_mentions err "inf.safetensors" "holds an infinity"
'

test_expect_success 'rope_theta <= 0 in a checkpoint is a config error' '
	cp good.safetensors rope.safetensors &&
	LC_ALL=C sed -i "s/10000\.0}/-1.0000}/" rope.safetensors &&
	! cmp -s good.safetensors rope.safetensors &&
	test_must_fail lm-sample rope.safetensors --device cpu -p hello -n 4 --tokenizer tok.merges >out 2>err &&
	test_error_mentions err "lm-sample: " "rope_theta must be positive, not -1" &&
	! test -s out
'

test_expect_success 'rope_theta 0 or negative in a config: refused; a model without RoPE ignores it' '
	for theta in 0 -10000 0.0; do
		sed "s/}$/,\"rope_theta\":$theta}/" llama.json >theta.json &&
		test_must_fail test-tool config theta.json 2>err &&
		test_error_mentions err "rope_theta must be positive" || exit 1
	done &&
	test_must_fail lm-train data --model theta.json --steps 1 --device cpu -o run 2>err &&
	test_error_mentions err "lm-train: " "rope_theta must be positive" &&
	sed "s/}$/,\"positions\":\"learned\",\"rope_theta\":0}/" llama.json >learned.json &&
	test-tool config learned.json >out &&
	grep -q "\"positions\":\"learned\"" out
'

test_done
