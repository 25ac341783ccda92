#!/bin/bash
test_description='bpe-learn: merges split across threads are the merges of one thread'
. ./lib-test.sh

CS=$TEST_DATA/cs336

# -p 1 splits every merge across the threads, however few words it touches
# (some threads then get none); -j 1 never splits.
test_expect_success 'every merge split, 1 to 3 threads: the CS336 reference merges, in order' '
	for j in 1 2 3; do
		test-tool learn-merge -j $j -p 1 -s "<|endoftext|>" -v 500 "$CS/corpus.en" >m$j.bpe &&
		tail -n +2 m$j.bpe >merges$j &&
		test_cmp "$CS/train-bpe-reference-merges.txt" merges$j || return 1
	done
'

test_expect_success 'every merge split: TinyStories, 2000 tokens, as one thread learns them' '
	test-tool learn-merge -j 1 -s "<|endoftext|>" -v 2000 \
		"$TEST_DATA/corpus/tinystories_val_head.txt" >ts1.bpe &&
	test $(wc -l <ts1.bpe) = 1744 &&
	for j in 2 3; do
		test-tool learn-merge -j $j -p 1 -s "<|endoftext|>" -v 2000 \
			"$TEST_DATA/corpus/tinystories_val_head.txt" >ts$j.bpe &&
		test_cmp ts1.bpe ts$j.bpe || return 1
	done
'

# 60000 distinct words " th" + a base-26 number, each 1 to 5 times, among
# real text: the merges that make " th" touch 60000 words each, past the
# tool's own threshold for splitting a merge.
test_expect_success 'bpe-learn -j 1, 2, 3 on a corpus whose merges are split: the same files' '
	awk "BEGIN {
		for (i = 0; i < 60000; i++) {
			w = \" th\"; n = i
			do { w = w sprintf(\"%c\", 97 + n % 26); n = int(n / 26) } while (n > 0)
			for (k = 0; k <= i % 5; k++) printf \"%s\", w
			if (i % 8 == 7) printf \"\\n\"
		}
	}" >words.txt &&
	test $(tr " " "\n" <words.txt | grep -c "^th") -ge 60000 &&
	cat "$TEST_DATA/corpus/tinyshakespeare_head.txt" words.txt \
		"$TEST_DATA/corpus/tinystories_val_head.txt" >big.txt &&
	for j in 1 2 3; do
		bpe-learn -j $j -v 3000 -s "<|endoftext|>" --json b$j.json -o b$j.bpe big.txt || return 1
	done &&
	test $(wc -l <b1.bpe) = 2744 &&
	test_cmp b1.bpe b2.bpe && test_cmp b1.bpe b3.bpe &&
	test_cmp b1.json b2.json && test_cmp b1.json b3.json
'

test_expect_success '--stats: the CPU time of counting and of merging' '
	bpe-learn -j 2 --stats -v 300 "$CS/corpus.en" >s.bpe 2>err &&
	grep -q "^bpe-learn: CPU time: counting [0-9.]* s, merging [0-9.]* s\$" err
'

test_done
