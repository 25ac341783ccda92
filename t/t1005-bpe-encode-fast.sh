#!/bin/bash
test_description='bpe-encode: the fast paths equal the general ones

The pre-tokenizer has an inline ASCII fast path; it must split exactly as
the general path does at every offset of mixed text (ASCII, other scripts,
invalid UTF-8, contractions, white-space runs).'
. ./lib-test.sh

test_expect_success 'fast pre-tokenizer path equals the general one' '
	printf "Hello, world! I'"'"'LL don'"'"'t 123 4567  \n\n\t x  caf\303\251 \316\261\316\262 '"'"'s '"'"'re '"'"'ve\377\376 a\200b  \342\200\250 end" >mixed &&
	for i in 1 2 3 4 5 6 7 8; do cat mixed; printf " %d\n" $i; done >in &&
	test-tool pretok-fast <in >actual &&
	echo "fast $(wc -c <in) ok" >expect &&
	test_cmp expect actual
'

test_expect_success 'fast path on real text' '
	head -c 200000 "$TEST_DATA/corpus/tinyshakespeare_head.txt" >text &&
	test-tool pretok-fast <text >actual &&
	echo "fast 200000 ok" >expect &&
	test_cmp expect actual
'

test_done
