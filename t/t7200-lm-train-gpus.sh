#!/bin/bash
test_description='lm-train --gpus: ranks from the environment, the spawner, NCCL on the GPUs'
. ./lib-test.sh

# Without a GPU: the launchers' environment (test-tool dist env), the
# option's errors and the spawner's handling of failing ranks. With one
# GPU: every collective through a one-rank NCCL communicator, and a short
# --gpus 1 run. With two or more GPUs (GPUS2), real or on the CUDA
# emulation (make CUDA=emu: the GPUs of CUDA_VISIBLE_DEVICES, two here,
# NCCL across processes): --gpus 2 against one GPU with twice the
# accumulation, a signal to the spawner, a rank that dies.

# Whoever runs the tests, no launcher started them.
unset LMPIPE_RANK LMPIPE_WORLD_SIZE LMPIPE_LOCAL_RANK LMPIPE_NCCL_ID \
	OMPI_COMM_WORLD_RANK OMPI_COMM_WORLD_SIZE OMPI_COMM_WORLD_LOCAL_RANK \
	PMI_RANK PMI_SIZE MPI_LOCALRANKID PMIX_RANK PMIX_SIZE SLURM_PROCID SLURM_NTASKS SLURM_LOCALID

# NCCL: this build has NCCL (it makes an id without a GPU). GPUS2: two GPUs.
# The emulation has the GPUs CUDA_VISIBLE_DEVICES lists, whatever nvidia-smi sees.
test-tool dist id >/dev/null 2>&1 && test_set_prereq NCCL
GPUS=0
test_have_prereq GPU && GPUS=$(nvidia-smi -L | grep -c '^GPU')
test_have_prereq CUDA_EMU && export CUDA_VISIBLE_DEVICES=0,1 && GPUS=2
[ "$GPUS" -ge 2 ] && test_set_prereq GPUS2

MODEL="--model d1 --vocab 64 --ctx 16"
RUN="$MODEL -b 4 --batch-tokens 256 --eval-every 4 --eval-tokens 512"

# "step kind value" of every loss and val_loss record
values() {
	grep -o '"step":[0-9]*,"tokens":[0-9.e+]*,"\(val_\)*loss":[^,}]*' "$1" |
	awk -F'[:,]' '{print $2, $5, $6}'
}

test_expect_success 'set up shards' '
	test-tool train stream 20000 64 | shard -o data --val-tokens 2000
'

test_expect_success 'each launcher names the rank, the size and the local rank' '
	cat >expect <<-\EOF &&
	none 0 1 0
	gpus 1 2 1
	gpus 1 2 1
	mpi 3 4 1
	slurm 5 8 2
	slurm 5 8 5
	pmi 2 4 0
	pmix 3 8 1
	EOF
	{
		test-tool dist env &&
		LMPIPE_RANK=1 LMPIPE_WORLD_SIZE=2 LMPIPE_LOCAL_RANK=1 test-tool dist env &&
		LMPIPE_RANK=1 LMPIPE_WORLD_SIZE=2 LMPIPE_LOCAL_RANK=1 \
			SLURM_PROCID=0 SLURM_NTASKS=1 SLURM_LOCALID=0 test-tool dist env &&
		OMPI_COMM_WORLD_RANK=3 OMPI_COMM_WORLD_SIZE=4 OMPI_COMM_WORLD_LOCAL_RANK=1 \
			test-tool dist env &&
		SLURM_PROCID=5 SLURM_NTASKS=8 SLURM_LOCALID=2 test-tool dist env &&
		SLURM_PROCID=5 SLURM_NTASKS=8 test-tool dist env &&
		PMI_RANK=2 PMI_SIZE=4 MPI_LOCALRANKID=0 test-tool dist env &&
		PMIX_RANK=3 PMIX_SIZE=8 OMPI_COMM_WORLD_LOCAL_RANK=1 test-tool dist env
	} >actual &&
	test_cmp expect actual
'

test_expect_success 'a launcher environment that makes no sense is an error' '
	test_must_fail env LMPIPE_RANK=x LMPIPE_WORLD_SIZE=2 test-tool dist env 2>err &&
	test_error_mentions err "LMPIPE_RANK" "x" &&
	test_must_fail env LMPIPE_RANK=2 LMPIPE_WORLD_SIZE=2 test-tool dist env 2>err &&
	test_error_mentions err "rank 2 of 2" &&
	test_must_fail env LMPIPE_RANK=1 LMPIPE_WORLD_SIZE=2 LMPIPE_LOCAL_RANK=3 \
		test-tool dist env 2>err &&
	test_error_mentions err "local rank 3"
'

test_expect_success '--gpus 2 with --device cpu is a usage error' '
	test_expect_code 2 lm-train data $RUN --steps 1 --gpus 2 --device cpu -o cpu2
