#!/bin/bash
test_description='llm.c'"'"'s checkpoint and tokenizer files, both ways

t/py/llmc_ref.py, a numpy reader and writer written from llm.c'"'"'s format
description with its own float64 GPT-2 forward, is the other side: its
files (fp32 and bf16, with and without a padded vocabulary) load here with
its logits, and ours load there with ours (rel <= 1e-5; both sides read the
same stored values, so rel is float32 error, about 1e-7). Our bf16 rounds as
torch does, byte for byte. The tools take a .bin wherever a checkpoint or a
tokenizer goes. Bad files get a clear error and nothing is written.'
. ./lib-test.sh

SQ="'"
REF="$TOP/t/py/llmc_ref.py"
TABLE="$LMPIPE_BIN/../../data/gpt2.tiktoken"
[ -f "$TABLE" ] && test_set_prereq FETCHED

for dt in f32 bf16; do
	for vp in 100 128; do
		test_expect_success PYTHON "theirs to ours: $dt, vocabulary 100 in $vp rows" '
			"$PYTHON" "$REF" write ref-$dt-$vp.bin $dt 100 $vp 3 &&
			test-tool ckpt logits ref-$dt-$vp.bin 2 8 out &&
			"$PYTHON" "$REF" logits ref-$dt-$vp.bin out
		'
	done
done

test_expect_success PYTHON 'ours to theirs: fp32 exact, bf16 rounded as torch rounds' '
	"$PYTHON" "$TOP/t/py/hf_interop.py" make gpt2 hf &&
	test-tool ckpt logits hf 2 8 hf.out &&
	lm-convert hf ours.bin &&
	test-tool ckpt logits ours.bin 2 8 ours.out && cmp hf.out ours.out &&
	"$PYTHON" "$REF" logits ours.bin ours.out &&
	lm-convert -t bf16 hf ours-bf16.bin &&
	test-tool ckpt logits ours-bf16.bin 2 8 bf16.out &&
	"$PYTHON" "$REF" logits ours-bf16.bin bf16.out &&
	"$PYTHON" "$REF" to-bf16 ours.bin torch-bf16.bin &&
	cmp torch-bf16.bin ours-bf16.bin
'

test_expect_success PYTHON 'the header says what llm.c needs: magic, version, sizes, Vp' '
	"$PYTHON" -c "
import numpy as np
h = np.fromfile(\"ours.bin\", dtype=np.int32, count=8).tolist()
assert h == [20240326, 3, 16, 100, 2, 4, 32, 128], h
h = np.fromfile(\"ours-bf16.bin\", dtype=np.int32, count=2).tolist()
assert h == [20240326, 5], h
"
'

test_expect_success FETCHED,PYTHON 'the tokenizer file: theirs reads here, ours reads there' '
	"$PYTHON" "$REF" tokenizer-write theirs_tokenizer.bin "$TABLE" &&
	lm-convert theirs_tokenizer.bin again_tokenizer.bin &&
	cmp theirs_tokenizer.bin again_tokenizer.bin &&
	lm-convert "$TABLE" ours_tokenizer.bin &&
	"$PYTHON" "$REF" tokenizer-check ours_tokenizer.bin "$TABLE"
'

test_expect_success 'a run to llm.c and back: lm-sample, lm-eval and lm-train take the .bin' '
	cat "$TOP/README.md" "$TOP"/*/*.1 >text &&
	bpe-learn -v 320 -s "<|endoftext|>" -o merges text &&
	bpe-encode -m merges -s "<|endoftext|>" text | shard -o sdata --val-tokens 2000 &&
	"$LMPIPE_REL_BIN/lm-train" sdata --model d1 --vocab 320 --ctx 32 --batch-tokens 256 -b 8 \
		--eval-every 0 --steps 10 --lr 3e-3 --merges merges -s "<|endoftext|>" -o run 2>err &&
	lm-convert run run.bin && lm-convert run run_tokenizer.bin &&
	lm-sample run -p "The model" -t 0 -n 12 --ids --device cpu >a &&
	lm-sample run.bin --tokenizer run_tokenizer.bin -p "The model" -t 0 -n 12 --ids \
		--device cpu >b &&
	test_cmp a b &&
	lm-eval loss run --json sdata/*_val_* >a &&
	lm-eval loss run.bin --json sdata/*_val_* >b &&
	test_cmp a b &&
	"$LMPIPE_REL_BIN/lm-train" sdata --model run.bin --batch-tokens 256 -b 8 --eval-every 0 \
		--steps 2 -o from-bin 2>err &&
	test-tool config from-bin >cfg && grep -q "\"n_layer\":1" cfg
'

test_expect_success 'bad files: a clear error, nothing written' '
	head -c 2000 run.bin >short.bin &&
	test_must_fail lm-convert short.bin x.safetensors 2>err &&
	test_error_mentions err "lm-convert:" "${SQ}short.bin${SQ}" "bytes" &&
	printf "\001\002\003\004" | cat - run.bin | head -c $(wc -c <run.bin) >magic.bin &&
	test_must_fail lm-convert magic.bin x.safetensors 2>err &&
	test_error_mentions err "${SQ}magic.bin${SQ}" &&
	cp run.bin layers.bin &&
	printf "\002" | dd of=layers.bin bs=1 seek=16 conv=notrunc 2>/dev/null &&
	test_must_fail lm-sample layers.bin -p x 2>err &&
	test_error_mentions err "lm-sample:" "L=2" "needs" &&
	cp run.bin version.bin &&
	printf "\004" | dd of=version.bin bs=1 seek=4 conv=notrunc 2>/dev/null &&
	test_must_fail lm-eval loss version.bin sdata/*_val_* 2>err &&
	test_error_mentions err "version 4" &&
	head -c 1500 run_tokenizer.bin >short_tokenizer.bin &&
	test_must_fail lm-sample run.bin --tokenizer short_tokenizer.bin -p x 2>err &&
	test_error_mentions err "truncated" &&
	! test -e x.safetensors
'

test_expect_success 'a model llm.c cannot express: an error, nothing written' '
	"$LMPIPE_REL_BIN/lm-train" sdata --model d1 --family llama --vocab 320 --ctx 32 \
		--batch-tokens 256 -b 8 --eval-every 0 --steps 1 -o llama 2>err &&
	test_must_fail lm-convert llama llama.bin 2>err &&
	test_error_mentions err "llm.c" "llama" &&
	! test -e llama.bin &&
	test_must_fail lm-convert -t f16 run f16.bin 2>err &&
	test_error_mentions err "f16" && ! test -e f16.bin
'

test_done
