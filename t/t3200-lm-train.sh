#!/bin/bash
test_description='lm-train: the loop, the log, checkpoints, option errors'
. ./lib-test.sh

# A tiny model on a repeating 17-token "sentence": the loss must fall fast.
MODEL="--model d1 --vocab 64 --ctx 16"
SMALL="$MODEL --batch-tokens 128 -b 4 --eval-every 5 --eval-tokens 256"
. "$TEST_DIRECTORY/lib-train.sh"

test_expect_success 'set up shards' '
	test-tool train stream 20000 64 | shard -o data --val-tokens 2000 &&
	ls data/*train* data/*val*
'

test_expect_success 'training runs and the loss falls' '
	lm-train data $SMALL --steps 30 --ckpt-every 10 -o run 2>err &&
	grep "step 30/30" err &&
	losses run/log.jsonl >losses &&
	test $(wc -l <losses) = 30 &&
	first=$(head -1 losses | cut -d" " -f2) &&
	last=$(tail -1 losses | cut -d" " -f2) &&
	echo "first $first last $last" &&
	awk -v a=$first -v b=$last "BEGIN { exit !(b < a - 1.0) }"
'

test_expect_success 'the log has the run line, step records and val records' '
	head -1 run/log.jsonl >runline &&
	grep "\"run\":\"run\"" runline && grep "\"config\"" runline &&
	grep "\"batch_tokens\":128" runline &&
	for f in tokens loss lr grad_norm ms tok_s mfu; do
		grep -q "\"step\":7,.*\"$f\":" run/log.jsonl || { echo "no $f"; return 1; }
	done &&
	grep "\"step\":10,\"tokens\":1280,\"val_loss\":" run/log.jsonl &&
	grep "\"step\":0,\"tokens\":0,\"val_loss\":" run/log.jsonl &&
	test $(grep -c val_loss run/log.jsonl) = 7
'

test_expect_success 'checkpoints: the last 3 pairs kept, the pointer on the latest' '
	test "$(readlink run/ckpt.safetensors)" = ckpt_00000030.safetensors &&
	(cd run && ls ckpt_*) >actual &&
	cat >expect <<-\EOT &&
	ckpt_00000010.safetensors
	ckpt_00000010.state
	ckpt_00000020.safetensors
	ckpt_00000020.state
	ckpt_00000030.safetensors
	ckpt_00000030.state
	EOT
	test_cmp expect actual &&
	test-tool config run/ckpt.safetensors >cfg &&
	grep -i "d1" cfg &&
	test-tool train state run/ckpt_00000030.state >state &&
	grep "^step=30$" state && grep "^tokens=3840$" state &&
	grep "^m_nonzero=1$" state && grep "^v_nonzero=1$" state
'

test_expect_success '--keep 1 keeps one pair' '
	lm-train data $SMALL --steps 4 --ckpt-every 1 --keep 1 -o keep1 2>err &&
	(cd keep1 && ls ckpt_*) >actual &&
	printf "ckpt_00000004.safetensors\nckpt_00000004.state\n" >expect &&
	test_cmp expect actual
'

test_expect_success 'CS336 names for the schedule' '
	lm-train data $SMALL --steps 4 --lr-max 1e-3 --lr-min 1e-4 --warmup-iters 2 \
		--cosine-cycle-iters 4 --eval-every 0 -o cs336 2>err &&
	grep -o "\"lr\":[^,]*" cs336/log.jsonl >actual &&
	printf "\"lr\":0\n\"lr\":0.0005\n\"lr\":0.001\n\"lr\":0.00055\n" >expect &&
	test_cmp expect actual
'

test_expect_success 'a fresh run refuses a directory that holds one' '
	test_must_fail lm-train data $SMALL --steps 2 -o run 2>err &&
	test_error_mentions err "lm-train:" "already holds a run" &&
	lm-train data $SMALL --steps 2 --eval-every 0 -f -o keep1 2>err &&
	test $(grep -c "\"run\"" keep1/log.jsonl) = 1
'

test_expect_success 'a batch that is not a multiple of B x T is a usage error that says why' '
	test_expect_code 2 lm-train data $SMALL --batch-tokens 100 --steps 1 -o bad1 2>err &&
	test_error_mentions err "lm-train:" "--batch-tokens 100" "multiple"
'
test_expect_success 'no DATA_DIR is a usage error' 'test_expect_code 2 lm-train $SMALL'
test_expect_success 'an unknown option is a usage error' 'test_expect_code 2 lm-train data --bogus'
test_expect_success 'a malformed number is a usage error' 'test_expect_code 2 lm-train data --steps ten'

test_expect_success 'a missing data directory is a runtime error naming it' '
	test_expect_code 1 lm-train nodata $SMALL --steps 1 -o bad2 2>err &&
	test_error_mentions err "lm-train:" "nodata"
'

test_expect_success 'a data directory without train shards is an error' '
	mkdir valonly && cp data/*val* valonly/ &&
	test_must_fail lm-train valonly $SMALL --steps 1 -o bad3 2>err &&
	test_error_mentions err "lm-train:" "valonly"
'

test_expect_success 'tokens beyond the vocabulary are an error' '
	test-tool train stream 5000 200 | shard -o wide --val-tokens 500 &&
	test_must_fail lm-train wide $SMALL --steps 1 -o bad4 2>err &&
	test_error_mentions err "lm-train:"
'

test_expect_success '--help prints usage on stdout' '
	lm-train --help >out && grep "usage: lm-train" out && grep -- "--cosine-cycle-iters" out
'

test_done
