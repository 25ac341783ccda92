#!/bin/bash
test_description='bpe-learn: the CS336 reference, special tokens, counting across chunks'
. ./lib-test.sh

CS=$TEST_DATA/cs336

test_expect_success 'corpus.en, vocab 500, <|endoftext|>: the reference merges, in order' '
	bpe-learn -v 500 -s "<|endoftext|>" -o ours.bpe --json ours.json "$CS/corpus.en" &&
	head -n 1 ours.bpe >version && echo "#version: 0.2" >expect && test_cmp expect version &&
	tail -n +2 ours.bpe >merges && test_cmp "$CS/train-bpe-reference-merges.txt" merges
'

test_expect_success PYTHON 'corpus.en: the reference vocabulary, as sets of byte strings and ids' '
	"$PYTHON" - ours.json "$CS/train-bpe-reference-vocab.json" <<-\PY
	import json, sys
	ours, ref = (json.load(open(p, encoding="utf-8")) for p in sys.argv[1:3])
	assert set(ours) == set(ref), set(ours) ^ set(ref)
	assert sorted(ours.values()) == sorted(ref.values()) == list(range(500))
	assert ours["<|endoftext|>"] == 499
	PY
'

test_expect_success 'the same merges with 1 and 2 threads and from stdin' '
	bpe-learn -j 1 -v 500 -s "<|endoftext|>" "$CS/corpus.en" >j1.bpe &&
	test_cmp ours.bpe j1.bpe &&
	bpe-learn -j 2 -v 500 -s "<|endoftext|>" <"$CS/corpus.en" >stdin.bpe &&
	test_cmp ours.bpe stdin.bpe
'

test_expect_success 'tinystories_sample: no token but the special holds "<|"' '
	bpe-learn -v 1000 -s "<|endoftext|>" --json ts.json "$CS/tinystories_sample.txt" >ts.bpe 2>err &&
	! grep -F "<|" ts.bpe &&
	grep -o "\"[^\"]*<|[^\"]*\": [0-9]*" ts.json >specials &&
	test "$(cat specials)" = "\"<|endoftext|>\": $(($(wc -l <ts.bpe) - 1 + 256))"
'

test_expect_success 'special_token_*.txt: nothing merges into or across the special' '
	for f in "$CS"/special_token_*.txt; do
		bpe-learn -v 300 -s "<|endoftext|>" "$f" >sp.bpe 2>/dev/null &&
		! grep -F -e "<" -e "|" -e ">" sp.bpe || return 1
	done &&
	printf "a<|endoftext|>b a<|endoftext|>b\n" >cross.txt &&
	bpe-learn -v 300 -s "<|endoftext|>" cross.txt >cross.bpe 2>/dev/null &&
	! grep -F -e "<" -e "|" -e ">" cross.bpe
'

test_expect_success 'the longest special wins; without -s a special is plain text' '
	printf "<|a|><|a|>xy<|a|>xy" >long.txt &&
	bpe-learn -v 300 -s "<|a|>" -s "<|a|><|a|>" --json long.json long.txt >long.bpe 2>/dev/null &&
	printf "#version: 0.2\nx y\n" >expect && test_cmp expect long.bpe &&
	grep -q "\"<|a|>\": 257, \"<|a|><|a|>\": 258}" long.json &&
	bpe-learn -v 260 long.txt >plain.bpe 2>/dev/null && grep -q "^< |" plain.bpe
'

test_expect_success 'ties go to the greater pair of byte strings' '
	printf "ab cd ab cd ba" >tie.txt &&
	bpe-learn -v 258 tie.txt >tie.bpe &&
	# (a,b), (c,d) and (" ",c) occur twice each: ("c","d") is the greatest,
	# then ("a","b") beats (" ","cd")
	printf "#version: 0.2\nc d\na b\n" >expect && test_cmp expect tie.bpe
'

test_expect_success PYTHON 'counts across chunk edges equal a regex oracle (specials, long runs, Unicode)' '
	"$PYTHON" - gen.txt <<-\PY &&
	import random, sys
	random.seed(7)
	words = ["the", " cat", "I", "\x27ll", "\x27S", " 42", "123456", "caf\u00e9", " \u00fcber",
	         "\u4e2d\u6587", "\U0001F600", "\u0915\u093f", "!!", " ...", "\t", "\u00a0",
	         "\u3000", "\u2028", "\x85", "\r\n", "\n\n\n", "   ", "<|endoftext|>", "<|endo", "x"]
	out, n = [], 0
	while n < 3_200_000:
	    w = random.choice(words)
	    if random.random() < 0.002:
	        w = " " * random.randint(1, 200_000)   # a long run with no safe cut
	    out.append(w)
	    n += len(w)
	open(sys.argv[1], "w", encoding="utf-8", newline="").write("".join(out))
	PY
	"$PYTHON" - gen.txt "<|endoftext|>" <<-\PY | sort >expect &&
	import collections, regex, sys
	pat = regex.compile(r"""\x27s|\x27t|\x27re|\x27ve|\x27m|\x27ll|\x27d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""")
	text = open(sys.argv[1], "rb").read().decode("utf-8")
	counts = collections.Counter()
	for part in text.split(sys.argv[2]):
	    for m in pat.finditer(part):
	        counts[m.group().encode()] += 1
	for k, v in counts.items():
	    print(k.hex(), v)
	PY
	test-tool learn-count -j 2 -s "<|endoftext|>" gen.txt | sort >actual &&
	test_cmp expect actual &&
	xz -T1 -1 -k gen.txt && test-tool learn-count -j 1 -s "<|endoftext|>" gen.txt.xz | sort >actual &&
	test_cmp expect actual
'

test_done
