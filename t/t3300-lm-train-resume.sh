#!/bin/bash
test_description='lm-train: exact resume, SIGTERM, NaN stop, kill -9 during checkpoints'
. ./lib-test.sh

MODEL="--model d1 --vocab 64 --ctx 16"
SMALL="$MODEL --batch-tokens 128 -b 4 --eval-every 0"

. "$TEST_DIRECTORY/lib-train.sh"
. "$TEST_DIRECTORY/lib-train-loop.sh"

test_expect_success 'set up shards' '
	test-tool train stream 20000 64 | shard -o data --val-tokens 2000
'

loop_signal_tests

test_expect_success 'resume from step 10: every later loss is bit for bit the same' '
	lm-train data $SMALL --steps 10 --warmup 3 --cosine-steps 20 --ckpt-every 5 \
		-o part 2>err &&
	test "$(readlink part/ckpt.safetensors)" = ckpt_00000010.safetensors &&
	lm-train --resume part --steps 20 2>err &&
	grep "from step 10" err &&
	losses part/log.jsonl >part.losses &&
	cmp full.losses part.losses
'

test_expect_success 'a resume with a different batch or seed is refused' '
	test_must_fail lm-train --resume part --batch-tokens 256 2>err &&
	test_error_mentions err "--batch-tokens" &&
	test_must_fail lm-train --resume part --seed 7 2>err &&
	test_error_mentions err "--seed" &&
	test_expect_code 2 lm-train --resume part --layers 3 2>err &&
	test_error_mentions err "model flags"
'

test_expect_success 'resuming a directory without checkpoints is an error' '
	mkdir empty &&
	test_must_fail lm-train --resume empty 2>err &&
	test_error_mentions err "lm-train:" "no checkpoint"
'

test_expect_success 'kill -9 during checkpoints never leaves a torn latest checkpoint' '
	lm-train data $SMALL --steps 1000000 --ckpt-every 1 --keep 2 -o k9 2>err &
	pid=$! && wait_step k9 2 && kill -9 $pid; wait $pid;
	for i in 1 2 3 4 5 6; do
		lm-train --resume k9 2>>err &
		pid=$! &&
		sleep 0.$((RANDOM % 9 + 1)) &&
		kill -9 $pid; wait $pid;
		test-tool config k9/ckpt.safetensors >/dev/null || return 1
		s=$(readlink k9/ckpt.safetensors | sed "s/ckpt_0*\([0-9]*\).*/\1/") &&
		test-tool train state $(printf "k9/ckpt_%08d.state" $s) >state || return 1
		grep "^step=$s$" state || return 1
	done &&
	lm-train --resume k9 --steps $((s + 2)) 2>err &&
	grep "from step $s" err
'

test_done