'

test_expect_success '--gpus 0 is a usage error' '
	test_expect_code 2 lm-train data $RUN --steps 1 --gpus 0 -o zero 2>err &&
	test_error_mentions err "--gpus"
'

test_expect_success !NCCL '--gpus 2 in a build without CUDA names the cause' '
	test_must_fail lm-train data $RUN --steps 1 --gpus 2 -o nocuda 2>err &&
	test_error_mentions err "lm-train: --gpus 2:" "without CUDA" &&
	test_must_fail lm-train data $RUN --steps 1 --gpus 1 -o nocuda 2>err &&
	test_error_mentions err "lm-train:" "without CUDA" &&
	test_must_fail test-tool dist nccl 2>err &&
	test_error_mentions err "without CUDA"
'

test_expect_success NCCL,!GPU,!CUDA_EMU '--gpus 2 without a GPU names the cause' '
	test_must_fail lm-train data $RUN --steps 1 --gpus 2 -o nogpu 2>err &&
	test_error_mentions err "lm-train: --gpus 2:" "GPU" &&
	test ! -e nogpu/log.jsonl
'

test_expect_success NCCL,CUDA_RUN 'more ranks than GPUs: the spawner stops at once, saying why' '
	test_must_fail lm-train data $RUN --steps 1 --gpus $((GPUS + 1)) -o many 2>err &&
	test_error_mentions err "lm-train: --gpus $((GPUS + 1)):" "GPU" &&
	test ! -e many/log.jsonl
'

# LM_TRAIN_TEST_GPUS makes the spawner believe in more GPUs than there
# are: it starts every rank, and they fail at their GPU (none here, or two
# ranks on one: NCCL refuses that, the emulation's NCCL too).
test_expect_success NCCL 'a failing rank stops the others; the spawner exits with its status' '
	n=$((GPUS + 1)) && { [ $n -ge 2 ] || n=2; } &&
	{ LM_TRAIN_TEST_GPUS=$n timeout 120 lm-train data $RUN --steps 2 --gpus $n -o fail 2>err
	  rc=$?; } &&
	cat err &&
	test $rc = 1 &&
	test_error_mentions err "failed (status 1): stopping the other ranks" &&
	test $(grep -c "stopping the other ranks" err) = 1
'

test_expect_success NCCL,CUDA_RUN 'one GPU: every collective through a one-rank NCCL communicator' '
	test-tool dist nccl >out 2>&1 &&
	cat out &&
	grep "^NCCL .* over 1 rank; rank 0 on GPU 0" out &&
	test $(grep -c "^ok " out) = 5 &&
	! grep FAIL out
'

test_expect_success NCCL,CUDA_RUN 'lm-train --gpus 1 trains through NCCL' '
	lm-train data $RUN --steps 8 --gpus 1 -o one 2>err &&
	cat err &&
	grep "^ranks: NCCL .* over 1 rank; rank 0 on GPU 0" err &&
	grep "4 accum x 1 ranks" err &&
	grep "| cuda," err &&
	values one/log.jsonl >one.values &&
	test $(grep -c " \"loss\" " one.values) = 8 &&
	test "$(readlink one/ckpt.safetensors)" = ckpt_00000008.safetensors
'

