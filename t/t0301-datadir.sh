#!/bin/bash
test_description='share/util/datadir: one search for installed data, HellaSwag'\''s included

lm-eval hellaswag without --data, and lm-train without --hellaswag, look for
hellaswag_val.jsonl in $LMPIPE_DATA_DIR, then in the build tree beside the
running executable (BIN/../../data), then in the installed data directory.
Each found file here is a damaged one, so the error names the path taken.'
. ./lib-test.sh

HS=hellaswag_val.jsonl

test_expect_success 'set up: lm-eval copied into a build tree of its own, a damaged file' '
	mkdir -p tree/rel/bin env empty &&
	cp "$LMPIPE_BIN/lm-eval" tree/rel/bin/ &&
	echo "{not json" >damaged
'

test_expect_success '$LMPIPE_DATA_DIR first' '
	cp damaged env/$HS && mkdir -p tree/data && cp damaged tree/data/$HS &&
	test_expect_code 1 env LMPIPE_DATA_DIR="$PWD/env" tree/rel/bin/lm-eval hellaswag ckpt 2>err &&
	test_error_mentions err "lm-eval: " "$PWD/env/$HS"
'

test_expect_success 'then the build tree beside the executable' '
	test_expect_code 1 env LMPIPE_DATA_DIR="$PWD/empty" tree/rel/bin/lm-eval hellaswag ckpt 2>err &&
	test_error_mentions err "lm-eval: " "tree/rel/bin/../../data/$HS" &&
	test_expect_code 1 env -u LMPIPE_DATA_DIR tree/rel/bin/lm-eval hellaswag ckpt 2>err &&
	test_error_mentions err "tree/rel/bin/../../data/$HS"
'

test_expect_success 'nowhere: an error naming the places and --data' '
	rm tree/data/$HS &&
	test_expect_code 1 env LMPIPE_DATA_DIR="$PWD/empty" tree/rel/bin/lm-eval hellaswag ckpt \
		>out 2>err &&
	test_cmp /dev/null out &&
	test_error_mentions err "lm-eval: no HellaSwag data" "$HS" "LMPIPE_DATA_DIR" \
		"build tree" "--data"
'

test_expect_success 'both man pages state the same search' '
	for page in "$TOP/lm-eval/lm-eval.1" "$TOP/lm-train/lm-train.1"; do
		grep -q "LMPIPE_DATA_DIR" "$page" && grep -q "build tree" "$page" ||
			{ echo "$page does not state the search"; return 1; }
	done
'

test_done
