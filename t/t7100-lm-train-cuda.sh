#!/bin/bash
test_description='lm-train --device cuda: the whole model against the CPU reference, a 200-step run
against the CPU run, bit-exact determinism and resume, checkpoints crossing between devices'
. ./lib-test.sh

# The model-test configs (t/lib-model-configs.sh), widened so that every
# head is 32 or 64 wide (the CUDA attention kernels head sizes: 32, 64, 128).
. "$TEST_DIRECTORY/lib-model-configs.sh"
model_gpt2='"family":"gpt2","n_layer":2,"d_model":128,"n_head":2,"vocab_size":100,"ctx":64'
model_llama='"family":"llama","n_layer":2,"d_model":128,"n_head":4,"d_ff":192,"vocab_size":100,"ctx":64'

. "$TEST_DIRECTORY/lib-train.sh"

test_expect_success '!GPU,CUDA,!CUDA_EMU' '--device cuda without a GPU is a clear error' '
	test-tool train stream 2000 64 | shard -o tiny --val-tokens 200 &&
	test_must_fail lm-train tiny --model d1 --vocab 64 --ctx 16 -b 2 --batch-tokens 32 \
		--steps 1 --device cuda -o nogpu 2>err &&
	test_error_mentions err "lm-train:" "GPU"
'

test_expect_success '!CUDA' '--device cuda in a build without CUDA names the cause' '
	test-tool train stream 2000 64 | shard -f -o tiny --val-tokens 200 &&
	test_must_fail lm-train tiny --model d1 --vocab 64 --ctx 16 -b 2 --batch-tokens 32 \
		--steps 1 --device cuda -o nocuda 2>err &&
	test_error_mentions err "lm-train:" "without CUDA"
'

test_expect_success CUDA_RUN 'every family and ablation: logits, loss and gradients equal the CPU model' '
	write_model_configs &&
	for c in *.json; do
		echo "# $c" &&
		test-tool cuda-model $c 7 3 61 >out || { cat out; echo "FAILED: $c"; return 1; }
		cat out
	done
'

# Shakespeare in a BPE of 1024 tokens learned from it: real text, and a head
# small enough that the CPU reference runs 200 steps in seconds. Two
# micro-batches a step, so the accumulation is part of every comparison.
test_expect_success CUDA_RUN 'set up Shakespeare shards' '
	bpe-learn -v 1024 -s "<|endoftext|>" -o shakes.merges "$TEST_DATA/corpus/tinyshakespeare_head.txt" &&
	bpe-encode -m shakes.merges -s "<|endoftext|>" <"$TEST_DATA/corpus/tinyshakespeare_head.txt" |
	shard -o shakes --vocab 1024 --val-tokens 16384
'

RUN="--model d2 --vocab 1024 --merges shakes.merges --ctx 128 -b 2 --batch-tokens 512 --lr 1e-3
	--warmup 20 --eval-every 50 --eval-tokens 4096 --sample-every 0"
# The 200-step runs, the 30 steps that repeat them and the CPU's side of
# the comparisons use the optimized tools, the sanitized ones the rest of
# --device cuda: on the CUDA emulation every kernel is its CPU twin, and
# under the sanitizers those runs would take minutes.
REL=$LMPIPE_REL_BIN

test_expect_success CUDA_RUN '200 steps of d2 on Shakespeare: the CUDA loss curve follows the CPU one within bf16 noise' '
	"$REL/lm-train" shakes $RUN --steps 200 --device cpu -o cpu 2>err.cpu &&
	"$REL/lm-train" shakes $RUN --steps 200 --device cuda -o cuda 2>err.cuda &&
	losses cpu/log.jsonl >cpu.losses && losses cuda/log.jsonl >cuda.losses &&
	test $(wc -l <cuda.losses) = 200 &&
	compare_losses cpu.losses cuda.losses >diff &&
	cat diff &&
	head -n 3 cuda.losses && tail -n 3 cuda.losses cpu.losses &&
	awk "{exit !(\$2 == 200 && \$4 < 0.02 && \$8 < 0.05)}" diff
'

