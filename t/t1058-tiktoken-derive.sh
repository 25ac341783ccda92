#!/bin/bash
test_description='a rank table read: its repeated tokens and its merges, at their edges

A rank table lists tokens, not merges. Reading one first looks for a token
listed twice (by the bytes -> id table: of all the repeats, the one first
in the order of the bytes, named beside the lowest rank of those bytes),
then derives the merge that makes each token by BPE on its bytes with the
tokens ranked below it, which must leave exactly two parts. Here: repeats
far apart in rank, over 8 and 16 bytes, several at once; tokens differing
only in their last byte (no false repeat); derived merges that the table
the tokens came from did not list; plain ranks and ranks only strtoul
reads; and random tables, good and bad, against a Python derivation.'
. ./lib-test.sh

TABLE="$LMPIPE_BIN/../../data/gpt2.tiktoken"

# give_bytes OUT R F [R F ...]: GPT-2's table, token R given token F's bytes
give_bytes() {
	out=$1 && shift &&
	awk -v pairs="$*" '
		BEGIN { n = split(pairs, p, " "); for (i = 1; i < n; i += 2) from[p[i] + 1] = p[i + 1] + 1 }
		{ b[NR] = $1 }
		NR in from { $1 = b[from[NR]] }
		{ print }' "$TABLE" >"$out"
}

# fails OUT MESSAGE: test-tool tokranks OUT fails with exactly MESSAGE
fails() {
	test_expect_code 1 test-tool tokranks "$1" >/dev/null 2>err &&
	echo "test-tool tokranks: $2" >expect && test_cmp expect err
}

test_expect_success 'a repeat far apart in rank: the last token of the first merge' '
	give_bytes far.tiktoken 50255 256 &&
	fails far.tiktoken "far.tiktoken: token of rank 50255 repeats rank 256"
'

test_expect_success 'a repeat of a single byte' '
	give_bytes byte.tiktoken 50000 0 &&
	fails byte.tiktoken "byte.tiktoken: token of rank 50000 repeats rank 0"
'

test_expect_success 'a repeat of 17 bytes and one of 24' '
	give_bytes long.tiktoken 50200 15171 &&
	fails long.tiktoken "long.tiktoken: token of rank 50200 repeats rank 15171" &&
	give_bytes long24.tiktoken 49000 22369 &&
	fails long24.tiktoken "long24.tiktoken: token of rank 49000 repeats rank 22369"
'

test_expect_success 'two repeats: the one of the lower bytes, not the lower rank' '
	give_bytes two.tiktoken 1500 1000 45000 300 &&
	fails two.tiktoken "two.tiktoken: token of rank 45000 repeats rank 300"
'

test_expect_success 'three of the same bytes: the second named beside the first' '
	give_bytes three.tiktoken 50255 300 40000 300 &&
	fails three.tiktoken "three.tiktoken: token of rank 40000 repeats rank 300"
'

test_expect_success 'a repeat is found before a lower token that is no merge' '
	awk "NR == 301 { \$1 = \"AQID\" } { print }" "$TABLE" >nomerge.tiktoken &&
	fails nomerge.tiktoken "nomerge.tiktoken:301: token of rank 300 is not a merge of two lower ranks" &&
	give_bytes both.tiktoken 50000 256 &&
	awk "NR == 301 { \$1 = \"AQID\" } { print }" both.tiktoken >both2.tiktoken &&
	fails both2.tiktoken "both2.tiktoken: token of rank 50000 repeats rank 256"
'

# Tokens of 8, 9 and 17 bytes that differ only in their last byte (the
# table compares a word inline, then the bytes after it): none repeats, and
# each reads back as the merge that made it.
test_expect_success 'tokens differing only in their last byte: no repeat, the same merges' '
	cat >last.merges <<-\EOF &&
	#version: 0.2
	a b
	ab ab
	abab abab
	abababab a
	abababab b
	abababab abababab
	abababab ababababa
	abababab ababababb
	a a
	abab ab
	ababab aa
	EOF
	test-tool tokranks --from-merges last.merges >last.tiktoken &&
	test-tool tokranks last.tiktoken >got && test_cmp last.merges got
'

# "b c", "a b", "ab c" as a rank table: BPE of abc with bc (256) and ab
# (257) merges b c first, so abc is a + bc, a pair no line listed; so too
# xyz (x y before y z); abcxyz is abc + xyz as listed.
test_expect_success 'merges the table did not list: BPE decides' '
	cat >unlisted.merges <<-\EOF &&
	#version: 0.2
	b c
	a b
	ab c
	x y
	y z
	x yz
	abc xyz
	EOF
	cat >expect <<-\EOF &&
	#version: 0.2
	b c
	a b
	a bc
	x y
	y z
	xy z
	abc xyz
	EOF
	test-tool tokranks --from-merges unlisted.merges >unlisted.tiktoken &&
	test-tool tokranks unlisted.tiktoken >got && test_cmp expect got
