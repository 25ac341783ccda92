#!/bin/bash
test_description='share/tok: the byte alphabet, merges files and encoder.json'
. ./lib-test.sh

test_expect_success 'the alphabet: every byte round-trips, ids are a permutation' '
	test-tool merges alphabet >alpha &&
	test $(wc -l <alpha) = 256 &&
	cut -d" " -f2 alpha | sort -n | uniq >ids && seq 0 255 >all && test_cmp all ids &&
	grep -q "^33 0 U+0021 !\$" alpha && grep -q "^32 220 U+0120 Ġ\$" alpha &&
	grep -q "^10 198 U+010A Ċ\$" alpha && grep -q "^0 188 U+0100 Ā\$" alpha &&
	grep -q "^173 255 U+0143 Ń\$" alpha
'

test_expect_success 'GPT-2 vocab.bpe + <|endoftext|>: 50257 tokens, encoder.json byte for byte' '
	test-tool merges info "$GPT2_DATA/vocab.bpe" "<|endoftext|>" >info &&
	grep -q "^merges 50000 specials 1 vocab 50257\$" info &&
	test-tool merges json "$GPT2_DATA/vocab.bpe" "<|endoftext|>" >encoder.json &&
	cmp encoder.json "$GPT2_DATA/encoder.json"
'

test_expect_success 'the 8 merges that begin with # are merges, not headers' '
	grep "^merge " info >hash &&
	test $(wc -l <hash) = 8 &&
	grep -q "^merge 1979: 2 2\$" hash
'

test_expect_success PYTHON 'GPT-2 vocab.bpe makes 50000 distinct byte strings (as our read demands)' '
	"$PYTHON" - "$GPT2_DATA/encoder.json" <<-\PY
	import json, sys
	enc = json.load(open(sys.argv[1], encoding="utf-8"))
	assert len(enc) == 50257 and len(set(enc.values())) == 50257, len(enc)
	PY
'

test_expect_success 'writing gives back the same file' '
	test-tool merges write "$GPT2_DATA/vocab.bpe" again.bpe &&
	cmp again.bpe "$GPT2_DATA/vocab.bpe"
'

test_expect_success 'a small file with CRLF and a blank line reads' '
	printf "#version: 0.2\r\nĠ t\r\n\r\nh e\r\nĠt he\r\n" >small.bpe &&
	test-tool merges info small.bpe >out &&
	grep -q "^merges 3 specials 0 vocab 259\$" out
'

test_expect_success 'no version line: error naming file and line 1' '
	printf "Ġ t\nh e\n" >nover.bpe &&
	test_must_fail test-tool merges info nover.bpe 2>err &&
	grep -q "nover.bpe.* line 1: .*#version" err
'

test_expect_success 'a symbol outside the alphabet: error naming the line' '
	printf "#version: 0.2\nĠ t\nh\xe2\x82\xac e\n" >sym.bpe &&
	test_must_fail test-tool merges info sym.bpe 2>err &&
	grep -q "sym.bpe.* line 3: .*U+20AC.*outside the byte alphabet" err
'

test_expect_success 'a duplicate merge: error' '
	printf "#version: 0.2\nĠ t\nh e\nĠ t\n" >dup.bpe &&
	test_must_fail test-tool merges info dup.bpe 2>err &&
	grep -q "dup.bpe.* line 4: duplicate merge" err
'

test_expect_success 'two merges making the same bytes ("ab c", "a bc"): error naming the line' '
	printf "#version: 0.2\na b\nab c\nb c\na bc\n" >same.bpe &&
	test_must_fail test-tool merges info same.bpe 2>err &&
	grep -q "same.bpe.* line 5: merge .a bc. makes the bytes of token 257 again" err &&
	printf "#version: 0.2\na b\nab c\nb c\n" >ok.bpe &&
	test-tool merges info ok.bpe >out && grep -q "^merges 3 specials 0 vocab 259\$" out
'

test_expect_success 'a part that is not an earlier token: error' '
	printf "#version: 0.2\nĠ t\nĠt he\n" >part.bpe &&
	test_must_fail test-tool merges info part.bpe 2>err &&
	grep -q "part.bpe.* line 3: .*he.* not a token" err
'

test_expect_success 'a line that is not two parts: error' '
	printf "#version: 0.2\nĠ t x\n" >three.bpe &&
	test_must_fail test-tool merges info three.bpe 2>err &&
	grep -q "three.bpe.* line 2: not a merge" err
'

test_expect_success 'an empty or duplicate special token: error' '
	test_must_fail test-tool merges info small.bpe "" 2>err &&
	grep -q "empty special" err &&
	test_must_fail test-tool merges info small.bpe "<s>" "<s>" 2>err &&
	grep -q "duplicate special" err
'

test_expect_success 'a missing file: error naming it' '
	test_must_fail test-tool merges info nosuch.bpe 2>err &&
	grep -q "cannot open .nosuch.bpe.: No such file" err
'

test_done
