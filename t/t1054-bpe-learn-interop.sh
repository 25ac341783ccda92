#!/bin/bash
test_description='bpe-learn: its merges and encoder.json load in HF tokenizers and tiktoken, which encode alike'
. ./lib-test.sh

command -v bpe-encode >/dev/null 2>&1 && test_set_prereq BPE_ENCODE

test_expect_success 'learn a 3000 vocabulary from tiny shakespeare and tinystories' '
	cat "$TEST_DATA/corpus/tinyshakespeare_head.txt" "$TEST_DATA/cs336/tinystories_sample.txt" \
		"$TEST_DATA/corpus/tinystories_val_head.txt" >corpus.txt &&
	"$LMPIPE_REL_BIN/bpe-learn" -v 3000 -s "<|endoftext|>" -o tok.bpe --json tok.json corpus.txt &&
	test $(wc -l <tok.bpe) = 2744 &&
	cat "$TEST_DATA/cs336/tinystories_sample.txt" "$TEST_DATA/cs336/address.txt" \
		"$TEST_DATA/cs336/german.txt" >probe.txt &&
	printf "I'"'"'LL be there!!  \n\n\n   caf\303\251 \360\237\230\200 12345 <|endoftext|><|endoftext|>\n\n" >>probe.txt
'

test_expect_success PYTHON 'HF GPT2TokenizerFast and GPT2Tokenizer encode as tiktoken built from the same merges' '
	"$PYTHON" - tok.json tok.bpe probe.txt >ids.txt <<-\PY
	import json, sys
	import tiktoken
	from transformers import GPT2Tokenizer, GPT2TokenizerFast
	vocab_file, merges_file, probe = sys.argv[1:4]
	text = open(probe, encoding="utf-8").read()
	fast = GPT2TokenizerFast(vocab_file=vocab_file, merges_file=merges_file)
	slow = GPT2Tokenizer(vocab_file=vocab_file, merges_file=merges_file)
	vocab = json.load(open(vocab_file, encoding="utf-8"))
	assert len(fast) == len(vocab) == 3000, (len(fast), len(vocab))
	bs = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
	cs = bs[:]
	for b in range(256):
	    if b not in bs:
	        bs.append(b)
	        cs.append(256 + len(cs) - 188)
	byte_of = {chr(c): b for b, c in zip(bs, cs)}
	ranks = {bytes(byte_of[ch] for ch in tok): i for tok, i in vocab.items() if tok != "<|endoftext|>"}
	enc = tiktoken.Encoding("learned", pat_str=r"""\x27s|\x27t|\x27re|\x27ve|\x27m|\x27ll|\x27d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""",
	                        mergeable_ranks=ranks, special_tokens={"<|endoftext|>": vocab["<|endoftext|>"]})
	want = enc.encode(text, allowed_special="all")
	got_fast = fast.encode(text)
	got_slow = slow.encode(text)
	assert got_fast == want, next(i for i, (a, b) in enumerate(zip(got_fast, want)) if a != b)
	assert got_slow == want
	assert want.count(2999) == 7 and len(want) > 1000
	assert enc.decode(want) == text
	print(" ".join(map(str, want)))
	PY
'

test_expect_success PYTHON,BPE_ENCODE 'bpe-encode -m with the learned merges gives the same ids' '
	bpe-encode -m tok.bpe -s "<|endoftext|>" probe.txt >ids.bin &&
	"$PYTHON" -c "import sys, array; a = array.array(\"H\"); a.frombytes(open(sys.argv[1], \"rb\").read()); print(\" \".join(map(str, a)))" ids.bin >ours.txt &&
	test_cmp ids.txt ours.txt
'

test_done
