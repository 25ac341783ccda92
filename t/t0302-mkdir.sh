#!/bin/bash
test_description='share/util/io mkdir_p: the one mkdir -p (shard -o, lm-train -o)

A missing output directory is made with its parents; an existing one is
used as it is; a path naming a file, or under one, is an error naming it.'
. ./lib-test.sh

test_expect_success 'shard -o: the directory and its parents are made' '
	test-tool train stream 3000 64 >ids.u16 &&
	shard -o a/b/c -n 1000 --val-tokens 0 ids.u16 &&
	test -f a/b/c/shard_train_000000.bin &&
	shard -o a/b/c -n 1000 --val-tokens 0 --start-index 10 ids.u16 &&
	test -f a/b/c/shard_train_000010.bin &&
	shard -o a//b/d/ -n 1000 --val-tokens 0 ids.u16 &&
	test -f a/b/d/shard_train_000000.bin
'

test_expect_success 'shard -o: a file in the way is an error naming the path' '
	: >file &&
	test_expect_code 1 shard -o file -n 1000 ids.u16 2>err &&
	test_error_mentions err "shard: " "'\''file'\'' is not a directory" &&
	test_expect_code 1 shard -o file/sub -n 1000 ids.u16 2>err &&
	test_error_mentions err "shard: " "file/sub" "Not a directory"
'

test_expect_success 'lm-train -o: the run directory and its parents are made' '
	shard -o data -n 2000 --val-tokens 1000 ids.u16 &&
	lm-train data --model d1 --vocab 64 --ctx 16 --batch-tokens 64 -b 4 --steps 1 \
		--eval-every 0 -o runs/x/run 2>err &&
	test -f runs/x/run/log.jsonl &&
	test_expect_code 1 lm-train data --model d1 --vocab 64 --ctx 16 --batch-tokens 64 \
		-b 4 --steps 1 --eval-every 0 -o file/run 2>err &&
	test_error_mentions err "lm-train: " "file" "Not a directory"
'

test_done
