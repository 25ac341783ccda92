#!/bin/bash
test_description='long pieces of ideographs and kana cut into runs of one, two and more bytes (where no token holds the two bytes either side): characters whose inside bytes some token joins and ones no token joins, two-byte runs that are a token and ones that are not, pieces just under and over the cache key and long ones, every kind of run at the end of a piece, Han, kana and Latin without spaces, damaged UTF-8 inside a long run'
. ./lib-test.sh

G="$GPT2_DATA"

# FILE (and FILE.bad): SEED's pieces of letters from the Han and kana blocks, sorted by
# how GPT-2's tokens join their bytes: c "L C1 C2" with (L C1) and (C1 C2)
# each joined or cut, a joined pair that is a token or not.
cjk_runs() {
	"$PYTHON" - "$TEST_DIRECTORY" "$1" "$2" <<-\PYEOF
	import importlib, random, regex, sys
	sys.path.insert(0, sys.argv[1])
	ranks = importlib.import_module("lib-tiktoken").gpt2()._mergeable_ranks
	inner = {t[i:i + 2] for t in ranks for i in range(len(t) - 1)}
	def kind(c):
	    b = c.encode()
	    return (b[0:2] in inner, b[0:2] in ranks, b[1:3] in inner, b[1:3] in ranks, c.encode() in ranks)
	groups = {}
	for cp in list(range(0x3041, 0x3100)) + list(range(0x4e00, 0x9fa6)):
	    c = chr(cp)
	    if regex.match(r"\p{L}", c):
	        groups.setdefault(kind(c), []).append(c)
	assert len(groups) >= 6, groups.keys()
	kinds = sorted(groups)
	rng = random.Random(int(sys.argv[3]))
	def letters(n):    # n letters, each of a kind at random (so every run shape ends a piece)
	    return "".join(rng.choice(groups[rng.choice(kinds)]) for _ in range(n))
	out = []
	for n in list(range(1, 14)) * 20 + [20, 40, 100, 300] * 5:    # 3..39 bytes: around the key (30)
	    out.append(letters(n))
	for _ in range(200):                 # Han, kana, Latin and digits without spaces
	    out.append("".join(rng.choice([letters(rng.randrange(1, 12)), "abc", "Z", "7", "2024", "x1"])
	                       for _ in range(rng.randrange(2, 12))))
	open(sys.argv[2], "w", encoding="utf-8").write(" ".join(out * 2))    # the second from the caches
	bad = [b"\xe4\xbd", b"\xe4", b"\x80", b"\xbf\xbf", b"\xff", b"\xed\xa0\x80", b"\xe0\x80\x80"]
	text = b""
	for b in bad * 10:                   # damaged UTF-8 inside and at the end of a long run
	    text += b" " + letters(20).encode() + b + letters(20).encode() + b" " + letters(15).encode() + b
	open(sys.argv[2] + ".bad", "wb").write(text)
	PYEOF
}

test_expect_success PYTHON 'ids of pieces of ideographs and kana of every run shape equal tiktoken' '
	for seed in 1 2 3; do
		cjk_runs text$seed $seed &&
		tiktoken_gpt2_ids text$seed expect$seed &&
		bpe-encode -m "$G/vocab.bpe" -s "<|endoftext|>" -j 1 text$seed >got$seed &&
		test_cmp expect$seed got$seed || return 1
	done
'

# The ids of FILE, not all of it UTF-8, into EXPECTED: its pieces by the
# gpt2 pattern (each byte that begins no valid character a lone surrogate,
# so of class other, as pretok.h says), each merged by tiktoken alone.
damaged_ids() {
	"$PYTHON" - "$TEST_DIRECTORY" "$1" "$2" <<-\PYEOF
	import importlib, regex, sys
	import numpy as np
	sys.path.insert(0, sys.argv[1])
	lt = importlib.import_module("lib-tiktoken")
	enc, pat = lt.gpt2(), regex.compile(lt.GPT2_PAT)
	text = open(sys.argv[2], "rb").read().decode("utf-8", "surrogateescape")
	ids = [i for m in pat.finditer(text) for i in enc._encode_single_piece(m.group().encode("utf-8", "surrogateescape"))]
	np.array(ids, dtype="<u2").tofile(sys.argv[3])
	PYEOF
}

test_expect_success PYTHON 'ids of long pieces with damaged UTF-8 inside equal tiktoken piece by piece' '
	for seed in 1 2 3; do
		damaged_ids text$seed.bad expect$seed.bad &&
		bpe-encode -m "$G/vocab.bpe" -s "<|endoftext|>" -j 1 text$seed.bad >got$seed.bad &&
		test_cmp expect$seed.bad got$seed.bad || return 1
	done
'

test_done
