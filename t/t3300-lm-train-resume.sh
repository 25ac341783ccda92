#!/bin/bash
test_description='lm-train: exact resume, SIGTERM, NaN stop, kill -9 during checkpoints'
. ./lib-test.sh

MODEL="--model d1 --vocab 64 --ctx 16"
SMALL="$MODEL --batch-tokens 128 -b 4 --eval-every 0"

. "$TEST_DIRECTORY/lib-train.sh"

# wait (up to 60 s) until the log of $1 has a record of step $2
wait_step() {
	for i in $(seq 600); do
		grep -q "\"step\":$2," "$1/log.jsonl" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "no step $2 in $1"; return 1
}

test_expect_success 'set up shards' '
	test-tool train stream 20000 64 | shard -o data --val-tokens 2000
'

test_expect_success 'the uninterrupted run' '
	lm-train data $SMALL --steps 20 --warmup 3 -o full 2>err &&
	losses full/log.jsonl >full.losses &&
	test $(wc -l <full.losses) = 20
'

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
	test_expect_code_() { "$@"; test $? = 2; } &&
	test_expect_code_ lm-train --resume part --layers 3 2>err &&
	test_error_mentions err "model flags"
'

test_expect_success 'resuming a directory without checkpoints is an error' '
	mkdir empty &&
	test_must_fail lm-train --resume empty 2>err &&
	test_error_mentions err "lm-train:" "no checkpoint"
'

test_expect_success 'SIGTERM: finish the step, checkpoint, exit 0; the resume is exact' '
	LM_TRAIN_TEST_STEP_MS=200 lm-train data $SMALL --steps 20 --warmup 3 --ckpt-every 1000 -o sig 2>err &
	pid=$! &&
	wait_step sig 4 &&
	kill -TERM $pid &&
	wait $pid &&
	grep "stopped by a signal after step" err &&
	n=$(sed -n "s/.*after step \([0-9]*\);.*/\1/p" err) &&
	test "$n" -ge 4 && test "$n" -lt 20 &&
	test "$(readlink sig/ckpt.safetensors)" = $(printf "ckpt_%08d.safetensors" $n) &&
	test-tool train state $(printf "sig/ckpt_%08d.state" $n) >state &&
	grep "^step=$n$" state &&
	lm-train --resume sig 2>err &&
	losses sig/log.jsonl >sig.losses &&
	cmp full.losses sig.losses
'

test_expect_success 'a NaN loss stops with exit 1 and the last checkpoint intact' '
	test_expect_code_() { "$@"; test $? = 1; } &&
	LM_TRAIN_TEST_NAN_STEP=5 test_expect_code_ \
		lm-train data $SMALL --steps 10 --ckpt-every 2 -o nan 2>err &&
	test_error_mentions err "loss is nan at step 5" &&
	test "$(readlink nan/ckpt.safetensors)" = ckpt_00000004.safetensors &&
	! test -e nan/ckpt_00000005.safetensors &&
	test-tool config nan/ckpt.safetensors >/dev/null &&
	test-tool train state nan/ckpt_00000004.state | grep "^step=4$"
'

test_expect_success 'an absurd learning rate ends in a non-finite loss or norm, exit 1' '
	test_expect_code_() { "$@"; test $? = 1; } &&
	test_expect_code_ lm-train data $SMALL --steps 50 --lr 1e6 -o lr 2>err &&
	grep -E "(loss|gradient norm) is (nan|inf|-inf) at step" err
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
