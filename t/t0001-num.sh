#!/bin/bash
test_description='share/util/num: numbers as people write and read them'
. ./lib-test.sh

test_expect_success 'counts accept separators, exponents and SI suffixes' '
	test-tool num count 124439808 124_439_808 1,000 1e6 10B 2.5K 400K >actual &&
	printf "%s\n" 124439808 124439808 1000 1000000 10000000000 2500 400000 >expect &&
	test_cmp expect actual
'

test_expect_success 'counts refuse fractions, negatives and junk' '
	test_must_fail test-tool num count 1.5 -3 12abc "" >actual &&
	grep -c "^error:" actual >n && echo 4 >expect && test_cmp expect n
'

test_expect_success 'byte sizes: decimal and binary units' '
	test-tool num bytes 80GB 80GiB 512M 1KiB >actual &&
	printf "%s\n" 80000000000 85899345920 512000000 1024 >expect &&
	test_cmp expect actual
'

test_expect_success 'reals take SI suffixes (FLOP/s)' '
	test-tool num real 19.5T 6e-4 989e12 >actual &&
	printf "%s\n" 19500000000000 0.00059999999999999995 989000000000000 >expect &&
	test_cmp expect actual
'

test_expect_success 'formatting: thousands, SI, bytes, durations' '
	{
		test-tool num commas 2127057600 &&
		test-tool num commas 999 &&
		test-tool num si 4513336524800 FLOP &&
		test-tool num size 34032921600 &&
		test-tool num duration 568823076.9 &&
		test-tool num duration 90
	} >actual &&
	cat >expect <<-\EOT &&
	2,127,057,600
	999
	4.51 TFLOP
	34.03 GB
	18.0 years
	90.0 s
	EOT
	test_cmp expect actual
'

test_expect_success 'counts up to 2^53 are exact; past it they are too large, not fractions' '
	test-tool num count 9007199254740992 9_007_199_254_740_991 9.007199254740992e15 >actual &&
	printf "%s\n" 9007199254740992 9007199254740991 9007199254740992 >expect &&
	test_cmp expect actual &&
	test_must_fail test-tool num count 9007199254740993 18446744073709551616 1e20 20000P >actual &&
	test $(grep -c "^error: .*. is too large (at most 9007199254740992, 2^53)$" actual) = 4 &&
	! grep -q "not a whole non-negative number" actual &&
	{ lm-sample --seed 9007199254740993 x 2>err; test $? = 2; } &&
	grep -q "lm-sample: --seed: .9007199254740993. is too large" err
'

test_expect_success 'an option integer out of range says so (and is not cast first)' '
	for v in 1e30 -1e30 1e300 4294967297 2147483648; do
		lm-stat --flops gpt2 --batch $v 2>err
		test $? = 2 && grep -qF -- "lm-stat: --batch: $v is out of range [1, 1073741824]" err ||
			{ cat err; exit 1; }
	done &&
	{ lm-stat --flops gpt2 --batch 2.5 2>err; test $? = 2; } &&
	grep -q "invalid integer .2\.5." err
'

test_expect_success 'huge numbers print as exponents, not as 40 digits or a zero' '
	{
		test-tool num si 2.83e28 FLOP &&
		test-tool num size 1e39 &&
		test-tool num size 1e21 &&
		test-tool num duration 2.8e16
	} >actual &&
	cat >expect <<-\EOT &&
	2.83e+04 YFLOP
	1e+15 YB
	1.00 ZB
	8.87e+08 years
	EOT
	test_cmp expect actual
'

test_done
