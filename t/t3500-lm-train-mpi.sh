#!/bin/bash
test_description='lm-train under mpirun: 2 ranks equal 1 rank with twice the accumulation'
. ./lib-test.sh

. "$TEST_DIRECTORY/lib-mpi.sh"

MODEL="--model d1 --vocab 64 --ctx 16"
SMALL="$MODEL --device cpu -b 4 --steps 8 --eval-every 4 --eval-tokens 512"

. "$TEST_DIRECTORY/lib-train.sh"

test_expect_success MPI 'set up shards' '
	test-tool train stream 20000 64 | shard -o data --val-tokens 2000
'

test_expect_success MPI 'one rank, 4 micro-batches a step' '
	OMP_NUM_THREADS=1 lm-train data $SMALL --batch-tokens 256 -o one 2>err &&
	grep "4 accum x 1 ranks" err &&
	loss_values one/log.jsonl >one.values
'

test_expect_success MPI 'two ranks, 2 micro-batches each: the same losses to fp32 rounding' '
	$MPIRUN lm-train data $SMALL --batch-tokens 256 -o two 2>err &&
	grep "2 accum x 2 ranks" err &&
	test $(grep -c "^training" err) = 1 &&
	loss_values two/log.jsonl >two.values &&
	test $(wc -l <two.values) = $(wc -l <one.values) &&
	paste one.values two.values >both &&
	cat both &&
	awk "{ d = \$3 - \$6; if (d < 0) d = -d;
	       if (\$1 != \$4 || \$2 != \$5 || d > 1e-5 * \$3) { print \"differ:\", \$0; bad = 1 } }
	     END { exit bad }" both
'

test_expect_success MPI 'rank 0 alone writes: one log, one set of checkpoints' '
	test $(grep -c "\"run\"" two/log.jsonl) = 1 &&
	test $(grep -c "\"loss\"" two/log.jsonl) = 8 &&
	test "$(readlink two/ckpt.safetensors)" = ckpt_00000008.safetensors &&
	test-tool train state two/ckpt_00000008.state | grep "^step=8$"
'

test_expect_success MPI 'a resume under mpirun continues the run' '
	$MPIRUN lm-train --resume two --steps 10 2>err &&
	grep "from step 8" err &&
	test "$(readlink two/ckpt.safetensors)" = ckpt_00000010.safetensors
'

test_expect_success MPI 'a batch the ranks cannot split is an error' '
	test_must_fail $MPIRUN lm-train data $SMALL --batch-tokens 64 -o three 2>err &&
	test_error_mentions err "multiple" "x 2 = 128" &&
	test $(grep -c "lm-train:" err) = 1
'

test_done
