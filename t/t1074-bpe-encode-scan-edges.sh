#!/bin/bash
test_description='the scanning of multi-byte runs at their edges: runs of two- and three-byte characters of every class broken by overlong forms, surrogates, truncated and stray bytes, C0/C1 leads, combining marks and class changes at block boundaries, at the end of the text too; long CJK and Indic pieces cut into runs of one, two, three and more bytes, around the length of the cache key'
. ./lib-test.sh

G="$GPT2_DATA"

# FILE: SEED's runs of characters of one group each (so that long runs of
# one class form, then change), with damaged sequences when "invalid"; then
# each edge string alone after a letter run, each at the very end.
scan_text() {
	"$PYTHON" - "$1" "$2" "$3" <<-\PYEOF
	import random, sys
	groups = [
	    "中文字日本語學生活工作而且",                  # CJK letters, 3 bytes
	    "ジャーナルスマッシュ陶器",                   # kana and kanji
	    "\u3400\u33ff\u4dbf\u4dc0\u9fff\ua000\ua4ff\ua500",  # class changes at blocks
	    "\u0800\u07ff\u0fff\u1000\ud7fb\ud7fc\ue000\uffff\ufffd",
	    "कखगलीलाािुे्ंँ",                            # Devanagari, marks (other)
	    "०१२३\uff11\uff12\u0966\u2167",             # numbers of 3 bytes
	    "\u3001\u3002\u2014\u201c\u00b7\u00bf",        # other of 2 and 3 bytes
	    "ЖжпрстАБВ",                                 # Cyrillic, 2 bytes
	    "بقسوةإعمار\u064b\u0650\u0660\u0661",         # Arabic letters, marks, digits
	    "éüñ\u0301\u00a0\u0085\u00aa\u00b5\u00ba",    # Latin-1, NBSP, NEL
	    "\U0001f600\U0001d400\U000104a0\U0010fffd",   # 4 bytes
	    "ab Z7 \n'",
	]
	invalid = [b"\xe0\x80\x80", b"\xe0\x9f\xbf", b"\xe0\x81\x81", b"\xe0\x83\x90",
	           b"\xed\xa0\x80", b"\xed\xbf\xbf", b"\xed\x9f\xbf", b"\xc1\x81",
	           b"\xc0\xaf", b"\xc1\xbf", b"\xc2", b"\xdf", b"\xe4\xbd", b"\xe4", b"\xe4\xbd\x41",
	           b"\xe4\xf0\x9f\x98\x80", b"\xf0\x8f\xbf\xbf", b"\xf4\x90\x80\x80", b"\xf0\x9f\x98",
	           b"\xff", b"\x80", b"\xbf\xbf", b"\xef\xbf"]
	rng = random.Random(int(sys.argv[2]))
	bad = sys.argv[3] == "invalid"
	out = []
	for line in range(300):
	    for _ in range(rng.randrange(1, 6)):
	        g = rng.choice(groups)
	        out += [rng.choice(g).encode() for _ in range(rng.randrange(1, 40))]
	        if bad and rng.random() < 0.5:
	            out.append(rng.choice(invalid))
	        if rng.random() < 0.3:
	            out.append(b" ")
	    out.append(b"\n")
	edges = [c.encode() for g in groups for c in g] + (invalid if bad else [])
	for b in edges:
	    out += ["中文字\u0915".encode(), b, b"\n"]
	for b in edges:                      # each at the very end, after a run
	    out += [b" ", "中文".encode(), b]
	open(sys.argv[1], "wb").write(b"".join(out))
	PYEOF
}

test_expect_success PYTHON 'pre-tokens of runs of valid and damaged characters equal the pattern' '
	for seed in 1 2 3; do
		scan_text bad$seed $seed invalid &&
		gpt2_pattern_split bad$seed >expect$seed &&
		test-tool pretok split <bad$seed >out$seed &&
		test_cmp expect$seed out$seed || return 1
	done
'

