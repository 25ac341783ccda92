#!/bin/bash
test_description='tokenizer files: malformed input gives the right error, no undefined behaviour, no leak

Run under the sanitized build, UBSan halts on undefined behaviour and the
leak tests turn LeakSanitizer on for one command each.'
. ./lib-test.sh

. "$TEST_DIRECTORY/lib-model-configs.sh"

LEAKS="ASAN_OPTIONS=detect_leaks=1:abort_on_error=0"

test_expect_success 'a merges file with a stray UTF-8 continuation byte: error, no bad shift' '
	printf "#version: 0.2\n\200 a\n" >stray.merges &&
	echo hi >t.txt &&
	test_exit_is 1 bpe-encode -m stray.merges t.txt 2>err &&
	echo "bpe-encode: '\''stray.merges'\'' line 2: malformed UTF-8 (byte 0x80)" >expect &&
	test_cmp expect err
'

test_expect_success 'a rank table with a rank out of order: error, nothing leaked' '
	printf "IQ== 0\nIg== 2\n" >order.tiktoken &&
	echo hi >t.txt &&
	test_exit_is 1 env $LEAKS bpe-encode -m order.tiktoken t.txt 2>err &&
	echo "bpe-encode: order.tiktoken:2: rank 2 out of order (expected 1)" >expect &&
	test_cmp expect err
'

test_expect_success 'a rank table with a bad line after good ones: error, nothing leaked' '
	printf "IQ== 0\nIg== 1\n??? 2\n" >bad.tiktoken &&
	test_exit_is 1 env $LEAKS bpe-encode -m bad.tiktoken t.txt 2>err &&
	echo "bpe-encode: bad.tiktoken:3: not a line of a rank table (BASE64 RANK)" >expect &&
	test_cmp expect err
'

# A checkpoint whose metadata carries merges (as lm-train --merges writes).
put_merges() {
	python3 - "$1" "$2" <<-\PY
	import json, struct, sys
	path, text = sys.argv[1], open(sys.argv[2]).read()
	b = open(path, "rb").read()
	n = struct.unpack("<Q", b[:8])[0]
	head = json.loads(b[8:8 + n])
	head.setdefault("__metadata__", {})["tokenizer_merges"] = text
	h = json.dumps(head, separators=(",", ":")).encode()
	h += b" " * (-len(h) % 8)
	open(path, "wb").write(struct.pack("<Q", len(h)) + h + b[8 + n:])
	PY
}

test_expect_success 'set up a tiny checkpoint and HellaSwag items' '
	echo "{$model_gpt2}" >gpt2.json &&
	test-tool ckpt save gpt2.json 5 tiny.safetensors &&
	cat >hs.jsonl <<-\EOF
	{"ind": 24, "activity_label": "Roof shingle removal", "ctx_a": "A man is sitting on a roof.", "ctx_b": "he", "ctx": "A man is sitting on a roof. he", "split": "val", "split_type": "indomain", "label": 3, "endings": ["is using wrap to wrap a pair of skis.", "is ripping level tiles off.", "is holding a cube.", "starts pulling up roofing on a roof."], "source_id": "activitynet~v_-JhWjGDPHMY"}
	EOF
'

test_expect_success 'a bad merges text in a checkpoint: the error names the checkpoint and the key, no /proc path' '
	cp tiny.safetensors badm.safetensors &&
	printf "#version: 0.2\na b c\n" >m.txt && put_merges badm.safetensors m.txt &&
	test_exit_is 1 lm-eval hellaswag badm.safetensors --device cpu --data hs.jsonl 2>err &&
	echo "lm-eval: '\''badm.safetensors'\'': '\''tokenizer_merges'\'' line 2: not a merge (two parts separated by one space)" >expect &&
	test_cmp expect err
'

test_expect_success 'a checkpoint tokenizer larger than the model: said once, not "the tokenizer the tokenizer"' '
	cp tiny.safetensors big.safetensors &&
	printf "#version: 0.2\n" >m.txt && put_merges big.safetensors m.txt &&
	test_exit_is 1 lm-eval hellaswag big.safetensors --device cpu --data hs.jsonl 2>err &&
	echo "lm-eval: the tokenizer (in '\''big.safetensors'\'') has 256 tokens, the model'\''s vocabulary 100" >expect &&
	test_cmp expect err
'

test_done
