#!/bin/bash
test_description='lm-train: one run a run directory, SIGHUP, a torn log, a lost or damaged checkpoint'
. ./lib-test.sh

SMALL="--model d1 --vocab 64 --ctx 16 --batch-tokens 128 -b 4 --eval-every 0"

. "$TEST_DIRECTORY/lib-train.sh"
. "$TEST_DIRECTORY/lib-train-loop.sh"   # wait_step, signal_stops_and_resumes

# every line of a log is a whole JSON object (lm-stat reads it without a word)
log_is_whole() {
	lm-stat "$1" >/dev/null 2>stat.err && ! test -s stat.err &&
	test "$(tail -c 1 "$1" | od -An -c | tr -d " ")" = '\n'
}

test_expect_success 'set up shards and the uninterrupted run' '
	test-tool train stream 20000 64 | shard -o data --val-tokens 2000 &&
	lm-train data $SMALL --steps 20 --warmup 3 --ckpt-every 2 --keep 0 -o full 2>err &&
	losses full/log.jsonl >full.losses &&
	test $(wc -l <full.losses) = 20
'

# ---- the lock ------------------------------------------------------------------

test_expect_success 'a second lm-train on a directory in use is refused, naming the holder' '
	LM_TRAIN_TEST_STEP_MS=200 lm-train data $SMALL --steps 100000 --ckpt-every 1 \
		-o busy 2>busy.err &
	pid=$! &&
	wait_step busy 2 &&
	test_expect_code 1 lm-train --resume busy 2>err &&
	test_error_mentions err "lm-train:" "busy" "in use" "pid $pid" &&
	test_expect_code 1 lm-train data $SMALL --steps 2 -f -o busy 2>err &&
	test_error_mentions err "in use" "pid $pid" &&
	kill -TERM $pid && wait $pid &&
	test $(grep -c "\"run\"" busy/log.jsonl) = 1 &&
	log_is_whole busy/log.jsonl
'

test_expect_success 'the lock of a killed run does not block the next' '
	LM_TRAIN_TEST_STEP_MS=200 lm-train data $SMALL --steps 20 --warmup 3 --ckpt-every 1 \
		-o killed 2>err &
	pid=$! &&
	wait_step killed 2 &&
	kill -9 $pid; wait $pid;
	test -e killed/lock &&
	lm-train --resume killed 2>err &&
	grep "from step" err &&
	losses killed/log.jsonl >killed.losses &&
	cmp full.losses killed.losses
'

# ---- SIGHUP ----------------------------------------------------------------------

test_expect_success 'SIGHUP (a closed session) checkpoints and exits 0 as SIGTERM does' '
	signal_stops_and_resumes HUP hup $SMALL
'

# ---- a torn log --------------------------------------------------------------------

test_expect_success 'set up a log whose last line a crash cut short' '
	lm-train data $SMALL --steps 6 --warmup 3 --cosine-steps 20 --ckpt-every 3 -o torn 2>err &&
	printf "{\"step\":7,\"tokens\":896,\"lo" >>torn/log.jsonl &&
	! log_is_whole torn/log.jsonl
'

test_expect_success 'lm-stat reads it: the whole records, and a warning for the torn one' '
	lm-stat torn/log.jsonl >out 2>err &&
	test_error_mentions err "lm-stat:" "torn/log.jsonl" "line 8" "torn" &&
	grep "^torn *6 " out
'

test_expect_success 'a resume cuts the torn line off, saying so, and appends whole lines' '
	lm-train --resume torn --steps 20 2>err &&
	test_error_mentions err "lm-train:" "torn/log.jsonl" "torn" "cut off" &&
	log_is_whole torn/log.jsonl &&
	losses torn/log.jsonl >torn.losses &&
	cmp full.losses torn.losses
'

# ---- a lost or damaged checkpoint -------------------------------------------------

# the first checkpoint lost to a full disk (a file size limit: 64 KiB lets
# no file of the pair through, 400 KiB the weights but not the state)
# lm-train "$@" with files limited to $1 KiB, SIGXFSZ ignored so that a
# write past the limit fails with EFBIG, as on a full disk
lm_train_fsize() { (trap "" XFSZ; ulimit -f "$1"; shift; exec lm-train "$@"); }

