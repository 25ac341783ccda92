#!/bin/bash
test_description='lm-train: the periodic sample and HellaSwag run lm-sample'"'"'s and lm-eval'"'"'s code

A tiny model with a bpe-learn tokenizer of 320 tokens (<|endoftext|> the
last) on tinyshakespeare. The sample at step 6 must be the text lm-sample
makes from the step-6 checkpoint with the same prompt, temperature 1, top-k
40 and seed; the HellaSwag acc_norm logged at step 6 must be lm-eval'"'"'s
(llmc style) on the same items and checkpoint; and neither may change the
training: the losses equal those of a run without them, bit for bit.'
. ./lib-test.sh

MODEL="--model d1 --vocab 320 --ctx 32 --batch-tokens 256 -b 8 --eval-tokens 512 --seed 7"

test_expect_success SHARED 'set up a tokenizer, shards and five HellaSwag items' '
	head -c 60000 "$SHARED_DATA/corpus/tinyshakespeare.txt" >text &&
	bpe-learn -v 320 -s "<|endoftext|>" -o merges text &&
	bpe-encode -m merges -s "<|endoftext|>" text | shard -o data --val-tokens 2000 &&
	cat >hs.jsonl <<-\EOF
	{"ind": 1, "activity_label": "Act", "ctx_a": "First Citizen: Before we proceed any further,", "ctx_b": "hear", "ctx": "First Citizen: Before we proceed any further, hear", "split": "val", "split_type": "indomain", "label": 0, "endings": ["me speak.", "the king.", "a song of birds.", "nothing at all."], "source_id": "t~1"}
	{"ind": 2, "activity_label": "Act", "ctx_a": "You are all resolved rather to die", "ctx_b": "than", "ctx": "You are all resolved rather to die than", "split": "val", "split_type": "indomain", "label": 1, "endings": ["to live.", "to famish?", "a dog.", "the sea."], "source_id": "t~2"}
	{"ind": 3, "activity_label": "Act", "ctx_a": "We know it,", "ctx_b": "we", "ctx": "We know it, we", "split": "val", "split_type": "indomain", "label": "2", "endings": ["sing.", "go away now.", "know it.", "are kings."], "source_id": "t~3"}
	{"ind": 4, "activity_label": "Act", "ctx_a": "Let us kill him,", "ctx_b": "and", "ctx": "Let us kill him, and", "split": "val", "split_type": "indomain", "label": 3, "endings": ["run.", "sleep.", "sing.", "we will have corn at our own price."], "source_id": "t~4"}
	{"ind": 5, "activity_label": "Act", "ctx_a": "One word,", "ctx_b": "good", "ctx": "One word, good", "split": "val", "split_type": "indomain", "label": 0, "endings": ["citizens.", "grief.", "night.", "bye."], "source_id": "t~5"}
	EOF
'

test_expect_success SHARED 'a run with samples and HellaSwag every 3 steps' '
	lm-train data $MODEL --merges merges -s "<|endoftext|>" --steps 6 --eval-every 3 \
		--sample-every 3 --sample-prompt "First Citizen:" --hellaswag hs.jsonl \
		--hellaswag-limit 4 --ckpt-every 3 --keep 0 -o run 2>err &&
	cat err &&
	grep -a "^step 3 sample: " err && grep -a "^step 6 sample: " err &&
	grep -aq "hellaswag 0\.[0-9]* acc_norm on 4 items" err &&
	test $(grep -c "\"hellaswag\":[0-9]" run/log.jsonl) = 3 &&
	grep "\"step\":6,.*\"val_loss\":.*\"hellaswag\":" run/log.jsonl
'

test_expect_success SHARED 'the sample is lm-sample'"'"'s on the same checkpoint' '
	# the sample runs from its label to the end (a sample may hold newlines)
	awk "/^step 6 sample: / { on = 1; sub(/^step 6 sample: /, \"\") } on" err >ours &&
	test -s ours &&
	lm-sample run/ckpt_00000006.safetensors -p "First Citizen:" -n 64 -t 1 -k 40 \
		--seed 7 >theirs &&
	test_cmp theirs ours
'

test_expect_success SHARED 'the HellaSwag figure is lm-eval'"'"'s on the same checkpoint' '
	lm-eval hellaswag run/ckpt_00000006.safetensors --data hs.jsonl --limit 4 --json >eval.json &&
	grep -o "\"acc_norm\": *[0-9.e-]*" eval.json | sed "s/.*: *//" >theirs &&
	grep "\"step\":6,.*\"hellaswag\":" run/log.jsonl |
		sed "s/.*\"hellaswag\":\([0-9.e-]*\).*/\1/" >ours &&
	awk "NR == FNR { a = \$1; next } { exit !(a == \$1 + 0) }" theirs ours
'

test_expect_success SHARED 'samples and HellaSwag leave the training bit for bit alone' '
	lm-train data $MODEL --merges merges -s "<|endoftext|>" --steps 6 --eval-every 3 \
		--sample-every 0 --ckpt-every 0 -o plain 2>/dev/null &&
	grep -o "\"loss\":[^,]*" run/log.jsonl >a &&
	grep -o "\"loss\":[^,]*" plain/log.jsonl >b &&
	test $(wc -l <a) = 6 && test_cmp a b
'

test_expect_success SHARED 'an unreadable --hellaswag is an error' '
	test_must_fail lm-train data $MODEL --merges merges --steps 1 --hellaswag no-such.jsonl \
		-o bad 2>err && grep "no-such.jsonl" err
'

test_done
