#!/bin/bash
test_description='the fast paths of the encoder at their edges: UTF-8 characters of every length and class next to overlong forms, surrogates, truncated and stray bytes (each one symbol of class other), ASCII letter runs ending at every byte, short pieces that are no token, a long piece that is a token BPE cannot reach, at the end of the text too'
. ./lib-test.sh

G="$GPT2_DATA"

# FILE made of SEED's random mix of the characters below (and, with
# "invalid", of damaged sequences), in lines and at its very end.
mix_text() {
	"$PYTHON" - "$1" "$2" "$3" <<-\PYEOF
	import random, sys
	valid = ["a", "Z", " ", "  ", "\n", "\t", "7", ".", "'", "'s", "'ll",
	         "\u00e9", "\u0416", "\u0663", "\u0301", "\u00a0", "\u0085", "\u0800",
	         "\u4e2d", "\u0915", "\u093e", "\u3000", "\u2028", "\uff11", "\ud7fb",
	         "\ue000", "\U0001f600", "\U0001d400", "\U000104a0", "\U0010fffd"]
	invalid = [b"\xe0\x80\x80", b"\xe0\x9f\xbf", b"\xed\xa0\x80", b"\xed\xbf\xbf",
	           b"\xc0\xaf", b"\xc1\xbf", b"\xc2", b"\xdf", b"\xe4\xbd", b"\xe4",
	           b"\xf0\x8f\xbf\xbf", b"\xf4\x90\x80\x80", b"\xf0\x9f\x98", b"\xf5\x80",
	           b"\xff", b"\x80", b"\xbf\xbf"]
	pool = [v.encode() for v in valid] + (invalid if sys.argv[3] == "invalid" else [])
	rng = random.Random(int(sys.argv[2]))
	out = []
	for line in range(400):
	    out += [rng.choice(pool) for _ in range(rng.randrange(1, 14))]
	    out.append(b"\n" if rng.random() < 0.8 else b"")
	for b in pool:                      # each piece alone at the text end
	    out += [b" x", b]
	open(sys.argv[1], "wb").write(b"".join(out))
	PYEOF
}

test_expect_success PYTHON 'pre-tokens of valid and damaged UTF-8 equal the pattern' '
	for seed in 1 2 3; do
		mix_text adv$seed $seed invalid &&
		gpt2_pattern_split adv$seed >expect$seed &&
		test-tool pretok split <adv$seed >out$seed &&
		test_cmp expect$seed out$seed || return 1
	done
'

test_expect_success PYTHON 'each damaged sequence alone, at the end of the text and after a space' '
	for b in "\340\200\200" "\355\240\200" "\300\257" "\302" "\344\275" "\360\237\230" "\364\220\200\200" "\377"; do
		printf "$b" >one && printf " $b" >sp && printf "x$b" >x &&
		for f in one sp x; do
			gpt2_pattern_split $f >expect && test-tool pretok split <$f >out &&
			test_cmp expect out || return 1
		done
	done
'

test_expect_success PYTHON 'runs of ASCII letters end at every byte, at every place of a word and at the text end' '
	"$PYTHON" - letters <<-\PYEOF &&
	import sys
	out = []
	for b in range(256):
	    for j in range(1, 19):
	        out.append(b" " + b"xY"[j % 2:j % 2 + 1] * j + bytes([b]) + b"q\n")
	for j in range(1, 19):
	    out.append(b" " + b"aB" * j)
	open(sys.argv[1], "wb").write(b"".join(out))
	PYEOF
	gpt2_pattern_split letters >expect &&
	test-tool pretok split <letters >out &&
	test_cmp expect out &&
	for j in 1 7 8 9 16 17; do
		head -c $j letters >lj && gpt2_pattern_split lj >expect &&
		test-tool pretok split <lj >out && test_cmp expect out || return 1
	done
'

test_expect_success PYTHON 'ids of short pieces that are no token equal tiktoken, in lines and at the end' '
	mix_text valid 4 valid &&
	tiktoken_gpt2_ids valid expect &&
	bpe-encode -m "$G/vocab.bpe" -s "<|endoftext|>" -j 1 valid >got &&
	test_cmp expect got
'

# "a a", "aa a", "aaa aa", "aaaaa aaaaa": BPE of ten a's stops at five "aa"
# (no merge "aa aa"), but the ten are a token, which a whole piece is.
test_expect_success 'a piece over 8 bytes that is a token BPE cannot reach is that token' '
	printf "#version: 0.2\na a\naa a\naaa aa\naaaaa aaaaa\n" >ten.bpe &&
	printf "aaaaaaaaaa\naaaaaaaaaa" >ten.txt &&
	bpe-encode -m ten.bpe ten.txt | od -An -tu2 | xargs >out &&
	echo "259 198 259" >expect && test_cmp expect out
'

test_done
