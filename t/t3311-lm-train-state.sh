#!/bin/bash
test_description='lm-train --resume: a state edited by hand is checked as the command line is'
. ./lib-test.sh

SMALL="--model d1 --vocab 64 --ctx 16 --batch-tokens 128 -b 4 --eval-every 0"

test_expect_success 'set up a run of 4 steps' '
	test-tool train stream 20000 64 | shard -o data --val-tokens 2000 &&
	lm-train data $SMALL --steps 4 -o run 2>err &&
	test-tool train state run/ckpt_00000004.state >state &&
	grep "^options=.*\"micro_batch\":4" state
'

# resume_refused EDIT... MESSAGE-WORD...: a copy of run with its state edited
# (EDITs up to "--"), refused with exit 1 and a message holding every WORD
resume_refused() {
	rm -rf edited && cp -r run edited &&
	edits= && while [ "$1" != -- ]; do edits="$edits $1"; shift; done && shift &&
	test-tool train edit-state edited/ckpt_00000004.state $edits &&
	lm-train --resume edited --steps 6 2>err
	rc=$?
	test $rc = 1 || { echo "exit $rc, not 1"; cat err; return 1; }
	test_error_mentions err "lm-train:" "$@"
}

test_expect_success 'a state edited within bounds resumes' '
	rm -rf same && cp -r run same &&
	test-tool train edit-state same/ckpt_00000004.state steps=6 &&
	lm-train --resume same 2>err &&
	test "$(readlink same/ckpt.safetensors)" = ckpt_00000006.safetensors
'

test_expect_success 'micro_batch 0 (a division by zero)' '
	resume_refused micro_batch=0 -- "ckpt_00000004.state" "\"micro_batch\"" "out of range"
'

test_expect_success 'micro_batch beyond what -b takes, or not whole' '
	resume_refused micro_batch=2000000 -- "\"micro_batch\"" "out of range" &&
	resume_refused micro_batch=2.5 -- "\"micro_batch\"" "integer"
'

test_expect_success 'no data directory (a null pointer)' '
	resume_refused -data -- "ckpt_00000004.state" "\"data\""
'

test_expect_success 'data that is not a string' '
	resume_refused data=7 -- "\"data\"" "not a string"
'

test_expect_success 'a step near 2^63 (the token count overflows)' '
	rm -rf edited && cp -r run edited &&
	s=9223372036854775000 &&
	test-tool train edit-state edited/ckpt_00000004.state step=$s &&
	mv edited/ckpt_00000004.state edited/ckpt_$s.state &&
	mv edited/ckpt_00000004.safetensors edited/ckpt_$s.safetensors &&
	ln -sfn ckpt_$s.safetensors edited/ckpt.safetensors &&
	test_expect_code_() { "$@"; test $? = 1; } &&
	test_expect_code_ lm-train --resume edited 2>err &&
	test_error_mentions err "lm-train:" "step $s" "past any run"
'

test_expect_success 'tokens that are not step x batch' '
	resume_refused tokens=7 -- "7 tokens"
'

test_expect_success 'a negative, missing or mistyped number' '
	resume_refused lr_max=-1 -- "\"lr_max\"" "negative" &&
	resume_refused -beta2 -- "no \"beta2\"" &&
	resume_refused warmup_iters="\"ten\"" -- "\"warmup_iters\"" "not a number" &&
	resume_refused seed=-5 -- "\"seed\"" &&
	resume_refused keep=1.5 -- "\"keep\"" "whole" &&
	resume_refused peak=0 -- "\"peak\"" "positive"
'

test_expect_success 'a device that is not cpu nor cuda' '
	resume_refused "device=\"tpu\"" -- "\"device\"" "tpu"
'

test_expect_success 'specials that are not tokens' '
	resume_refused "specials=[1]" -- "\"specials\"" &&
	resume_refused "specials=\"x\"" -- "\"specials\""
'

test_expect_success 'a context that is not the model'"'"'s' '
	resume_refused ctx=32 -- "context 32" &&
	resume_refused -ctx -- "\"ctx\""
'

test_expect_success 'given on the command line, the state'"'"'s value is still checked' '
	rm -rf edited && cp -r run edited &&
	test-tool train edit-state edited/ckpt_00000004.state micro_batch=0 &&
	test_must_fail lm-train --resume edited -b 4 2>err &&
	test_error_mentions err "\"micro_batch\"" &&
	test_must_fail lm-train --resume run --batch-tokens 256 2>err &&
	test_error_mentions err "--batch-tokens" "128"
'

test_done
