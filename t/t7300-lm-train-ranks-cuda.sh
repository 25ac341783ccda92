#!/bin/bash
test_description='many GPUs: --gpus 2 and 4 against one rank, the staged all-reduce against a
whole one, mpirun --device cuda, a resume across rank counts, lm-eval and lm-sample on the device'
. ./lib-test.sh

# On the CUDA emulation (make CUDA=emu) the GPUs are those CUDA_VISIBLE_DEVICES
# lists, so four here; NCCL spans the ranks' processes through shared memory
# and the streams run their work in a shuffled order (LMPIPE_EMU_SEED), so a
# missing wait between the backward and the all-reduce shows as wrong bits.
# On real GPUs the tests that need N ranks run where there are N GPUs.

unset LMPIPE_RANK LMPIPE_WORLD_SIZE LMPIPE_LOCAL_RANK LMPIPE_NCCL_ID \
	OMPI_COMM_WORLD_RANK OMPI_COMM_WORLD_SIZE OMPI_COMM_WORLD_LOCAL_RANK \
	PMI_RANK PMI_SIZE MPI_LOCALRANKID PMIX_RANK PMIX_SIZE SLURM_PROCID SLURM_NTASKS SLURM_LOCALID \
	LM_TRAIN_TEST_WHOLE_ALLREDUCE

. "$TEST_DIRECTORY/lib-mpi.sh"
. "$TEST_DIRECTORY/lib-train.sh"

GPUS=0
test_have_prereq GPU && GPUS=$(nvidia-smi -L | grep -c '^GPU')
test_have_prereq CUDA_EMU && export CUDA_VISIBLE_DEVICES=0,1,2,3 && GPUS=4
[ "$GPUS" -ge 2 ] && test_set_prereq GPUS2
[ "$GPUS" -ge 4 ] && test_set_prereq GPUS4

# The heavy runs on the optimized tools (the kernels are CPU twins here).
REL=$LMPIPE_REL_BIN
# 128 tokens a step: 4 micro-batches on one rank, 2 on two, 1 on four.
GPT2="--model d1 --vocab 64 --ctx 16"
LLAMA="--model d1 --family llama --vocab 64 --ctx 16"
# --cosine-steps 24: the schedule of the 24-step run in its parts too.
RUN="-b 2 --batch-tokens 128 --eval-every 8 --eval-tokens 256 --sample-every 0 --lr 2e-3
	--warmup 2 --cosine-steps 24"

# "step kind value" of every loss, val_loss and grad_norm record, by step
# (a resumed step's records replace the earlier ones). The gradient norm
# shows a wrong average at once (AdamW's update hides a scale).
run_values() {
	grep -o '"step":[0-9]*,"tokens":[0-9.e+]*,"\(val_\)*loss":[^,}]*\(,"lr":[^,}]*,"grad_norm":[^,}]*\)*' "$1" |
	awk -F'[:,]' '{v[$2 " " $5] = $6; if ($10 != "") v[$2 " \"grad_norm\""] = $10}
		END {for (k in v) print k, v[k]}' | sort -k1,1n -k2
}

