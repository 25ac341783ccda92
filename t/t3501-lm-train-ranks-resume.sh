#!/bin/bash
test_description='lm-train --resume on another number of ranks: the run goes on as if uninterrupted'
. ./lib-test.sh

# The checkpoint is rank-independent: the weights, AdamW's moments and the
# loader's global position (the next window of the one global sequence all
# ranks share). A step takes the same windows whatever the rank count; only
# how they are split (micro-batches x ranks) and so the order in which the
# gradients are summed changes. The tolerance, 1e-5 relative, is t3500's:
# that reordering moves fp32 sums by ~1e-7, and 8 AdamW steps keep it two
# orders of magnitude below.

. "$TEST_DIRECTORY/lib-mpi.sh"

MODEL="--model d1 --vocab 64 --ctx 16"
# 8 steps of 16 windows; --cosine-steps 8 keeps the schedule of the 8-step
# run when a part stops at step 4
RUN="$MODEL --device cpu -b 4 --batch-tokens 256 --cosine-steps 8 --warmup 2 --eval-every 4 --eval-tokens 512"

. "$TEST_DIRECTORY/lib-train.sh"

# the values of run $1 equal those of the uninterrupted run within 1e-5
same_as_full() {
	loss_values "$1/log.jsonl" >"$1.values" &&
	test $(wc -l <"$1.values") = $(wc -l <full.values) &&
	paste full.values "$1.values" >"$1.both" &&
	cat "$1.both" &&
	awk "{ d = \$3 - \$6; if (d < 0) d = -d;
	       if (\$1 != \$4 || \$2 != \$5 || d > 1e-5 * \$3) { print \"differ:\", \$0; bad = 1 } }
	     END { exit bad }" "$1.both"
}

test_expect_success MPI 'set up shards' '
	test-tool train stream 20000 64 | shard -o data --val-tokens 2000
'

test_expect_success MPI 'the uninterrupted run, one rank' '
	OMP_NUM_THREADS=1 lm-train data $RUN --steps 8 -o full 2>err &&
	grep "4 accum x 1 ranks" err &&
	loss_values full/log.jsonl >full.values &&
	test $(grep -c "\"loss\"" full.values) = 8
'

test_expect_success MPI 'two ranks to step 4, then one rank to step 8: the same run' '
	$MPIRUN lm-train data $RUN --steps 4 -o two-one 2>err &&
	grep "2 accum x 2 ranks" err &&
	OMP_NUM_THREADS=1 lm-train --resume two-one --steps 8 2>err &&
	grep "from step 4" err &&
	grep "4 accum x 1 ranks" err &&
	same_as_full two-one
'

test_expect_success MPI 'one rank to step 4, then two ranks to step 8: the same run' '
	OMP_NUM_THREADS=1 lm-train data $RUN --steps 4 -o one-two 2>err &&
	$MPIRUN lm-train --resume one-two --steps 8 2>err &&
	grep "from step 4" err &&
	grep "2 accum x 2 ranks" err &&
	same_as_full one-two
'

test_expect_success MPI 'the resumed ranks may take another micro-batch too' '
	OMP_NUM_THREADS=1 lm-train data $RUN --steps 4 -o micro 2>err &&
	$MPIRUN lm-train --resume micro --steps 8 -b 2 2>err &&
	grep "= 2 x 16 x 4 accum x 2 ranks" err &&
	same_as_full micro
'

test_expect_success MPI 'a rank count the batch cannot split is refused; the run stays resumable' '
	OMP_NUM_THREADS=1 lm-train data $RUN --steps 4 -o split 2>err &&
	test_must_fail $MPIRUN lm-train --resume split --steps 8 -b 3 2>err &&
	test_error_mentions err "multiple" "3 x 16 x 2" &&
	test "$(readlink split/ckpt.safetensors)" = ckpt_00000004.safetensors &&
	$MPIRUN lm-train --resume split --steps 8 2>err &&
	same_as_full split
'

test_done
