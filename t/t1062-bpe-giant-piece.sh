#!/bin/bash
test_description='a giant pre-token: little memory, the same ids

A pre-token over 1 MiB (a run of one letter, say) merges in rounds over its
ids alone (4 bytes a byte, and a heap of an eighth of the pairs) rather than
through the heap and linked list (some 20 bytes a byte: 200 MB of one letter
took 4.6 GB). The rounds must give the heap'\''s ids exactly: test-tool bpe
--lean merges every piece so, --heap none, over GPT-2, learned vocabularies
and one built so that a merge makes pairs of lower rank beside it. The
memory test runs the optimized bpe-encode under ulimit -v (ASan reserves
terabytes of address space).'
. ./lib-test.sh

G="$GPT2_DATA"
TABLE="$LMPIPE_BIN/../../data/gpt2.tiktoken"
REL="$LMPIPE_REL_BIN"

# same TABLE FILE [--piece]: the ids of the rounds and of the heap agree.
same() {
	test-tool bpe --heap ${3-} "$1" "$2" >heap.ids &&
	test-tool bpe --lean ${3-} "$1" "$2" >lean.ids &&
	test -s heap.ids && test_cmp heap.ids lean.ids
}

test_expect_success 'set up random texts over small alphabets and vocabularies learned on them' '
	python3 - <<-\EOF &&
	import random
	random.seed(1)
	for name, alpha in (("ab", "ab"), ("abcd", "abcd"), ("dna", "ACGT"), ("letters", "etaoinshrdlu"), ("sp", " a")):
	    open(name + ".txt", "w").write("".join(random.choice(alpha) for _ in range(100000)))
	words = ["".join(random.choice("abc") for _ in range(random.randint(1, 12))) for _ in range(20000)]
	open("words.txt", "w").write(" ".join(words))
	EOF
	bpe-learn -v 600 -o words.merges words.txt &&
	bpe-learn -v 400 -o ab.merges ab.txt &&
	printf "#version: 0.2\nc d\nb c\na bc\nabc d\nd e\nbc de\nb cd\n" >lower.merges &&
	python3 -c "import random; random.seed(2); print(\"\".join(random.choice(\"abcde\") for _ in range(100000)))" >abcde.txt
'

# lower.merges: cd 256, bc 257, abc 258, abcd 259, de 260, bcde 261, bcd 262.
# In "abcde", cd merges first, then b + cd = bcd (262), which leaves two
# pairs of lower rank beside it: a + bcd = abcd (259) and bcd + e = bcde
# (261); the lower goes first: abcd, e (68). Repeated, each rank is the
# most of the pairs, which the rounds merge by sweeping rather than by heap.
test_expect_success 'a merge that makes pairs of lower rank beside it: the lowest goes first' '
	printf abcde >one.txt &&
	test-tool bpe --lean --piece lower.merges one.txt >got &&
	printf "259\n68\n" >expect && test_cmp expect got &&
	test-tool bpe --heap --piece lower.merges one.txt >got && test_cmp expect got &&
	same lower.merges abcde.txt --piece &&
	python3 -c "print(\"abcde\" * 20000, end=\"\")" >rep.txt &&
	same lower.merges rep.txt --piece && sort -u lean.ids >got && test_cmp expect got
'

test_expect_success 'learned vocabularies: rounds and heap agree, texts and whole pieces' '
	for m in words.merges ab.merges; do
		for f in ab abcd words sp; do
			same $m $f.txt && same $m $f.txt --piece || return 1
		done
	done
'

test_expect_success 'GPT-2: rounds and heap agree' '
	for f in ab abcd dna letters sp; do
		same "$G/vocab.bpe" $f.txt && same "$G/vocab.bpe" $f.txt --piece || return 1
	done
'

test_expect_success 'bpe-encode on a 3 MiB run (the rounds) gives the heap'\''s ids, and decodes back' '
	head -c 3145728 /dev/zero | tr "\0" a >run3.txt &&
	"$REL/bpe-encode" --u32 run3.txt | od -An -v -tu4 -w4 | tr -d " " >enc.ids &&
	"$REL/test-tool" bpe --heap "$TABLE" run3.txt >heap.ids &&
	test_cmp heap.ids enc.ids &&
	"$REL/bpe-encode" --u32 run3.txt | "$REL/bpe-encode" -d --u32 | cmp - run3.txt
'

test_expect_success '64 MiB of one letter encodes in 1 GB of address space (it took over 2 GB)' '
	head -c 67108864 /dev/zero | tr "\0" a >run64.txt &&
	(ulimit -v 1000000 && "$REL/bpe-encode" run64.txt >run64.ids) &&
	test $(wc -c <run64.ids) -gt 0 &&
	"$REL/bpe-encode" -d run64.ids | cmp - run64.txt
'

test_done
