#!/bin/bash
test_description='share/model: the CPU model against an independent PyTorch model

Tiny configs of both families and every ablation switch (norm pre|post|none,
positions learned|rope|none, mlp gelu|swiglu|silu, bias, tied head), a
vocabulary of 100 padded to 128: the logits, the loss, the gradient of every
parameter, and every parameter after 3 training steps (clip 1.0, AdamW) must
match t/py/model_ref.py, run in float64, within rel = max|ours - ref| /
max|ref| <= 1e-5 per tensor; the padded rows of the embedding and head must
keep exactly zero gradient and weight. model_ref.py says why 1e-5, and why
the training steps use AdamW eps 1e-2 (t3001 checks AdamW at eps 1e-8).'
. ./lib-test.sh

. "$TEST_DIRECTORY/lib-model-configs.sh"

test_expect_success 'the model runs every config and dumps its tensors' '
	write_model_configs &&
	for c in *.json; do
		name=${c%.json} &&
		mkdir $name &&
		test-tool model $c 7 2 8 3 1e-3 1e-2 $name || exit 1
	done &&
	ls -d gpt2* llama* | grep -v json >dirs && test $(wc -l <dirs) = $model_config_count
'

test_expect_success 'grad stages (when the backward finishes each gradient): head, layers top-down, embeddings, every parameter once' '
	for c in *.json; do
		test-tool model stages $c >stages-${c%.json} || { cat stages-${c%.json}; exit 1; }
	done &&
	h="ln1w ln1b qkvw qkvb attprojw attprojb ln2w ln2b fcw fcb fcprojw fcprojb" &&
	{
		echo "stage 0: lnfw lnfb (1 spans)" &&
		echo "stage 1:$(for t in $h; do printf " h.1.%s" $t; done) (12 spans)" &&
		echo "stage 2:$(for t in $h; do printf " h.0.%s" $t; done) (12 spans)" &&
		echo "stage 3: wte wpe (1 spans)"
	} >expect &&
	test_cmp expect stages-gpt2 &&
	head -1 stages-gpt2-untied-nobias >actual &&
	echo "stage 0: lnfw lm_head (1 spans)" >expect &&
	test_cmp expect actual &&
	tail -1 stages-llama >actual &&
	echo "stage 3: wte (1 spans)" >expect &&
	test_cmp expect actual
'

test_expect_success PYTHON 'logits, loss, every gradient, 3 AdamW steps match PyTorch' '
	if ! "$PYTHON" "$TOP/t/py/model_ref.py" --eps 1e-2 $(cat dirs) >out 2>&1; then
		cat out && false
	fi &&
	cat out && test $(grep -c " passed: " out) = 16
'

test_expect_success PYTHON 'the parity check can fail: a perturbed gradient is caught' '
	cp -r gpt2 broken &&
	"$PYTHON" -c "
from safetensors.torch import load_file, save_file
from safetensors import safe_open
p = \"broken/grads.safetensors\"
meta = safe_open(p, framework=\"pt\").metadata()
t = load_file(p); t[\"h.1.fcw\"][3, 5] += 1e-4
save_file(t, p, metadata=meta)" &&
	test_must_fail "$PYTHON" "$TOP/t/py/model_ref.py" --eps 1e-2 broken >out &&
	grep "FAIL grad h.1.fcw" out
'

test_expect_success 'same seed, same weights and loss; another seed differs' '
	test-tool model gpt2.json 7 2 8 1 1e-3 1e-2 gpt2 &&
	mkdir again other &&
	test-tool model gpt2.json 7 2 8 1 1e-3 1e-2 again &&
	test-tool model gpt2.json 8 2 8 1 1e-3 1e-2 other &&
	cmp gpt2/init.safetensors again/init.safetensors &&
	cmp gpt2/after.safetensors again/after.safetensors &&
	! cmp -s gpt2/init.safetensors other/init.safetensors
'

test_expect_success 'gradients accumulate: B rows one by one (dloss 1/B) = the batch' '
	# float32 sums in another order: 1e-6 of the largest gradient
	for c in gpt2 llama-post gpt2-untied-nobias; do
		test-tool model accum $c.json 3 4 8 >out &&
		rel=$(sed -n "s/.*rel //p" out) &&
		awk -v r="$rel" "BEGIN { exit !(r <= 1e-6) }" || { cat out; exit 1; }
	done
'

test_expect_success 'results do not depend on the thread count' '
	# big enough that every op goes parallel (model/par.h)
	echo "{\"family\":\"llama\",\"n_layer\":1,\"d_model\":128,\"n_head\":4,\"vocab_size\":500,\"ctx\":64}" >wide.json &&
	mkdir one two &&
	OMP_NUM_THREADS=1 test-tool model wide.json 7 2 64 2 1e-3 1e-2 one &&
	OMP_NUM_THREADS=2 test-tool model wide.json 7 2 64 2 1e-3 1e-2 two &&
	cmp one/after.safetensors two/after.safetensors &&
	cmp one/forward.safetensors two/forward.safetensors
'

test_done
