#!/bin/bash
test_description='a merge ranks by the bytes its two parts make, as tiktoken ranks it

tiktoken ranks merging two adjacent parts as the token whose bytes the two
make, whichever pair of tokens makes them and whether or not the merges file
lists that pair. In "abcd" with the merges "b c", "a b", "ab c": bc merges
first (rank 256), then a + bc makes abc (258), a pair no line lists. Then
random vocabularies over four letters, each token two earlier ones joined
(so most tokens have several splits, most of them unlisted), against
tiktoken built from the same tokens: through each merging path (short
pieces by scanning, long ones by the heap, and the rounds that giant pieces
take, here for every piece), and read back as a .tiktoken rank table, whose
merges are found by BPE with only the tokens below each one.'
. ./lib-test.sh

# ids TABLE FILE [--piece]: FILE's ids by each merging path, which agree.
ids() {
	test-tool bpe ${3-} "$1" "$2" >ids.out &&
	test-tool bpe --heap ${3-} "$1" "$2" >heap.out && test_cmp ids.out heap.out &&
	test-tool bpe --lean ${3-} "$1" "$2" >lean.out && test_cmp ids.out lean.out &&
	cat ids.out
}

test_expect_success 'a merge through a pair no line lists: a + bc = abc' '
	printf "#version: 0.2\nb c\na b\nab c\n" >abc.merges &&
	printf abcd >abcd.txt &&
	ids abc.merges abcd.txt >got &&
	printf "258\n67\n" >expect && test_cmp expect got &&
	python3 -c "print(\"abcd\" * 40, end=\"\")" >abcd40.txt &&
	ids abc.merges abcd40.txt --piece >got &&
	for i in $(seq 40); do printf "258\n67\n"; done >expect && test_cmp expect got
'

# tiktoken's ids of FILE, one a line, with the vocabulary of the merges TABLE
tiktoken_ids() {
	"$PYTHON" - "$TEST_DIRECTORY" "$1" "$2" <<-\EOF
	import sys, importlib, tiktoken
	sys.path.insert(0, sys.argv[1])
	lt = importlib.import_module("lib-tiktoken")
	dec = lt.byte_alphabet()
	toks = [bytes([b]) for b in dec.values()]    # the bytes in GPT-2 order
	for line in open(sys.argv[2], encoding="utf-8").read().split("\n")[1:]:
	    if line:
	        x, y = line.split(" ")
	        toks.append(bytes(dec[c] for c in x + y))
	enc = tiktoken.Encoding("t1072", pat_str=lt.GPT2_PAT,
	                        mergeable_ranks={t: i for i, t in enumerate(toks)}, special_tokens={})
	text = open(sys.argv[3], "rb").read().decode("utf-8")
	print("\n".join(str(i) for i in enc.encode_ordinary(text)))
	EOF
}

test_expect_success PYTHON 'the same vocabulary in tiktoken: the same ids' '
	tiktoken_ids abc.merges abcd.txt >got && printf "258\n67\n" >expect && test_cmp expect got
'

# Vocabularies of N tokens: each joins two random earlier ones, kept when
# its bytes are new and BPE of them with the tokens before it stops at two
# parts (so a rank table reads back; tiktoken's own tables are so). Texts:
# runs of letters of every length up to 400 (the heap above 48 bytes),
# between spaces and newlines, and one run of 3000 as a single piece.
test_expect_success PYTHON 'set up random vocabularies and texts' '
	"$PYTHON" - <<-\EOF
	import base64, random
	def bpe(b, rank):
	    parts = [b[i:i + 1] for i in range(len(b))]
	    while True:
	        r = [rank.get(parts[i] + parts[i + 1]) for i in range(len(parts) - 1)]
	        live = [x for x in r if x is not None]
	        if not live:
	            return parts
	        i = r.index(min(live))
	        parts[i:i + 2] = [parts[i] + parts[i + 1]]
	order = [b for b in range(256) if 0x21 <= b <= 0x7e or 0xa1 <= b <= 0xac or b >= 0xae]
	order += [b for b in range(256) if b not in order]
	for seed, n, longest in ((1, 200, 8), (2, 400, 16), (3, 600, 40)):
	    rng = random.Random(seed)
	    toks = [bytes([b]) for b in order]
	    rank = {t: i for i, t in enumerate(toks)}
	    merges = []
	    pool = [b"a", b"b", b"c", b"d"]
	    while len(merges) < n:
	        x, y = rng.choice(pool), rng.choice(pool)
	        t = x + y
	        if t in rank or len(t) > longest or len(bpe(t, rank)) != 2:
	            continue
	        merges.append((x, y))
	        rank[t] = len(toks)
	        toks.append(t)
	        pool.append(t)
	    with open("v%d.merges" % seed, "w") as f:
	        f.write("#version: 0.2\n" + "".join("%s %s\n" % (x.decode(), y.decode()) for x, y in merges))
	    with open("v%d.tiktoken" % seed, "w") as f:
	        f.write("".join("%s %d\n" % (base64.b64encode(t).decode(), i) for i, t in enumerate(toks)))
	    runs = []
	    for k in range(1200):
	        m = rng.choice((rng.randint(1, 48), rng.randint(1, 400)))
	        runs.append("".join(rng.choice("abcd") for _ in range(m)) + rng.choice((" ", "\n")))
	    open("t%d.txt" % seed, "w").write("".join(runs))
	    open("p%d.txt" % seed, "w").write("".join(rng.choice("abcd") for _ in range(3000)))
	EOF
'

for v in 1 2 3; do
	test_expect_success PYTHON "random vocabulary $v: each merging path gives tiktoken's ids" "
		tiktoken_ids v$v.merges t$v.txt >expect &&
		ids v$v.merges t$v.txt >got && test_cmp expect got &&
		tiktoken_ids v$v.merges p$v.txt >expect &&
		ids v$v.merges p$v.txt --piece >got && test_cmp expect got &&
		bpe-encode --u32 -m v$v.merges t$v.txt | od -An -v -tu4 -w4 | tr -d ' ' >got &&
		tiktoken_ids v$v.merges t$v.txt >expect && test_cmp expect got
	"

	test_expect_success PYTHON "random vocabulary $v as a rank table: tiktoken's ids" "
		tiktoken_ids v$v.merges t$v.txt >expect &&
		ids v$v.tiktoken t$v.txt >got && test_cmp expect got
	"
done

test_done
