#!/bin/bash
test_description='share/model: the layer plan, what a layer of each config does

The steps of a layer (model/layer_plan.h) for gpt2 and llama and each norm
placement, and the backward derived from them (which gradient buffer holds
which gradient), as test-tool layer-plan prints them; then each ablation
switch reaches the op it names. The forward, backward, KV-cache and CUDA
wirings all run these steps (t3000, t3003, t7100 check their numbers).'
. ./lib-test.sh

. "$TEST_DIRECTORY/lib-model-configs.sh"

test_expect_success 'write the configs' '
	write_model_configs
'

test_expect_success 'gpt2: pre-norm LayerNorm, attention, GELU MLP, biases' '
	cat >expect <<-\EOF &&
	linear layers with bias
	n1 = layernorm1(x)
	r1 = x + attn(n1)
	n2 = layernorm2(r1)
	x'"'"' = r1 + mlp_gelu(n2)
	backward, 2 gradient buffers, g0 holding d x'"'"' on entry:
	d r1 = d x'"'"' (in g0, the residual)
	d n2 = mlp_gelu'"'"'(d x'"'"') (in g1)
	d r1 += layernorm2'"'"'(d n2) (in g0)
	d x = d r1 (in g0, the residual)
	d n1 = attn'"'"'(d r1) (in g1)
	d x += layernorm1'"'"'(d n1) (in g0)
	d x in g0
	EOF
	test-tool layer-plan gpt2.json >actual &&
	test_cmp expect actual
'

test_expect_success 'llama: pre-norm RMSNorm, RoPE, SwiGLU, no biases' '
	sed "s/layernorm/rmsnorm/; s/attn/attn_rope/; s/mlp_gelu/mlp_swiglu/; s/with bias/without bias/" \
		expect >expect.llama &&
	test-tool layer-plan llama.json >actual &&
	test_cmp expect.llama actual
'

test_expect_success 'post-norm: the norms after the residual adds' '
	cat >expect <<-\EOF &&
	linear layers with bias
	r1 = x + attn(x)
	n1 = layernorm1(r1)
	r2 = n1 + mlp_gelu(n1)
	x'"'"' = layernorm2(r2)
	backward, 2 gradient buffers, g0 holding d x'"'"' on entry:
	d r2 = layernorm2'"'"'(d x'"'"') (in g1)
	d n1 = d r2 (in g1, the residual)
	d n1 += mlp_gelu'"'"'(d r2) (in g1)
	d r1 = layernorm1'"'"'(d n1) (in g0)
	d x = d r1 (in g0, the residual)
	d x += attn'"'"'(d r1) (in g0)
	d x in g0
	EOF
	test-tool layer-plan gpt2-post.json >actual &&
	test_cmp expect actual
'

test_expect_success 'no norms: two residual adds, one gradient buffer' '
	cat >expect <<-\EOF &&
	linear layers without bias
	r1 = x + attn_rope(x)
	x'"'"' = r1 + mlp_swiglu(r1)
	backward, 1 gradient buffer, g0 holding d x'"'"' on entry:
	d r1 = d x'"'"' (in g0, the residual)
	d r1 += mlp_swiglu'"'"'(d x'"'"') (in g0)
	d x = d r1 (in g0, the residual)
	d x += attn_rope'"'"'(d r1) (in g0)
	d x in g0
	EOF
	test-tool layer-plan llama-nonorm.json >actual &&
	test_cmp expect actual
'

test_expect_success 'each switch reaches its op' '
	while read -r config step; do
		test-tool layer-plan $config.json >actual &&
		grep -qxF "$step" actual || { echo "$config: no \"$step\""; cat actual; exit 1; }
	done <<-\EOF
	gpt2-rope r1 = x + attn_rope(n1)
	gpt2-nopos r1 = x + attn(n1)
	gpt2-swiglu x'"'"' = r1 + mlp_swiglu(n2)
	gpt2-silu x'"'"' = r1 + mlp_silu(n2)
	gpt2-untied-nobias linear layers without bias
	llama-learned r1 = x + attn(n1)
	llama-gelu x'"'"' = r1 + mlp_gelu(n2)
	llama-silu x'"'"' = r1 + mlp_silu(n2)
	llama-tied-bias linear layers with bias
	llama-post x'"'"' = rmsnorm2(r2)
	EOF
'

test_done