test_expect_success CUDA_RUN 'lm-sample --device cuda: greedy starts as on the CPU, and repeats itself' '
	lm-sample cuda/ckpt.safetensors -p "ROMEO:" -n 24 -t 0 --ids --device cuda >gpu.ids &&
	lm-sample cuda/ckpt.safetensors -p "ROMEO:" -n 24 -t 0 --ids --device cpu >cpu.ids &&
	lm-sample cuda/ckpt.safetensors -p "ROMEO:" -n 24 -t 0 --ids --device cuda >gpu2.ids &&
	cat gpu.ids cpu.ids &&
	test_cmp gpu.ids gpu2.ids &&
	test "$(cut -d" " -f1 gpu.ids)" = "$(cut -d" " -f1 cpu.ids)" &&
	lm-sample cuda/ckpt.safetensors -p "ROMEO:" -n 40 --seed 3 --device cuda >text &&
	test -s text
'

test_expect_success CUDA_RUN 'lm-eval --device cuda: the loss and the HellaSwag choices of the CPU' '
	lm-eval loss cuda/ckpt.safetensors --json --device cuda shakes/*val* >gpu.json &&
	"$REL/lm-eval" loss cuda/ckpt.safetensors --json --device cpu shakes/*val* >cpu.json &&
	cat gpu.json cpu.json &&
	g=$(sed "s/.*\"loss\": \([^,]*\),.*/\1/" gpu.json) &&
	c=$(sed "s/.*\"loss\": \([^,]*\),.*/\1/" cpu.json) &&
	awk -v g=$g -v c=$c "BEGIN {d = g - c; if (d < 0) d = -d; exit !(d < 0.02)}" &&
	bzip2 -dc "$TEST_DATA/hellaswag/hellaswag_val_head.txt.bz2" | head -n 600 >hs.txt &&
	lm-eval hellaswag cuda/ckpt.safetensors --data hs.txt -v --device cuda >gpu.hs &&
	"$REL/lm-eval" hellaswag cuda/ckpt.safetensors --data hs.txt -v --device cpu >cpu.hs &&
	tail -n 2 gpu.hs cpu.hs &&
	paste -d" " gpu.hs cpu.hs | awk "/^[0-9]+ label/ {n++; same += \$5 == \$(NF/2 + 5)} END {print same, n; exit !(n == 100 && same >= 95)}"
'

test_expect_success CUDA_RUN 'the same seed gives the same losses bit for bit' '
	"$REL/lm-train" shakes $RUN --steps 30 --cosine-steps 200 --device cuda -o again 2>err &&
	losses again/log.jsonl >again.losses &&
	head -30 cuda.losses >first30 &&
	cmp first30 again.losses
'

test_expect_success CUDA_RUN 'a resume continues bit for bit' '
	lm-train shakes $RUN --steps 20 --device cuda -o full 2>err &&
	lm-train shakes $RUN --steps 10 --cosine-steps 20 --ckpt-every 5 --device cuda -o part 2>err &&
	lm-train --resume part --steps 20 --device cuda 2>err &&
	grep "from step 10" err &&
	losses full/log.jsonl >full.losses && losses part/log.jsonl >part.losses &&
	cmp full.losses part.losses
'

test_expect_success CUDA_RUN 'a CUDA checkpoint resumes on the CPU, and a CPU one on CUDA' '
	cp -r part tocpu && cp -r part tocuda &&
	"$REL/lm-train" --resume tocpu --steps 20 --device cpu 2>err &&
	losses tocpu/log.jsonl >tocpu.losses &&
	compare_losses full.losses tocpu.losses >diff && cat diff &&
	awk "{exit !(\$4 < 0.02)}" diff &&
	"$REL/lm-train" shakes $RUN --steps 10 --cosine-steps 20 --ckpt-every 10 --device cpu -o cpu10 2>err &&
	lm-train --resume cpu10 --steps 20 --device cuda 2>err &&
	losses cpu10/log.jsonl >cpu10.losses &&
	compare_losses full.losses cpu10.losses >diff && cat diff &&
	awk "{exit !(\$4 < 0.02)}" diff
'

test_done
