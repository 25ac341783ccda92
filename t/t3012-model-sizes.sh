#!/bin/bash
test_description='a model too large to count, or to allocate, says which

A parameter count past 2^64 wrapped around (UBSan in the shapes, ASan in
calloc, or "out of memory for 0 parameters"); now config_finish refuses
sizes whose products do not fit, and a model that fits the counts but not
the memory names its true size.'
. ./lib-test.sh

test_expect_success 'set up a data directory' '
	test-tool shard gen 2000 --vocab 270 | shard -o data --val-tokens 1000 --vocab 270
'

test_expect_success 'a width whose QKV rows overflow an int: an error before any shape is made' '
	echo "{\"family\":\"gpt2\",\"n_layer\":2,\"d_model\":1073741824,\"n_head\":1,\"vocab_size\":270,\"ctx\":16}" >wide.json &&
	test_must_fail lm-train data --model wide.json --steps 1 --device cpu -o run 2>err &&
	test_error_mentions err "lm-train: model " "the QKV rows (3 x width) 3221225472 is too large"
'

test_expect_success 'more parameters than 2^53: an error naming the count' '
	test_must_fail lm-train data --model d2 --layers 1048576 --d-model 1048576 --heads 1024 \
		--vocab 270 --ctx 16 --steps 1 --device cpu -o run 2>err &&
	test_error_mentions err "lm-train: model " "about 1.84e+19 parameters, too many to count exactly"
'

test_expect_success 'a model that cannot be allocated: out of memory for its real count' '
	ASAN_OPTIONS=$ASAN_OPTIONS:allocator_may_return_null=1 \
	test_must_fail lm-train data --model d2 --layers 256 --d-model 1048576 --heads 1024 \
		--vocab 270 --ctx 16 --steps 1 --device cpu -o run 2>err &&
	test_error_mentions err "lm-train: out of memory for 3377703631716352 parameters (12884916808 MiB)"
'

test_done
