#!/bin/bash
test_description='GGUF for llama.cpp: both families, f32, f16 and bf16, the tokenizer inside

PyPI'"'"'s gguf (llama.cpp'"'"'s own gguf-py reader) reads what lm-convert
writes; t/py/gguf_check.py checks every key, token, merge and tensor against
the transformers directory of the same run, mapped as llama.cpp'"'"'s
convert_hf_to_gguf maps it (values exact after numpy'"'"'s own rounding).
Our tools read GGUF back by its content: the f32 file gives the run'"'"'s
logits bit for bit and its tokenizer from the metadata. Running it in
llama.cpp itself is bench/llama-cpp.sh (it builds llama.cpp).'
. ./lib-test.sh

SQ="'"
"$PYTHON" -c "import gguf" 2>/dev/null && test_set_prereq GGUF_PY

test_expect_success 'set up a tokenizer of 320 tokens, shards, and two runs of vocabulary 384' '
	cat "$TOP/README.md" "$TOP"/*/*.1 >text &&
	bpe-learn -v 320 -s "<|endoftext|>" -o merges text &&
	bpe-encode -m merges -s "<|endoftext|>" text | shard -o sdata --val-tokens 2000 &&
	for fam in gpt2 llama; do
		"$LMPIPE_REL_BIN/lm-train" sdata --model d1 --family $fam --vocab 384 --ctx 32 \
			--batch-tokens 256 -b 8 --eval-every 0 --steps 2 \
			--merges merges -s "<|endoftext|>" -o $fam 2>err || exit 1
	done
'

for fam in gpt2 llama; do
	for dt in f32 f16 bf16; do
		test_expect_success GGUF_PY,PYTHON "$fam in $dt: gguf-py reads it, every key and tensor as llama.cpp'$SQ's converter writes them" '
			lm-convert -t $dt $fam $fam-$dt.gguf &&
			"$PYTHON" "$TOP/t/py/gguf_check.py" $fam-$dt.gguf $fam $dt
		'
	done
done

test_expect_success 'the file begins GGUF, version 3, aligned data' '
	head -c 8 gpt2-f32.gguf | od -An -tx1 | tr -s " " >got &&
	echo " 47 47 55 46 03 00 00 00" >want &&
	test_cmp want got &&
	test $(($(wc -c <gpt2-f32.gguf) % 32)) = 0
'

test_expect_success 'our tools read it back: f32 bit for bit, the tokenizer from its metadata' '
	for fam in gpt2 llama; do
		lm-convert $fam $fam.gguf &&
		test-tool ckpt logits $fam 2 8 a.out && test-tool ckpt logits $fam.gguf 2 8 b.out &&
		cmp a.out b.out &&
		lm-sample $fam -p "The model" -t 0 -n 8 --ids --device cpu >a &&
		lm-sample $fam.gguf -p "The model" -t 0 -n 8 --ids --device cpu >b &&
		test_cmp a b &&
		lm-convert $fam-bf16.gguf $fam-bf16.safetensors &&
		lm-convert $fam-bf16.safetensors again.gguf -f -t bf16 &&
		cmp $fam-bf16.gguf again.gguf || exit 1
	done &&
	lm-stat --flops llama.gguf >stat && grep -q "llama family" stat
'

test_expect_success 'lm-train continues from a GGUF, its tokenizer carried into the run' '
	"$LMPIPE_REL_BIN/lm-train" sdata --model llama.gguf --batch-tokens 256 -b 8 --eval-every 0 \
		--steps 2 -o from-gguf 2>err &&
	cmp merges from-gguf/merges.txt &&
	test-tool config from-gguf >cfg && grep -q "\"family\":\"llama\"" cfg
'

test_expect_success 'a truncated or foreign GGUF: a clear error, nothing written' '
	head -c 3000 gpt2.gguf >short.gguf &&
	test_must_fail lm-convert short.gguf out.safetensors 2>err &&
	test_error_mentions err "lm-convert:" "${SQ}short.gguf${SQ}" &&
	head -c $(($(wc -c <gpt2.gguf) - 64)) gpt2.gguf >cut.gguf &&
	test_must_fail lm-sample cut.gguf -p x 2>err &&
	test_error_mentions err "past the end" &&
	! test -e out.safetensors
'

test_expect_success 'no GGUF for what llama.cpp cannot express, or without a tokenizer; nothing written' '
	"$LMPIPE_REL_BIN/lm-train" sdata --model d1 --vocab 384 --ctx 32 --positions rope \
		--batch-tokens 256 -b 8 --eval-every 0 --steps 1 -o rope 2>err &&
	test_must_fail lm-convert rope rope.gguf 2>err &&
	test_error_mentions err "lm-convert:" "llama.cpp" "rope" &&
	! test -e rope.gguf &&
	test-tool ckpt save gpt2/config.json 3 bare.safetensors &&
	test_must_fail lm-convert bare.safetensors bare.gguf 2>err &&
	test_error_mentions err "tokenizer" &&
	! test -e bare.gguf
'

test_done
