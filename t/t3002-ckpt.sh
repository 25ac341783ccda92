#!/bin/bash
test_description='share/ckpt: safetensors checkpoints under HF names, interchange with transformers

Our checkpoints load back bit for bit (every family and ablation), load into
transformers GPT2LMHeadModel / LlamaForCausalLM with the same logits, and a
transformers save_pretrained directory loads here with the same logits
(t/py/hf_interop.py: rel = max|ours - hf| / max|hf| <= 1e-5, transformers in
float64). Broken files get errors that name the file and the tensor.'
. ./lib-test.sh

. "$TEST_DIRECTORY/lib-model-configs.sh"
gpt2=$model_gpt2
llama=$model_llama

test_expect_success 'save then load gives the same weights and config, every variant' '
	for sw in "" ",\"norm\":\"post\"" ",\"norm\":\"none\"" ",\"positions\":\"rope\"" \
		",\"positions\":\"none\"" ",\"mlp\":\"swiglu\"" ",\"mlp\":\"silu\"" \
		",\"tied_head\":false,\"bias\":false"; do
		for fam in "$gpt2" "$llama"; do
			echo "{$fam$sw}" >cfg.json &&
			test-tool ckpt roundtrip cfg.json 5 rt.safetensors >out &&
			echo identical >expect && test_cmp expect out || exit 1
		done
	done
'

test_expect_success 'a checkpoint carries HF names, the config and the metadata' '
	echo "{$gpt2}" >gpt2.json && echo "{$llama}" >llama.json &&
	test-tool ckpt save gpt2.json 5 gpt2.safetensors &&
	test-tool config gpt2.safetensors >cfg &&
	grep -q "\"n_layer\":2,\"d_model\":32" cfg &&
	grep -a -q "transformer.h.1.attn.c_attn.weight" gpt2.safetensors &&
	grep -a -q "\"format\":\"pt\"" gpt2.safetensors &&
	grep -a -q "\"step\":\"0\"" gpt2.safetensors &&
	! grep -a -q "lm_head" gpt2.safetensors &&
	test-tool ckpt save llama.json 5 llama.safetensors &&
	grep -a -q "model.layers.1.self_attn.k_proj.weight" llama.safetensors &&
	grep -a -q "model.layers.0.mlp.gate_proj.weight" llama.safetensors
'

test_expect_success PYTHON 'transformers save_pretrained models load here with the same logits' '
	"$PYTHON" "$TOP/t/py/hf_interop.py" make gpt2 hf-gpt2 &&
	"$PYTHON" "$TOP/t/py/hf_interop.py" make llama hf-llama &&
	test-tool ckpt logits hf-gpt2 2 8 hf-gpt2.out &&
	test-tool ckpt logits hf-llama 2 8 hf-llama.out &&
	"$PYTHON" "$TOP/t/py/hf_interop.py" logits hf-gpt2 hf-gpt2.out &&
	"$PYTHON" "$TOP/t/py/hf_interop.py" logits hf-llama hf-llama.out
'

test_expect_success PYTHON 'our checkpoints load into transformers with the same logits' '
	# the random transformers models, through our loader and writer again,
	# so that every bias and norm gain is non-trivial
	test-tool ckpt convert hf-gpt2 ours-gpt2 &&
	test-tool ckpt convert hf-llama ours-llama &&
	test-tool ckpt logits ours-gpt2 2 8 ours-gpt2.out &&
	test-tool ckpt logits ours-llama 2 8 ours-llama.out &&
	"$PYTHON" "$TOP/t/py/hf_interop.py" logits ours-gpt2 ours-gpt2.out &&
	"$PYTHON" "$TOP/t/py/hf_interop.py" logits ours-llama ours-llama.out &&
	test-tool ckpt export gpt2.json 5 init-gpt2 &&
	test-tool ckpt logits init-gpt2 2 8 init-gpt2.out &&
	"$PYTHON" "$TOP/t/py/hf_interop.py" logits init-gpt2 init-gpt2.out
'