'

test_expect_success 'ranks: plain, past 18 digits, a sign, out of range' '
	printf "#version: 0.2\n" >bytes.merges &&
	test-tool tokranks --from-merges bytes.merges >bytes.tiktoken &&
	sed "s/ \([0-9]*\)$/ 0000000000000000000000\1/" bytes.tiktoken >zeros.tiktoken &&
	test-tool tokranks zeros.tiktoken >got && test_cmp bytes.merges got &&
	sed "3s/ 2$/ +2/" bytes.tiktoken >sign.tiktoken &&
	test-tool tokranks sign.tiktoken >got && test_cmp bytes.merges got &&
	sed "3s/ 2$/ 99999999999999999999/" bytes.tiktoken >big.tiktoken &&
	fails big.tiktoken "big.tiktoken:3: rank 18446744073709551615 out of order (expected 2)" &&
	sed "3s/ 2$/ 2x/" bytes.tiktoken >x.tiktoken &&
	fails x.tiktoken "x.tiktoken:3: not a line of a rank table (BASE64 RANK)"
'

# Random tables over few letters, each token two earlier ones joined (most
# have several splits), some with a token made a repeat or replaced by
# bytes BPE cannot reach: test-tool tokranks against a Python derivation.
test_expect_success PYTHON 'random tables: the merges or the error a Python derivation gives' '
	"$PYTHON" - "$TEST_DIRECTORY" >diffs <<-\EOF &&
	import base64, importlib, random, subprocess, sys
	sys.path.insert(0, sys.argv[1])
	lt = importlib.import_module("lib-tiktoken")
	dec = lt.byte_alphabet()
	enc = {b: c for c, b in dec.items()}
	order = list(dec.values())    # the bytes in GPT-2 order

	def bpe(b, rank, limit):
	    parts = [b[i:i + 1] for i in range(len(b))]
	    while True:
	        r = [rank.get(parts[i] + parts[i + 1], limit) for i in range(len(parts) - 1)]
	        r = [x if x < limit else None for x in r]
	        live = [x for x in r if x is not None]
	        if not live:
	            return parts
	        i = r.index(min(live))
	        parts[i:i + 2] = [parts[i] + parts[i + 1]]

	def derive(path, toks):
	    rank, repeats = {}, []
	    for i, t in enumerate(toks):
	        if t in rank:
	            repeats.append((t, i, rank[t]))
	        else:
	            rank[t] = i
	    if repeats:
	        t, i, j = min(repeats)
	        return 1, "", "%s: token of rank %d repeats rank %d" % (path, i, j)
	    out = ["#version: 0.2"]
	    for i in range(256, len(toks)):
	        parts = bpe(toks[i], rank, i)
	        if len(parts) != 2:
	            return 1, "", "%s:%d: token of rank %d is not a merge of two lower ranks" % (path, i + 1, i)
	        out.append(" ".join("".join(enc[c] for c in p) for p in parts))
	    return 0, "\n".join(out) + "\n", ""

	rng = random.Random(1058)
	for k in range(120):
	    letters = rng.sample(order, rng.choice((2, 3, 4, 6)))
	    toks = [bytes([b]) for b in order]
	    pool = [bytes([b]) for b in letters]
	    longest = rng.choice((6, 12, 24, 60))
	    while len(toks) < 256 + rng.choice((10, 60, 200)):
	        t = rng.choice(pool) + rng.choice(pool)
	        if t not in toks and len(t) <= longest:
	            toks.append(t)
	            pool.append(t)
	    kind = k % 4
	    if kind == 1:      # repeats
	        for _ in range(rng.randint(1, 3)):
	            toks[rng.randrange(256, len(toks))] = toks[rng.randrange(len(toks))]
	    elif kind == 2:    # bytes BPE may not bring to two parts
	        toks[rng.randrange(256, len(toks))] = bytes(rng.choice(letters) for _ in range(rng.randint(2, 9)))
	    path = "r%d.tiktoken" % k
	    with open(path, "w") as f:
	        f.write("".join("%s %d\n" % (base64.b64encode(t).decode(), i) for i, t in enumerate(toks)))
	    p = subprocess.run(["test-tool", "tokranks", path], capture_output=True)
	    want = derive(path, toks)
	    got = (p.returncode, p.stdout.decode(), p.stderr.decode().replace("test-tool tokranks: ", "").rstrip("\n"))
	    if got != want:
	        print(path, got[0], got[2], "| want", want[0], want[2])
	EOF
	test_cmp /dev/null diffs
'

test_done
