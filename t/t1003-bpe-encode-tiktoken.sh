#!/bin/bash
test_description='bpe-encode: .tiktoken rank tables, and the default GPT-2 merges fetched from PyPI'
. ./lib-test.sh

G="$GPT2_DATA"
TABLE="$LMPIPE_BIN/../../data/gpt2.tiktoken"

test_expect_success PYTHON 'a rank table made from encoder.json gives the merges of vocab.bpe' '
	"$PYTHON" -c "
import json, base64, sys
sys.path.insert(0, \"$TEST_DIRECTORY\"); import importlib; lt = importlib.import_module(\"lib-tiktoken\")
dec = lt.byte_alphabet()
enc = json.load(open(\"$G/encoder.json\", encoding=\"utf-8\"))
with open(\"made.tiktoken\", \"w\") as f:
    for tok, i in sorted(enc.items(), key=lambda kv: kv[1]):
        if tok != \"<|endoftext|>\":
            f.write(base64.b64encode(bytes(dec[c] for c in tok)).decode() + \" %d\\n\" % i)
" &&
	test-tool tokranks made.tiktoken | sed 1d >got &&
	sed 1d "$G/vocab.bpe" | sed "/^$/d" >expect && test_cmp expect got
'

test_expect_success 'bpe-encode -m TABLE encodes as -m vocab.bpe' '
	bpe-encode -m made.tiktoken -s "<|endoftext|>" "$TEST_DATA/cs336/tinystories_sample.txt" >a &&
	bpe-encode -m "$G/vocab.bpe" -s "<|endoftext|>" "$TEST_DATA/cs336/tinystories_sample.txt" >b &&
	test_cmp a b
'

test_expect_success 'malformed rank tables: clear errors' '
	printf "IQ== 0\nIg== 2\n" >gap.tiktoken &&
	test_must_fail test-tool tokranks gap.tiktoken 2>err && grep "gap.tiktoken:2: rank 2 out of order" err &&
	printf "IQ== 0\n" >short.tiktoken &&
	test_must_fail test-tool tokranks short.tiktoken 2>err && grep "fewer than the 256 bytes" err
'

test_expect_success 'the fetched gpt2.tiktoken gives the merges of vocab.bpe' '
	test-tool tokranks "$TABLE" | sed 1d >got &&
	sed 1d "$G/vocab.bpe" | sed "/^$/d" >expect && test_cmp expect got
'

test_expect_success 'default merges: GPT-2 with <|endoftext|> = 50256' '
	bpe-encode "$TEST_DATA/cs336/special_token_double_newlines_non_whitespace.txt" | od -An -tu2 | xargs >out &&
	echo "50256 198 198 33407 0" >expect && test_cmp expect out &&
	LMPIPE_DATA_DIR=$(dirname "$TABLE") bpe-encode "$TEST_DATA/cs336/german.txt" >a &&
	bpe-encode -m "$G/vocab.bpe" "$TEST_DATA/cs336/german.txt" >b && test_cmp a b
'

test_done