test_expect_success PYTHON 'a biased Llama and hub-style names without the base prefix' '
	echo "{$llama,\"bias\":true}" >llama-bias.json &&
	test-tool ckpt export llama-bias.json 5 init-llama-bias &&
	grep -q "\"attention_bias\": true" init-llama-bias/config.json &&
	test-tool ckpt convert init-llama-bias llama-bias-again &&
	grep -a -q "self_attn.q_proj.bias" llama-bias-again/model.safetensors &&
	test-tool ckpt logits init-llama-bias 2 8 llama-bias.out &&
	"$PYTHON" "$TOP/t/py/hf_interop.py" logits init-llama-bias llama-bias.out &&
	mkdir hub && cp hf-gpt2/config.json hub/ &&
	"$PYTHON" - <<-\EOF &&
	from safetensors.torch import load_file, save_file
	t = load_file("hf-gpt2/model.safetensors")
	save_file({k.replace("transformer.", "", 1): v for k, v in t.items()}, "hub/model.safetensors",
	          metadata={"format": "pt"})
	EOF
	test-tool ckpt logits hub 2 8 hub.out &&
	"$PYTHON" "$TOP/t/py/hf_interop.py" logits hf-gpt2 hub.out
'

test_expect_success 'a smaller batch after a larger one reuses the activations, same logits' '
	test-tool ckpt logits gpt2.safetensors 2 8 fresh.out &&
	test-tool ckpt logits gpt2.safetensors 2 8 warm.out warm &&
	cmp fresh.out warm.out &&
	test-tool ckpt logits llama.safetensors 1 16 fresh.out &&
	test-tool ckpt logits llama.safetensors 1 16 warm.out warm &&
	cmp fresh.out warm.out
'

test_expect_success 'ablations have no transformers config' '
	echo "{$llama,\"norm\":\"post\"}" >post.json &&
	test_must_fail test-tool ckpt export post.json 5 nope 2>err &&
	grep -q "transformers. Llama has no post/rope/swiglu variant" err
'

test_expect_success 'broken files: truncated, bad header length, not safetensors' '
	size=$(wc -c <gpt2.safetensors) &&
	head -c $((size - 100)) gpt2.safetensors >trunc.safetensors &&
	test_must_fail test-tool ckpt logits trunc.safetensors 1 4 x 2>err &&
	grep -q "trunc.safetensors.: tensor .transformer.*beyond the end of the file (truncated?)" err &&
	head -c 4 gpt2.safetensors >tiny.safetensors &&
	test_must_fail test-tool ckpt logits tiny.safetensors 1 4 x 2>err &&
	grep -q "tiny.safetensors" err &&
	printf "\377\377\377\377\000\000\000\000{}" >huge.safetensors &&
	test_must_fail test-tool ckpt logits huge.safetensors 1 4 x 2>err &&
	grep -q "huge.safetensors" err &&
	printf "\020\000\000\000\000\000\000\000{\"a\":1}         " >bad.safetensors &&
	test_must_fail test-tool ckpt logits bad.safetensors 1 4 x 2>err &&
	grep -q "bad.safetensors" err
'

test_expect_success PYTHON 'broken files: a missing tensor, a wrong shape' '
	"$PYTHON" - <<-\EOF &&
	from safetensors.torch import load_file, save_file
	from safetensors import safe_open
	meta = safe_open("gpt2.safetensors", framework="pt").metadata()
	t = load_file("gpt2.safetensors")
	del t["transformer.h.1.ln_2.bias"]
	save_file(t, "missing.safetensors", metadata=meta)
	t = load_file("gpt2.safetensors")
	t["transformer.h.0.mlp.c_fc.weight"] = t["transformer.h.0.mlp.c_fc.weight"].t().contiguous()
	save_file(t, "shape.safetensors", metadata=meta)
	EOF
	test_must_fail test-tool ckpt logits missing.safetensors 1 4 x 2>err &&
	grep -q "missing.safetensors.: no tensor .transformer.h.1.ln_2.bias." err &&
	test_must_fail test-tool ckpt logits shape.safetensors 1 4 x 2>err &&
	grep -q "shape.safetensors.: tensor .transformer.h.0.mlp.c_fc.weight. has shape (128, 32), expected (32, 128)" err
'

test_done