# Two ranks split each step's windows differently from one rank with twice
# the accumulation, so the fp32 gradients are summed in another order; the
# bf16 copies of the weights can then round apart. 2e-3 relative over 8
# steps leaves room for that and none for a wrong data split or a missing
# average (either moves the loss by percents).
test_expect_success NCCL,GPUS2 '--gpus 2 follows one GPU with twice the accumulation' '
	lm-train data $RUN --steps 8 --gpus 2 -o two 2>err &&
	cat err &&
	grep "2 accum x 2 ranks" err &&
	grep "^ranks: NCCL .* over 2 ranks (gpus); rank 0 on GPU 0" err &&
	test $(grep -c "^training" err) = 1 &&
	values two/log.jsonl >two.values &&
	paste one.values two.values >both &&
	cat both &&
	awk "{ d = \$3 - \$6; if (d < 0) d = -d;
	       if (\$1 != \$4 || \$2 != \$5 || d > 2e-3 * \$3) { print \"differ:\", \$0; bad = 1 } }
	     END { exit bad }" both
'

test_expect_success NCCL,GPUS2 'the same two-GPU run again: the same bits' '
	lm-train data $RUN --steps 8 --gpus 2 -o two-again 2>err &&
	values two-again/log.jsonl >again.values &&
	test_cmp two.values again.values
'

test_expect_success NCCL,GPUS2 'SIGTERM to the spawner: the ranks checkpoint as one, exit 0, resume' '
	LM_TRAIN_TEST_STEP_MS=300 lm-train data $RUN --steps 40 --gpus 2 -o sig 2>err &
	pid=$! &&
	for i in $(seq 600); do
		grep -q "\"step\":2," sig/log.jsonl 2>/dev/null && break
		sleep 0.1
	done &&
	kill -TERM $pid &&
	wait $pid &&
	cat err &&
	test $(grep -c "stopped by a signal" err) = 1 &&
	test $(ls sig/ckpt_*.safetensors | wc -l) = 1 &&
	step=$(readlink sig/ckpt.safetensors | sed "s/ckpt_0*\([0-9]*\).safetensors/\1/") &&
	test "$step" -ge 2 && test "$step" -lt 40 &&
	test $(grep -c "\"loss\"" sig/log.jsonl) = $step &&
	lm-train --resume sig --steps $((step + 2)) --gpus 2 2>err &&
	grep "from step $step" err
'

test_expect_success NCCL,GPUS2 'a rank killed mid-run: the spawner stops the other and fails; the last checkpoint resumes' '
	LM_TRAIN_TEST_STEP_MS=300 lm-train data $RUN --steps 40 --ckpt-every 2 --gpus 2 \
		-o killed 2>err &
	pid=$! &&
	for i in $(seq 600); do
		grep -q "\"step\":4," killed/log.jsonl 2>/dev/null && break
		sleep 0.1
	done &&
	kill -KILL $(pgrep -P $pid | tail -1) &&
	{ wait $pid; rc=$?; } &&
	cat err &&
	test $rc = 137 &&
	test_error_mentions err "failed (status 137): stopping the other ranks" &&
	step=$(readlink killed/ckpt.safetensors | sed "s/ckpt_0*\([0-9]*\).safetensors/\1/") &&
	test "$step" -ge 2 && test "$step" -lt 40 &&
	lm-train --resume killed --steps $((step + 1)) --gpus 2 2>err &&
	grep "from step $step" err
'

test_expect_success CUDA_EMU 'the emulated GPUs are those CUDA_VISIBLE_DEVICES lists; another one'"'"'s memory is an error' '
	cat >expect <<-\EOF &&
	1 devices
	3 devices
	EOF
	{
		env -u CUDA_VISIBLE_DEVICES test-tool dist devices &&
		CUDA_VISIBLE_DEVICES=3,5,7 test-tool dist devices
	} >out &&
	grep -v "^another" out >actual &&
	test_cmp expect actual &&
	grep "^another device.s memory: .*cu_float_to_bf16 .*in .* is not this device.s memory" out &&
	test_must_fail env CUDA_VISIBLE_DEVICES= test-tool dist devices 2>err &&
	test_error_mentions err "no CUDA-capable device"
'

# Ranks as the spawner starts them, by hand: the id made by a process that
# then exits is enough for the emulation (NCCL's own needs its maker alive).
test_expect_success CUDA_EMU,GPUS2 'two ranks of the spawner: every collective through NCCL across them' '
	id=$(test-tool dist id) &&
	for r in 0 1; do
		LMPIPE_RANK=$r LMPIPE_WORLD_SIZE=2 LMPIPE_LOCAL_RANK=$r LMPIPE_NCCL_ID=$id \
			test-tool dist nccl >out$r 2>&1 &
	done &&
	wait %1 && wait %2 &&
	cat out0 out1 &&
	grep "^NCCL .* over 2 ranks (gpus); rank 0 on GPU 0 of 2" out0 &&
	grep "^NCCL .* over 2 ranks (gpus); rank 1 on GPU 1 of 2" out1 &&
	test $(cat out0 out1 | grep -c "^ok ") = 10 &&
	! grep FAIL out0 out1
'

test_expect_success CUDA_EMU,GPUS2 'a rank that never arrives: the other fails within the timeout' '
	id=$(test-tool dist id) &&
	test_must_fail env LMPIPE_EMU_NCCL_TIMEOUT=2 LMPIPE_RANK=0 LMPIPE_WORLD_SIZE=2 \
		LMPIPE_LOCAL_RANK=0 LMPIPE_NCCL_ID=$id timeout 60 test-tool dist nccl >out 2>&1 &&
	cat out &&
	grep "rank 1 of 2 never joined within 2 s" out
'

test_expect_success MPI,NCCL,GPUS2 'two ranks under mpirun: the device mean through NCCL across them, the rest through MPI' '
	. "$TEST_DIRECTORY/lib-mpi.sh" &&
	$MPIRUN -x CUDA_VISIBLE_DEVICES test-tool dist nccl >out 2>&1 &&
	cat out &&
	test $(grep -c "^ok " out) = 10 &&
	! grep FAIL out
'

test_done