# Two lists of "step kind value" agree: every record of the first is in
# the second (which may have more: the val loss where a part of a run
# ended), its value within $3 relative. Another summation order of the
# fp32 gradients lets the bf16 copies of the weights round apart: up to
# 3e-4 over 24 steps here. A wrong split of the data, a missing average or
# a stage left out moves the losses by percents.
agree() {
	awk -v tol="$3" "NR == FNR { want[\$1 \" \" \$2] = \$3; next }
		(\$1 \" \" \$2) in want { k = \$1 \" \" \$2; w = want[k]; n++; d = w - \$3; if (d < 0) d = -d;
			if (!(d <= tol * w)) { print \"differ:\", k, w, \$3; bad = 1 } }
		END { if (n != length(want)) { print \"steps missing\"; bad = 1 } exit bad }" "$1" "$2"
}

# What makes the tests below see a missing wait: the emulation runs a
# stream's work when forced, the ready streams in a seeded shuffled order.
test_expect_success CUDA_EMU 'the emulated streams: a kernel that does not wait for a copy on another stream reads stale data under some schedules' '
	for seed in 1 2 3 4 5 6 7 8; do
		LMPIPE_EMU_SEED=$seed test-tool dist streams nowait >>nowait &&
		LMPIPE_EMU_SEED=$seed test-tool dist streams wait >>wait || return 1
	done &&
	sort nowait | uniq -c && sort wait | uniq -c &&
	grep -q stale nowait && grep -q fresh nowait &&
	test $(grep -c fresh wait) = 8
'

test_expect_success CUDA_RUN 'set up shards' '
	test-tool train stream 40000 64 | shard -o data --val-tokens 2000
'

for fam in GPT2 LLAMA; do
	eval "model=\$$fam"

	test_expect_success CUDA_RUN "$fam: one GPU, 4 micro-batches a step, 24 steps" '
		"$REL/lm-train" data $model $RUN --steps 24 --gpus 1 -o $fam-1 2>err &&
		grep "4 accum x 1 ranks" err &&
		run_values $fam-1/log.jsonl >$fam-1.values &&
		test $(grep -c "\"loss\"" $fam-1.values) = 24
	'

	for n in 2 4; do
		test_expect_success CUDA_RUN,GPUS$n "$fam: --gpus $n follows one GPU to the rounding" '
			"$REL/lm-train" data $model $RUN --steps 24 --gpus $n -o $fam-$n 2>err &&
			grep "$((4 / n)) accum x $n ranks" err &&
			grep "^ranks: NCCL .* over $n ranks (gpus); rank 0 on GPU 0 of $GPUS" err &&
			test $(grep -c "^training" err) = 1 &&
			run_values $fam-$n/log.jsonl >$fam-$n.values &&
			agree $fam-1.values $fam-$n.values 2e-3
		'

		test_expect_success CUDA_RUN,GPUS$n "$fam: --gpus $n, the staged all-reduce gives the bits of a whole one" '
			LM_TRAIN_TEST_WHOLE_ALLREDUCE=1 "$REL/lm-train" data $model $RUN --steps 24 \
				--gpus $n -o $fam-$n-whole 2>err &&
			run_values $fam-$n-whole/log.jsonl >$fam-$n-whole.values &&
			test_cmp $fam-$n-whole.values $fam-$n.values
		'
	done
done

test_expect_success CUDA_EMU,GPUS2 'another schedule of the streams: the same bits' '
	LMPIPE_EMU_SEED=7 "$REL/lm-train" data $GPT2 $RUN --steps 24 --gpus 2 -o seed7 2>err &&
	run_values seed7/log.jsonl >seed7.values &&
	test_cmp GPT2-2.values seed7.values
'

test_expect_success MPI,CUDA_RUN,GPUS2 'mpirun -np 2 --device cuda: the id through MPI, the bits of --gpus 2' '
	$MPIRUN -x CUDA_VISIBLE_DEVICES "$REL/lm-train" data $GPT2 $RUN --steps 24 --device cuda \
		-o mpi 2>err &&
	grep "^ranks: NCCL .* and MPI over 2 ranks (mpi); rank 0 on GPU 0" err &&
	grep "2 accum x 2 ranks" err &&
	run_values mpi/log.jsonl >mpi.values &&
	test_cmp GPT2-2.values mpi.values
'

# 2 ranks for 6 steps, then 4, then 1, then 2 again: the checkpoint holds
# nothing per rank, so the run goes on as the uninterrupted one.
test_expect_success CUDA_RUN,GPUS4 'resume 2 -> 4 -> 1 -> 2 ranks: the run continues as if uninterrupted' '
	"$REL/lm-train" data $GPT2 $RUN --steps 6 --gpus 2 -o hop 2>err &&
	"$REL/lm-train" --resume hop --steps 12 --gpus 4 2>err &&
	grep "from step 6" err && grep "1 accum x 4 ranks" err &&
	"$REL/lm-train" --resume hop --steps 18 --gpus 1 2>err &&
	grep "from step 12" err && grep "4 accum x 1 ranks" err &&
	"$REL/lm-train" --resume hop --steps 24 --gpus 2 2>err &&
	grep "from step 18" err && grep "2 accum x 2 ranks" err &&
	run_values hop/log.jsonl >hop.values &&
	agree GPT2-2.values hop.values 2e-3
'

# lm-eval and lm-sample on the (emulated) device against the CPU reference,
# on the checkpoint of the one-GPU run.
test_expect_success CUDA_RUN 'lm-eval loss --device cuda: the CPU loss within bf16 noise' '
	lm-eval loss GPT2-1/ckpt.safetensors --json --device cuda data/*val* >gpu.json &&
	"$REL/lm-eval" loss GPT2-1/ckpt.safetensors --json --device cpu data/*val* >cpu.json &&
	cat gpu.json cpu.json &&
	g=$(sed "s/.*\"loss\": \([^,]*\),.*/\1/" gpu.json) &&
	c=$(sed "s/.*\"loss\": \([^,]*\),.*/\1/" cpu.json) &&
	awk -v g=$g -v c=$c "BEGIN { d = g - c; if (d < 0) d = -d; exit !(g > 0 && d < 0.01 * c) }"
'

# A model with a tokenizer for lm-sample: a BPE of the man pages.
test_expect_success CUDA_RUN 'lm-sample --device cuda: greedy as on the CPU, and the same again' '
	cat "$TOP"/*/*.1 >man.txt &&
	bpe-learn -v 320 -o man.merges man.txt &&
	bpe-encode -m man.merges man.txt | shard -o man --vocab 320 --val-tokens 1000 &&
	"$REL/lm-train" man $LLAMA --vocab 384 --merges man.merges $RUN --steps 8 --device cuda \
		-o sample 2>err &&
	lm-sample sample/ckpt.safetensors -p "the" -n 12 -t 0 --ids --device cuda >gpu.ids &&
	lm-sample sample/ckpt.safetensors -p "the" -n 12 -t 0 --ids --device cuda >gpu2.ids &&
	"$REL/lm-sample" sample/ckpt.safetensors -p "the" -n 12 -t 0 --ids --device cpu >cpu.ids &&
	cat gpu.ids cpu.ids &&
	test_cmp gpu.ids gpu2.ids &&
	test "$(cut -d" " -f1-4 gpu.ids)" = "$(cut -d" " -f1-4 cpu.ids)"
'

test_done
