#!/bin/bash
test_description='share/model: the incremental forward (KV cache) equals the full forward

For tiny configs of both families and every ablation switch (those of
t3000), a cache fed one token a call, and one fed a prefill of 5 then one a
call, gives at every position the logits of gpt_forward over the whole
sequence: rel = max over positions of max_i |inc_i - full_i| / max_i |full_i|
(the V real logits) <= 1e-5, the bound t3000 holds the model to. A prefill
runs the same ops in the same order as the full forward (rel 0); a token a
call uses matrix-vector products that sum in another order (rel ~1e-7).
Then: a full cache refuses a token more, and generate() past the context
follows the window rule of sample/generate.h (replayed with gpt_forward).'
. ./lib-test.sh

. "$TEST_DIRECTORY/lib-model-configs.sh"

test_expect_success 'write the configs' '
	write_model_configs
'

within() {
	awk -v lim="$2" '$1 == "rel" { ok = ($2 + 0 <= lim) } END { exit !ok }' "$1"
}

test_expect_success 'one token a call: every position equals the full forward' '
	for c in *.json; do
		test-tool kv parity $c 7 16 1 >out &&
		within out 1e-5 || { echo "$c: $(cat out)"; exit 1; }
	done
'

test_expect_success 'a prefill of 5, then one a call: every position equals the full forward' '
	for c in *.json; do
		test-tool kv parity $c 7 16 5 >out &&
		within out 1e-5 || { echo "$c: $(cat out)"; exit 1; }
		test-tool kv parity $c 3 11 11 >out &&
		within out 1e-5 || { echo "$c: $(cat out)"; exit 1; }
	done
'

test_expect_success 'the measure can fail' '
	echo "rel 2e-5" >bad && ! within bad 1e-5 && echo "rel 0" >good && within good 1e-5
'

test_expect_success 'a full cache refuses one token more' '
	test-tool kv full gpt2.json 7 >out && grep -q "do not fit the KV cache" out &&
	test-tool kv full llama.json 7 >out && grep -q "do not fit the KV cache" out
'

test_expect_success 'generate past the context follows the window rule' '
	for c in gpt2 gpt2-rope llama llama-learned; do
		test-tool kv window $c.json 5 3 50 >out && grep -q "^ok 50 (4 refills)" out &&
		test-tool kv window $c.json 5 20 10 >out && grep -q "^ok 10 (1 refills)" out ||
		{ echo "$c: $(cat out)"; exit 1; }
	done
'

test_done
