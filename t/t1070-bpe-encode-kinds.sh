#!/bin/bash
test_description='bpe-encode equals tiktoken on every kind of text: mixed scripts, emoji, code, man pages, random code points (the runs between cuts no token spans)'
. ./lib-test.sh

G="$GPT2_DATA"

# bpe-encode FILE with -j 1 and with -j 2 and small chunks, both equal to tiktoken's
same_as_tiktoken() {
	tiktoken_gpt2_ids "$1" expect &&
	bpe-encode -m "$G/vocab.bpe" -s "<|endoftext|>" -j 1 "$1" >got1 &&
	test_cmp expect got1 &&
	bpe-encode -m "$G/vocab.bpe" -s "<|endoftext|>" -j 2 --chunk 1000 "$1" >got2 &&
	test_cmp expect got2
}

test_expect_success PYTHON 'mixed scripts: Chinese, Japanese, Russian, Arabic, Hindi with Latin' '
	same_as_tiktoken "$TEST_DATA/kinds/mixed_script.txt"
'

test_expect_success PYTHON 'emoji chat: ZWJ sequences, skin tones, flags, keycaps' '
	same_as_tiktoken "$TEST_DATA/kinds/emoji_chat.txt"
'

test_expect_success PYTHON 'source code and man pages: C, Python, roff' '
	cat "$TOP/share/tok/encode.c" "$TOP/share/tok/pretok.h" >c.txt &&
	same_as_tiktoken c.txt &&
	cat "$TOP/bench/bpe_encode_corpora.py" "$TEST_DIRECTORY/lib-tiktoken.py" >py.txt &&
	same_as_tiktoken py.txt &&
	cat "$TOP/bpe-encode/bpe-encode.1" "$TOP/README.md" >tech.txt &&
	same_as_tiktoken tech.txt
'

# Random code points of many scripts, spaces and punctuation between: every
# pair of neighbours occurs, so runs of one, two and more bytes, cached and
# not, pieces that are tokens and pieces that are not.
test_expect_success PYTHON 'random code points of many scripts' '
	"$PYTHON" - <<-\PYEOF &&
	import random
	rng = random.Random(1070)
	blocks = [(0x20, 0x7e), (0xa0, 0x17f), (0x300, 0x36f), (0x370, 0x3ff), (0x400, 0x4ff),
	          (0x590, 0x6ff), (0x900, 0x97f), (0xe00, 0xe7f), (0x3040, 0x30ff), (0x4e00, 0x4fff),
	          (0xac00, 0xac7f), (0x2000, 0x206f), (0xfe00, 0xfe0f), (0x1f300, 0x1f64f), (0x1f900, 0x1f9ff)]
	out = []
	for _ in range(60000):
	    if rng.random() < 0.1:
	        out.append(rng.choice([" ", "  ", "\n", "\t", ". ", "\u200d", "    "]))
	    else:
	        a, b = rng.choice(blocks)
	        c = chr(rng.randint(a, b))
	        out.append(c * (1 + (rng.random() < 0.1) * rng.randint(1, 40)))
	open("random.txt", "w", encoding="utf-8", newline="").write("".join(out))
	PYEOF
	same_as_tiktoken random.txt
'

# One piece of thousands of characters with no space (a CJK paragraph, an
# emoji wall): split at cuts, its runs merge alone.
test_expect_success PYTHON 'long pieces: a CJK paragraph, a wall of emoji, a run of one CJK character' '
	"$PYTHON" - <<-\PYEOF &&
	import random
	rng = random.Random(7)
	cjk = "".join(chr(rng.randint(0x4e00, 0x9fff)) for _ in range(6000))
	emoji = "".join(rng.choice(["\U0001F600", "\U0001F44D\U0001F3FD", "\u2764\ufe0f", "\U0001F1EB\U0001F1F7"]) for _ in range(3000))
	open("long.txt", "w", encoding="utf-8", newline="").write(cjk + " " + emoji + " " + "\u7684" * 5000 + "\n")
	PYEOF
	same_as_tiktoken long.txt
'

test_done
