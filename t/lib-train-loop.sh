# lib-train-loop.sh — the training loop's tests that must hold on every
# device: t3201 and t3300 run them with --device cpu, t7102 with --device
# cuda (on a GPU, or on the CUDA emulation of t/cuda-emu in CI).
#
#   DEVICE=cuda LOOP_PREREQ=PREREQ,...   before sourcing (cpu, none: the defaults)
#   loop_signal_tests           needs shards in data/ (test-tool train stream):
#                               SIGTERM checkpoints and resumes exactly, a NaN
#                               loss and a diverging run stop with exit 1
#   loop_sample_hellaswag_tests: the periodic sample and
#                               HellaSwag are lm-sample's and lm-eval's, and
#                               leave the training alone

DEVICE=${DEVICE:-cpu}
LOOP_PREREQ=${LOOP_PREREQ:-}
# prerequisites: LOOP_PREREQ and those named, joined with commas
loop_prereq() { echo "$LOOP_PREREQ${LOOP_PREREQ:+${1:+,}}${1:-}"; }

# wait (up to 60 s) until the log of $1 has a record of step $2
wait_step() {
	for i in $(seq 600); do
		grep -q "\"step\":$2," "$1/log.jsonl" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "no step $2 in $1"; return 1
}

# signal_stops_and_resumes SIGNAL DIR OPTION...: a 20-step run into DIR
# (lm-train data OPTION...) gets SIGNAL after its 4th step: it finishes the
# step, checkpoints it (the pointer and the state name it), exits 0, and its
# resume gives the losses of the uninterrupted run (full.losses).
signal_stops_and_resumes() {
	local sig=$1 dir=$2 pid n
	shift 2
	LM_TRAIN_TEST_STEP_MS=200 lm-train data "$@" --steps 20 --warmup 3 --ckpt-every 1000 \
		-o "$dir" 2>err &
	pid=$! &&
	wait_step "$dir" 4 &&
	kill -"$sig" $pid &&
	wait $pid &&
	grep "stopped by a signal after step" err &&
	n=$(sed -n "s/.*after step \([0-9]*\);.*/\1/p" err) &&
	test "$n" -ge 4 && test "$n" -lt 20 &&
	test "$(readlink "$dir/ckpt.safetensors")" = $(printf "ckpt_%08d.safetensors" $n) &&
	test-tool train state $(printf "$dir/ckpt_%08d.state" $n) >state &&
	grep "^step=$n$" state &&
	lm-train --resume "$dir" 2>err &&
	losses "$dir/log.jsonl" >"$dir.losses" &&
	cmp full.losses "$dir.losses"
}

loop_signal_tests() {
	LOOP_SMALL="--model d1 --vocab 64 --ctx 16 --batch-tokens 128 -b 4 --eval-every 0 --device $DEVICE"

	test_expect_success "$(loop_prereq)" 'the uninterrupted run' '
		lm-train data $LOOP_SMALL --steps 20 --warmup 3 -o full 2>err &&
		losses full/log.jsonl >full.losses &&
		test $(wc -l <full.losses) = 20
	'

	test_expect_success "$(loop_prereq)" 'SIGTERM: finish the step, checkpoint, exit 0; the resume is exact' '
		signal_stops_and_resumes TERM sig $LOOP_SMALL
	'

	test_expect_success "$(loop_prereq)" 'a NaN loss stops with exit 1 and the last checkpoint intact' '
		LM_TRAIN_TEST_NAN_STEP=5 test_expect_code 1 \
			lm-train data $LOOP_SMALL --steps 10 --ckpt-every 2 -o nan 2>err &&
		test_error_mentions err "loss is nan at step 5" &&
		test "$(readlink nan/ckpt.safetensors)" = ckpt_00000004.safetensors &&
		! test -e nan/ckpt_00000005.safetensors &&
		test-tool config nan/ckpt.safetensors >/dev/null &&
		test-tool train state nan/ckpt_00000004.state | grep "^step=4$"
	'

	test_expect_success "$(loop_prereq)" 'an absurd learning rate ends in a non-finite loss or norm, exit 1' '
		test_expect_code 1 lm-train data $LOOP_SMALL --steps 50 --lr 1e6 -o lr 2>err &&
		grep -E "(loss|gradient norm) is (nan|inf|-inf) at step" err
	'
}