for limit in 64 400; do
	test_expect_success "a first checkpoint lost to a full disk ($limit KiB): the error, then what to do" '
		test_expect_code 1 lm_train_fsize '$limit' data $SMALL --steps 2 -o disk'$limit' 2>disk.err &&
		test_error_mentions disk.err "lm-train:" "File too large" &&
		! ls disk'$limit'/ckpt*.state disk'$limit'/ckpt.safetensors 2>/dev/null &&
		test_must_fail lm-train data $SMALL --steps 2 -o disk'$limit' 2>err &&
		test_error_mentions err "disk'$limit'" "no whole checkpoint" "-f" &&
		! grep -e "--resume" err &&
		test_must_fail lm-train --resume disk'$limit' 2>err &&
		test_error_mentions err "disk'$limit'" "no checkpoint" "-f" &&
		lm-train data $SMALL --steps 2 -f -o disk'$limit' 2>err &&
		test "$(readlink disk'$limit'/ckpt.safetensors)" = ckpt_00000002.safetensors
	'
done

test_expect_success 'a missing checkpoint is said to be missing, not an unknown model' '
	test_must_fail lm-train data --model full/ckpt_00000099.safetensors --steps 1 -o m1 2>err &&
	test_error_mentions err "lm-train:" "full/ckpt_00000099.safetensors" "No such file" &&
	! grep "unknown model" err &&
	test_must_fail lm-train data --model nowhere/ --steps 1 -o m2 2>err &&
	test_error_mentions err "nowhere/" "No such file"
'

test_expect_success 'the latest weights missing: --resume takes the previous whole pair, saying so' '
	cp -r full part && rm part/ckpt_00000020.* part/ckpt_00000018.* part/ckpt_00000016.* &&
	rm part/ckpt_00000014.safetensors part/ckpt.safetensors &&
	ln -s ckpt_00000014.safetensors part/ckpt.safetensors &&
	lm-train --resume part --steps 20 2>err &&
	test_error_mentions err "lm-train:" "cannot resume from step 14" \
		"ckpt_00000014.safetensors" "No such file" "resuming from step 12" &&
	grep "from step 12 of" err &&
	losses part/log.jsonl >part.losses &&
	cmp full.losses part.losses
'

test_expect_success 'the latest state torn: the same' '
	cp -r full part2 && rm part2/ckpt_00000020.* part2/ckpt.safetensors &&
	ln -s ckpt_00000018.safetensors part2/ckpt.safetensors &&
	head -c 100 part2/ckpt_00000018.state >cut && mv cut part2/ckpt_00000018.state &&
	lm-train --resume part2 --steps 20 2>err &&
	test_error_mentions err "cannot resume from step 18" "ckpt_00000018.state" \
		"resuming from step 16" &&
	losses part2/log.jsonl >part2.losses &&
	cmp full.losses part2.losses
'

test_expect_success 'no pointer at all: --resume takes the newest whole pair, saying so' '
	cp -r full part3 && rm part3/ckpt.safetensors part3/ckpt_00000020.state &&
	lm-train --resume part3 --steps 20 2>err &&
	test_error_mentions err "lm-train:" "part3" "has no ckpt.safetensors" "resuming from step 18" &&
	losses part3/log.jsonl >part3.losses &&
	cmp full.losses part3.losses
'

test_expect_success 'no whole pair at all: an error naming why the latest failed' '
	mkdir lone && cp full/ckpt_00000020.safetensors lone/ &&
	ln -s ckpt_00000020.safetensors lone/ckpt.safetensors &&
	test_must_fail lm-train --resume lone 2>err &&
	test_error_mentions err "lm-train:" "cannot resume from step 20" "ckpt_00000020.state" \
		"no earlier"
'

# ---- bad data ----------------------------------------------------------------------

test_expect_success 'a token beyond the vocabulary: the error names the shard and the offset' '
	test-tool train stream 3000 64 >ids && printf "\144\000" >>ids &&
	test-tool train stream 3000 64 >>ids &&
	shard -o bad --val-tokens 0 <ids &&
	test_must_fail lm-train bad $SMALL --steps 400 -o badrun 2>err &&
	test_error_mentions err "lm-train:" "bad/" "_train_" "token 100 at offset" "vocabulary (64)" &&
	f=$(ls bad/*_train_*) &&
	off=$(sed -n "s/.*at offset \([0-9]*\).*/\1/p" err) &&
	test "$(od -An -tu2 -j $((1024 + 2 * off)) -N2 "$f" | tr -d " ")" = 100
'

test_done
