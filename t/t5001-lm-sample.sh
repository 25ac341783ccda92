#!/bin/bash
test_description='lm-sample: greedy equals transformers generate, streaming, seeds'
. ./lib-test.sh

REF="$TOP/t/py/eval_ref.py"
TOK="--tokenizer $GPT2_DATA/vocab.bpe"
# The second prompt and the seed tests run the optimized build (GPT-2's
# 50257-wide head is slow under ASan); the first runs the sanitized one.
REL="$LMPIPE_REL_BIN"

test_expect_success 'utf8 hold-back: an incomplete character waits' '
	for c in "41:1" "41c3:1" "41c3a9:3" "e282:0" "e282ac:3" "f09f98:0" "f09f9880:4" "80:1" "41ff:2"; do
		echo "${c#*:}" >expect && test-tool sample utf8 "${c%:*}" >out &&
		test_cmp expect out || return 1
	done
'

# One Python process makes the model and every reference (each import of
# transformers costs seconds).
test_expect_success PYTHON 'set up a tiny random GPT2LMHeadModel and the references' '
	cat >jobs <<-\EOF &&
	model.out model tiny
	ref1 generate tiny "Once upon a time" 20
	ref2 generate tiny "The meaning of life is" 20
	EOF
	"$PYTHON" "$REF" batch jobs
'

n=0
for prompt in "Once upon a time" "The meaning of life is"; do
	n=$((n + 1))
	bin=lm-sample
	[ "$prompt" = "Once upon a time" ] || bin="$REL/lm-sample"
	test_expect_success PYTHON "greedy: 20 tokens equal generate(do_sample=False) ($prompt)" "
		'$bin' tiny --device cpu -p '$prompt' -n 20 -t 0 --ids $TOK >ours &&
		test_cmp ref$n ours
	"
done

test_expect_success PYTHON 'the streamed text is the decoding of the ids' '
	"$REL/lm-sample" tiny --device cpu -p "Hello" -n 30 -t 1 --seed 3 --ids $TOK >ids &&
	lm-sample tiny --device cpu -p "Hello" -n 10 -t 1 --seed 3 $TOK >text10 &&
	"$REL/lm-sample" tiny --device cpu -p "Hello" -n 30 -t 1 --seed 3 $TOK >text &&
	"$PYTHON" -c "
import importlib.util, sys
s = importlib.util.spec_from_file_location(\"l\", \"$TOP/t/lib-tiktoken.py\"); l = importlib.util.module_from_spec(s); s.loader.exec_module(l)
ids = [int(x) for x in open(\"ids\").read().split()]
sys.stdout.buffer.write(l.gpt2().decode_bytes([i for i in ids if i != 50256]) + b\"\\n\")
" >expect &&
	cmp expect text &&
	"$REL/lm-sample" tiny --device cpu -p "Hello" -n 10 -t 1 --seed 3 $TOK >rel10 && cmp rel10 text10
'

test_expect_success PYTHON 'the KV cache and --no-cache give the same tokens' '
	"$REL/lm-sample" tiny --device cpu -p "Hello there" -n 40 -t 1 -k 40 --seed 5 --num 2 --ids $TOK >cache &&
	"$REL/lm-sample" tiny --device cpu -p "Hello there" -n 40 -t 1 -k 40 --seed 5 --num 2 --ids --no-cache \
		$TOK >nocache &&
	test_cmp nocache cache
'

test_expect_success PYTHON 'the prompt may come from stdin' '
	printf "Once upon a time" | "$REL/lm-sample" tiny --device cpu -n 20 -t 0 --ids $TOK >ours &&
	test_cmp ref1 ours
'

test_expect_success PYTHON 'seeds: same seed same sample, --num gives different ones' '
	"$REL/lm-sample" tiny --device cpu -p "A" -n 15 --seed 9 --ids -k 40 --top-p 0.9 $TOK >a &&
	"$REL/lm-sample" tiny --device cpu -p "A" -n 15 --seed 9 --ids -k 40 --top-p 0.9 $TOK >b && test_cmp a b &&
	"$REL/lm-sample" tiny --device cpu -p "A" -n 15 --seed 9 --num 2 --ids $TOK >two &&
	grep -c "^---\$" two >n && echo 1 >expect && test_cmp expect n &&
	head -n 1 two >s1 && tail -n 1 two >s2 && ! cmp -s s1 s2
'

test_expect_success 'a bad --top-p is a usage error' 'test_expect_code 2 lm-sample x --top-p 1.5'
test_expect_success 'an unknown --device is a usage error' 'test_expect_code 2 lm-sample x --device tpu'
test_expect_success '--no-cache does not go with --device cuda' 'test_expect_code 2 lm-sample x --device cuda --no-cache'

# No GPU in sight (CUDA_VISIBLE_DEVICES empty), so on a GPU and on the
# CUDA emulation too.
test_expect_success PYTHON '--device cuda without a GPU (or CUDA) names the cause' '
	test_must_fail env CUDA_VISIBLE_DEVICES= lm-sample tiny -p "A" -n 2 --device cuda $TOK 2>err &&
	grep -E "lm-sample: --device cuda: (no CUDA GPU found|this build has no CUDA)" err
'
test_expect_success 'no checkpoint is a usage error' 'test_expect_code 2 lm-sample -p hi'
test_expect_success 'a missing checkpoint is an error' 'test_expect_code 1 lm-sample no-such-dir -p hi'

test_done
