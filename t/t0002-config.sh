#!/bin/bash
test_description='share/model/config: presets, JSON configs, validation'
. ./lib-test.sh

field() { sed -n "s/.*\"$1\":\([^,}]*\).*/\1/p"; }

test_expect_success 'gpt2 preset: 12 layers, 768 wide, d_ff 4C, vocab padded to 50304' '
	test-tool config gpt2 >out &&
	grep -q "\"n_layer\":12,\"d_model\":768,\"n_head\":12,\"d_ff\":3072" out &&
	grep -q "padded_vocab=50304" out && grep -q "\"tied_head\":true" out
'

test_expect_success 'dN preset: depth N, width 64N, N heads' '
	test-tool config d20 >out &&
	grep -q "\"n_layer\":20,\"d_model\":1280,\"n_head\":20" out
'

test_expect_success 'cs336-ts preset: llama family, d_ff 1344, context 256' '
	test-tool config cs336-ts >out &&
	grep -q "\"family\":\"llama\"" out && grep -q "\"d_ff\":1344" out &&
	grep -q "\"ctx\":256" out && grep -q "\"positions\":\"rope\"" out &&
	grep -q "\"tied_head\":false" out
'

test_expect_success 'our JSON round-trips through the loader' '
	test-tool config gpt2-medium >out && sed "s/ padded_vocab=.*//" out >cfg.json &&
	test-tool config cfg.json >again && test_cmp out again
'

test_expect_success 'a transformers GPT2 config.json directory loads' '
	mkdir hf &&
	echo "{\"model_type\":\"gpt2\",\"n_layer\":2,\"n_embd\":64,\"n_head\":4,\"n_inner\":null,\"vocab_size\":1000,\"n_positions\":128,\"layer_norm_epsilon\":1e-5}" >hf/config.json &&
	test-tool config hf >out &&
	grep -q "\"n_layer\":2,\"d_model\":64,\"n_head\":4,\"d_ff\":256,\"vocab_size\":1000,\"ctx\":128" out
'

test_expect_success 'a transformers Llama config.json loads, GQA refused' '
	echo "{\"model_type\":\"llama\",\"num_hidden_layers\":2,\"hidden_size\":64,\"num_attention_heads\":4,\"intermediate_size\":176,\"vocab_size\":1000,\"max_position_embeddings\":64,\"rms_norm_eps\":1e-6,\"rope_theta\":500000.0,\"tie_word_embeddings\":false}" >llama.json &&
	test-tool config llama.json >out &&
	grep -q "\"d_ff\":176" out && grep -q "\"rope_theta\":500000" out &&
	sed "s/}\$/,\"num_key_value_heads\":2}/" llama.json >gqa.json &&
	test_must_fail test-tool config gqa.json 2>err && grep -q "grouped-query" err
'

test_expect_success 'the CS336 model_config.json loads with its ablation keys' '
	test-tool config "$TEST_DATA/cs336/ts_tests/model_config.json" >out &&
	grep -q "\"n_layer\":3,\"d_model\":64,\"n_head\":4,\"d_ff\":128,\"vocab_size\":10000,\"ctx\":16" out &&
	sed "s/\"use_post_norm\": false/\"use_post_norm\": true/; s/\"remove_rope\": false/\"remove_rope\": true/" \
		"$TEST_DATA/cs336/ts_tests/model_config.json" >post.json &&
	test-tool config post.json >out &&
	grep -q "\"norm\":\"post\",\"positions\":\"none\"" out
'

test_expect_success 'bad configs: unknown preset, indivisible heads, bad JSON, bad switch' '
	test_must_fail test-tool config gpt3 2>err && grep -q "unknown model .gpt3." err &&
	echo "{\"family\":\"gpt2\",\"n_layer\":2,\"d_model\":100,\"n_head\":3,\"vocab_size\":10,\"ctx\":8}" >odd.json &&
	test_must_fail test-tool config odd.json 2>err && grep -q "not divisible" err &&
	echo "{\"family\":" >broken.json &&
	test_must_fail test-tool config broken.json 2>err && grep -q "invalid JSON" err &&
	echo "{\"family\":\"gpt2\",\"n_layer\":2,\"d_model\":64,\"n_head\":4,\"vocab_size\":10,\"ctx\":8,\"mlp\":\"relu\"}" >sw.json &&
	test_must_fail test-tool config sw.json 2>err && grep -q "unknown mlp .relu." err
'

test_expect_success 'sizes whose products overflow are refused, naming the size' '
	base="\"family\":\"gpt2\",\"n_head\":1,\"vocab_size\":100,\"ctx\":16"
	echo "{$base,\"n_layer\":2,\"d_model\":1073741824}" >wide.json &&
	test_must_fail test-tool config wide.json 2>err &&
	test_error_mentions err "wide.json" "the QKV rows (3 x width) 3221225472 is too large (at most 1073741824)" &&
	echo "{$base,\"n_layer\":2,\"d_model\":300000000}" >ff.json &&
	test_must_fail test-tool config ff.json 2>err &&
	test_error_mentions err "d_ff 1200000000 is too large" &&
	echo "{$base,\"n_layer\":1073741824,\"d_model\":65536}" >deep.json &&
	test_must_fail test-tool config deep.json 2>err &&
	test_error_mentions err "parameters, too many to count exactly" &&
	sed "s/\"ctx\":16/\"ctx\":1073741824/; s/\"vocab_size\":100/\"vocab_size\":1073741824/" wide.json |
		sed "s/1073741824}/64}/" >big-ok.json &&
	test-tool config big-ok.json >out &&
	grep -q "\"vocab_size\":1073741824,\"ctx\":1073741824" out &&
	grep -q "padded_vocab=1073741824" out
'

test_expect_success 'a rope_theta that is not positive is refused' '
	echo "{\"family\":\"llama\",\"n_layer\":1,\"d_model\":8,\"n_head\":2,\"vocab_size\":10,\"ctx\":4,\"rope_theta\":-5}" >theta.json &&
	test_must_fail test-tool config theta.json 2>err &&
	test_error_mentions err "rope_theta must be positive, not -5"
'

test_done