# Each code point of two and three bytes after a letter, a number and an
# other, alone and six times over (runs read several characters at a time):
# it goes on with the run or ends it as its class says. The classes
# (t1000 checks them against tiktoken) are those of pretok_class; the code
# points where Python's regex module, of another Unicode version, differs
# are left out.
test_expect_success PYTHON 'every character of two and three bytes, alone and in a run, goes on with a run of its class only' '
	test-tool pretok classes >classes &&
	"$PYTHON" - classes every <<-\PYEOF &&
	import regex, sys
	cls = dict(map(lambda l: (int(l.split()[0], 16), int(l.split()[1])), open(sys.argv[1])))
	def theirs(c):
	    return (3 if regex.match(r"\s", c) else 1 if regex.match(r"\p{L}", c)
	            else 2 if regex.match(r"\p{N}", c) else 0)
	cps = [c for c in range(0x80, 0x10000)
	       if not 0xD800 <= c <= 0xDFFF and theirs(chr(c)) == cls[c]]
	assert len(cps) > 60000
	text = "".join("a%s1%s!%s\n" % (c, c, c) for cp in cps for c in (chr(cp), chr(cp) * 6))
	text += "".join("\u0416\u0416%s\n" % (chr(cp) * 6) for cp in cps if cp < 0x800)    # after Cyrillic
	open(sys.argv[2], "w", encoding="utf-8").write(text)
	PYEOF
	gpt2_pattern_split every >expect &&
	test-tool pretok split <every >out &&
	test_cmp expect out
'

test_expect_success PYTHON 'each edge string ends the text after a run, at every cut of its last bytes' '
	scan_text edges 4 invalid &&
	n=$(wc -c <edges) &&
	for k in 1 2 3 4 5 6 7 8; do
		head -c $((n - k)) edges >cut &&
		gpt2_pattern_split cut >expect && test-tool pretok split <cut >out &&
		test_cmp expect out || return 1
	done
'

test_expect_success PYTHON 'ids of runs of every script equal tiktoken' '
	for seed in 5 6; do
		scan_text valid$seed $seed valid &&
		tiktoken_gpt2_ids valid$seed expect$seed &&
		bpe-encode -m "$G/vocab.bpe" -s "<|endoftext|>" -j 1 valid$seed >got$seed &&
		test_cmp expect$seed got$seed || return 1
	done
'

# Pieces of 1 to 60 CJK or Devanagari letters (3 to 180 bytes: below, at
# and over the cache key), each seen twice (the second from the caches),
# whose bytes GPT-2 joins in runs of one, two, three and more bytes.
test_expect_success PYTHON 'ids of long CJK and Indic pieces, first and cached, equal tiktoken' '
	"$PYTHON" - long <<-\PYEOF &&
	import random, sys
	rng = random.Random(7)
	letters = ["中文字日本語學生活工作而且的一是不了人我在有他这为之大来以个", "कखगचजटडतदनपबमयरलवशसह",
	           "ナルスマッシュジャーカタ"]
	pieces = []
	for n in range(1, 61):
	    for g in letters:
	        pieces.append("".join(rng.choice(g) for _ in range(n)))
	text = " ".join(pieces * 2)
	open(sys.argv[1], "w", encoding="utf-8").write(text)
	PYEOF
	tiktoken_gpt2_ids long expect &&
	bpe-encode -m "$G/vocab.bpe" -s "<|endoftext|>" -j 1 long >got &&
	test_cmp expect got
'

# Bytes E9 (each invalid, so one run of other): "\351\351" first, so BPE
# of seven stops at [2 2 3] (no token of 4 or 5), but the seven are a token
# (259), which the piece is: a short piece with a byte over 0x7F is looked
# up whole, in the middle of the text and at its end.
test_expect_success 'a short piece of bytes over 0x7F that is a token BPE cannot reach is that token' '
	printf "#version: 0.2\n\303\251 \303\251\n\303\251\303\251 \303\251\n\303\251\303\251\303\251 \303\251\303\251\303\251\n\303\251\303\251\303\251\303\251\303\251\303\251 \303\251\n" >seven.bpe &&
	printf "\351\351\351\351\351\351\351\n\351\351\351\351\351\351\351" >seven.txt &&
	bpe-encode -m seven.bpe seven.txt | od -An -tu2 | xargs >out &&
	echo "259 198 259" >expect && test_cmp expect out
'

test_done
