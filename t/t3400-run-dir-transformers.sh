#!/bin/bash
test_description='a run directory is a transformers model directory as it stands

lm-train writes config.json, the tokenizer (vocab.json, merges.txt,
tokenizer_config.json) and generation_config.json beside its checkpoints,
and model.safetensors -> ckpt.safetensors, the latest. transformers'"'"'
AutoModelForCausalLM, AutoTokenizer and pipeline open the directory with no
step between, for both families: logits within 1e-5 (relative, transformers
in float64; t/py/hf_interop.py), greedy tokens equal to lm-sample -t 0, and
the tokenizer'"'"'s ids equal to bpe-encode -m on the test texts. An ablation
gets no config.json and one line saying why; our tools still read it.'
. ./lib-test.sh

SQ="'"
TRAIN="$LMPIPE_REL_BIN/lm-train"
RUN="--model d1 --vocab 320 --ctx 32 --batch-tokens 256 -b 8 --eval-every 0 --lr 3e-3
	--merges merges -s <|endoftext|> -s <|sep|>"

test_expect_success 'set up a tokenizer, shards and test texts' '
	cat "$TOP/README.md" "$TOP"/*/*.1 >text &&
	printf "%s\n" "naïve café — 東京タワー 123,456.78 it'"'"'s   spaced\ttabs" \
		"<|endoftext|>Ünïcödé ĞğİıŞş ✓ emoji 🚀🚀 end<|endoftext|>" \
		"question<|sep|> answer <|sep|><|endoftext|>" \
		"  leading and trailing  " >unicode.txt &&
	bpe-learn -v 320 -s "<|endoftext|>" -s "<|sep|>" -o merges text &&
	bpe-encode -m merges -s "<|endoftext|>" -s "<|sep|>" text | shard -o sdata --val-tokens 2000
'

test_expect_success 'a gpt2 run directory holds transformers'"'"' files' '
	"$TRAIN" sdata $RUN --steps 40 --ckpt-every 20 -o gpt2 2>err &&
	for f in config.json vocab.json merges.txt tokenizer_config.json \
		special_tokens_map.json generation_config.json; do
		test -s gpt2/$f || { echo "no $f"; exit 1; }
	done &&
	test "$(readlink gpt2/model.safetensors)" = ckpt.safetensors &&
	test "$(readlink gpt2/ckpt.safetensors)" = ckpt_00000040.safetensors &&
	cmp merges gpt2/merges.txt &&
	grep -q "\"eos_token_id\": 318" gpt2/generation_config.json &&
	grep -q "<|sep|>" gpt2/special_tokens_map.json &&
	! grep "config.json" err
'

test_expect_success 'a llama run directory, and a resumed run moves model.safetensors on' '
	"$TRAIN" sdata $RUN --family llama --steps 20 -o llama 2>err &&
	grep -q LlamaForCausalLM llama/config.json &&
	"$TRAIN" --resume llama --steps 30 2>err &&
	test "$(readlink llama/ckpt.safetensors)" = ckpt_00000030.safetensors &&
	test-tool ckpt logits llama 2 8 a.out && test-tool ckpt logits llama/ckpt_00000030.safetensors 2 8 b.out &&
	cmp a.out b.out
'

for fam in gpt2 llama; do
	test_expect_success PYTHON "$fam: AutoModelForCausalLM gives our logits" '
		test-tool ckpt logits $fam 2 16 $fam.out &&
		"$PYTHON" "$TOP/t/py/hf_interop.py" logits $fam $fam.out
	'

	test_expect_success PYTHON "$fam: greedy generation and pipeline equal lm-sample -t 0" '
		for p in "The model" "Train a" "
"; do
			lm-sample $fam -p "$p" -t 0 -n 24 --ids --device cpu >ours &&
			"$PYTHON" "$TOP/t/py/hf_run.py" generate $fam "$p" 24 >theirs &&
			test_cmp ours theirs || exit 1
		done
	'
done

test_expect_success PYTHON 'AutoTokenizer encodes as bpe-encode -m does' '
	for f in text unicode.txt; do
		bpe-encode -m merges -s "<|endoftext|>" -s "<|sep|>" $f | od -An -tu2 -v | tr -s " " "\n" |
			sed "/^\$/d" >ours &&
		"$PYTHON" "$TOP/t/py/hf_run.py" encode gpt2 $f >theirs &&
		test_cmp ours theirs || exit 1
	done
'

test_expect_success 'an ablation: no config.json, one line saying why, our tools still read it' '
	"$TRAIN" sdata $RUN --norm post --steps 4 --ckpt-every 2 -o post 2>err &&
	! test -e post/config.json &&
	test $(grep -c "config.json" err) = 1 &&
	test_error_mentions err "no config.json in ${SQ}post${SQ}" "post/learned/gelu" &&
	test -s post/vocab.json &&
	lm-sample post -p "The" -t 0 -n 4 --ids --device cpu >ids &&
	test $(wc -w <ids) -ge 1 &&
	test-tool config post >cfg && grep -q "\"norm\":\"post\"" cfg
'

test_expect_success PYTHON 'lm-convert: a checkpoint file to a transformers directory, and back' '
	lm-convert gpt2/ckpt.safetensors hf &&
	test -s hf/config.json && test -s hf/vocab.json && ! test -L hf/model.safetensors &&
	test-tool ckpt logits hf 2 8 hf.out &&
	"$PYTHON" "$TOP/t/py/hf_interop.py" logits hf hf.out &&
	lm-convert hf back.safetensors &&
	test-tool ckpt logits back.safetensors 2 8 back.out && cmp hf.out back.out &&
	lm-sample back.safetensors -p "The model" -t 0 -n 8 --ids --device cpu >a &&
	lm-sample hf -p "The model" -t 0 -n 8 --ids --device cpu >b && test_cmp a b
'

test_expect_success 'a transformers directory'"'"'s own tokenizer files are read' '
	mkdir plain && cp hf/config.json hf/vocab.json hf/merges.txt plain/ &&
	test-tool ckpt save plain/config.json 3 plain/model.safetensors &&
	lm-sample plain -p "The model" -t 0 -n 4 --ids --device cpu >a &&
	lm-sample plain --tokenizer merges -p "The model" -t 0 -n 4 --ids --device cpu >b &&
	test_cmp a b
'

test_expect_success 'lm-convert refuses an ablation for transformers and writes nothing' '
	test_must_fail lm-convert post hf-post 2>err &&
	test_error_mentions err "lm-convert:" "transformers" "post" &&
	! test -e hf-post &&
	test_must_fail lm-convert gpt2 hf 2>err &&
	test_error_mentions err "${SQ}hf${SQ} exists"
'

test_expect_success 'lm-convert: --help, and usage errors exit 2' '
	lm-convert --help >out && grep -q "usage: lm-convert" out &&
	test_expect_code 2 lm-convert gpt2 2>err && test_error_mentions err "two operands" &&
	test_expect_code 2 lm-convert -t f8 gpt2 x.gguf 2>err && test_error_mentions err "f8" &&
	! test -e x.gguf
'

test_done
