#!/bin/bash
test_description='lm-train: the periodic sample and HellaSwag run lm-sample'"'"'s and lm-eval'"'"'s code

A tiny model with a bpe-learn tokenizer of 320 tokens (<|endoftext|> the
last) on tinyshakespeare. The sample at step 6 must be the text lm-sample
makes from the step-6 checkpoint with the same prompt, temperature 1, top-k
40 and seed; the HellaSwag acc_norm logged at step 6 must be lm-eval'"'"'s
(llmc style) on the same items and checkpoint; and neither may change the
training: the losses equal those of a run without them, bit for bit.'
. ./lib-test.sh
. "$TEST_DIRECTORY/lib-train-loop.sh"

loop_sample_hellaswag_tests

test_expect_success 'an unreadable --hellaswag is an error' '
	test_must_fail lm-train sdata --model d1 --vocab 320 --ctx 32 --merges merges --steps 1 \
		--hellaswag no-such.jsonl -o bad 2>err && grep "no-such.jsonl" err
'

test_done
