#!/bin/bash
test_description='more distinct pieces than the cache of recent pieces has slots, each seen again after most were evicted: pieces of 1 to 40 bytes (around the head word of 8 and the key of 30) of Latin, Cyrillic, Arabic, Devanagari, Han and kana, so every slot, its ids and its key are written, overwritten and hit'
. ./lib-test.sh

G="$GPT2_DATA"

# FILE: 60000 distinct pieces of one script each, the whole list twice in
# two shuffles (the second pass meets each piece after tens of thousands of
# others: a hit, or a miss after eviction).
cache_text() {
	"$PYTHON" - "$1" <<-\PYEOF
	import random, sys
	rng = random.Random(7)
	blocks = [(0x61, 0x7b), (0x430, 0x450), (0x627, 0x64b), (0x915, 0x93a), (0x4e00, 0x4f00), (0x3041, 0x3097)]
	seen, pieces = set(), []
	while len(pieces) < 60000:
	    lo, hi = rng.choice(blocks)
	    n = rng.randrange(1, 15)
	    w = "".join(chr(rng.randrange(lo, hi)) for _ in range(n))
	    if len(w.encode()) <= 40 and w not in seen:
	        seen.add(w)
	        pieces.append(w)
	first, second = pieces[:], pieces[:]
	rng.shuffle(first)
	rng.shuffle(second)
	open(sys.argv[1], "w", encoding="utf-8").write(" " + " ".join(first + second) + "\n")
	PYEOF
}

test_expect_success PYTHON 'ids of pieces seen again after the cache was overwritten equal tiktoken' '
	cache_text text &&
	tiktoken_gpt2_ids text expect &&
	bpe-encode -m "$G/vocab.bpe" -s "<|endoftext|>" -j 1 text >got &&
	test_cmp expect got
'

test_done