loop_sample_hellaswag_tests() {
	LOOP_MODEL="--model d1 --vocab 320 --ctx 32 --batch-tokens 256 -b 8 --eval-tokens 512 --seed 7
		--device $DEVICE"

	test_expect_success "$(loop_prereq)" 'set up a tokenizer, shards and five HellaSwag items' '
		head -c 60000 "$TEST_DATA/corpus/tinyshakespeare_head.txt" >text &&
		bpe-learn -v 320 -s "<|endoftext|>" -o merges text &&
		bpe-encode -m merges -s "<|endoftext|>" text | shard -o sdata --val-tokens 2000 &&
		cat >hs.jsonl <<-\EOF
		{"ind": 1, "activity_label": "Act", "ctx_a": "First Citizen: Before we proceed any further,", "ctx_b": "hear", "ctx": "First Citizen: Before we proceed any further, hear", "split": "val", "split_type": "indomain", "label": 0, "endings": ["me speak.", "the king.", "a song of birds.", "nothing at all."], "source_id": "t~1"}
		{"ind": 2, "activity_label": "Act", "ctx_a": "You are all resolved rather to die", "ctx_b": "than", "ctx": "You are all resolved rather to die than", "split": "val", "split_type": "indomain", "label": 1, "endings": ["to live.", "to famish?", "a dog.", "the sea."], "source_id": "t~2"}
		{"ind": 3, "activity_label": "Act", "ctx_a": "We know it,", "ctx_b": "we", "ctx": "We know it, we", "split": "val", "split_type": "indomain", "label": "2", "endings": ["sing.", "go away now.", "know it.", "are kings."], "source_id": "t~3"}
		{"ind": 4, "activity_label": "Act", "ctx_a": "Let us kill him,", "ctx_b": "and", "ctx": "Let us kill him, and", "split": "val", "split_type": "indomain", "label": 3, "endings": ["run.", "sleep.", "sing.", "we will have corn at our own price."], "source_id": "t~4"}
		{"ind": 5, "activity_label": "Act", "ctx_a": "One word,", "ctx_b": "good", "ctx": "One word, good", "split": "val", "split_type": "indomain", "label": 0, "endings": ["citizens.", "grief.", "night.", "bye."], "source_id": "t~5"}
		EOF
	'

	test_expect_success "$(loop_prereq)" 'a run with samples and HellaSwag every 3 steps' '
		lm-train sdata $LOOP_MODEL --merges merges -s "<|endoftext|>" --steps 6 --eval-every 3 \
			--sample-every 3 --sample-prompt "First Citizen:" --hellaswag hs.jsonl \
			--hellaswag-limit 4 --ckpt-every 3 --keep 0 -o run 2>err &&
		cat err &&
		grep -a "^step 3 sample: " err && grep -a "^step 6 sample: " err &&
		grep -aq "hellaswag 0\.[0-9]* acc_norm on 4 items" err &&
		test $(grep -c "\"hellaswag\":[0-9]" run/log.jsonl) = 3 &&
		grep "\"step\":6,.*\"val_loss\":.*\"hellaswag\":" run/log.jsonl
	'

	test_expect_success "$(loop_prereq)" "the sample is lm-sample's on the same checkpoint" '
		# the sample runs from its label to the end (a sample may hold newlines)
		awk "/^step 6 sample: / { on = 1; sub(/^step 6 sample: /, \"\") } on" err >ours &&
		test -s ours &&
		lm-sample run/ckpt_00000006.safetensors -p "First Citizen:" -n 64 -t 1 -k 40 \
			--seed 7 --device $DEVICE >theirs &&
		test_cmp theirs ours
	'

	test_expect_success "$(loop_prereq)" "the HellaSwag figure is lm-eval's on the same checkpoint" '
		lm-eval hellaswag run/ckpt_00000006.safetensors --data hs.jsonl --limit 4 --json \
			--device $DEVICE >eval.json &&
		grep -o "\"acc_norm\": *[0-9.e-]*" eval.json | sed "s/.*: *//" >theirs &&
		grep "\"step\":6,.*\"hellaswag\":" run/log.jsonl |
			sed "s/.*\"hellaswag\":\([0-9.e-]*\).*/\1/" >ours &&
		awk "NR == FNR { a = \$1; next } { exit !(a == \$1 + 0) }" theirs ours
	'

	test_expect_success "$(loop_prereq)" 'samples and HellaSwag leave the training bit for bit alone' '
		lm-train sdata $LOOP_MODEL --merges merges -s "<|endoftext|>" --steps 6 --eval-every 3 \
			--sample-every 0 --ckpt-every 0 -o plain 2>/dev/null &&
		grep -o "\"loss\":[^,]*" run/log.jsonl >a &&
		grep -o "\"loss\":[^,]*" plain/log.jsonl >b &&
		test $(wc -l <a) = 6 && test_cmp a b
	'
}
