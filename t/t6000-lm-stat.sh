#!/bin/bash
test_description='lm-stat --flops: parameters, FLOPs, memory and time'
. ./lib-test.sh

json_field() { "$PYTHON" -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {}, d))" "$@"; }

test_expect_success 'gpt2 (124M) has 124,439,808 parameters' '
	lm-stat --flops gpt2 >out &&
	grep -E "^  total +124,439,808 +100.0%" out
'

test_expect_success 'gpt2-xl has 1,557,611,200 parameters' '
	lm-stat --flops gpt2-xl >out &&
	grep -E "^  total +1,557,611,200 +100.0%" out
'

test_expect_success 'the llama family at GPT-2 XL shape: the whole report (CS336 accounting)' '
	lm-stat --flops gpt2-xl --family llama --ff 6400 --steps 400K --batch 1024 \
		--mfu 0.5 --peak 19.5T >actual &&
	cat >expect <<-\EOT &&
	model gpt2-xl: llama family, L=48 C=1600 NH=25 d_ff=6400 V=50257 T=1024
	  norm pre (rmsnorm), positions rope, mlp swiglu, no biases, untied head

	parameters                                           share
	  token embedding                                80,411,200    3.8%
	  position embedding                                      0    0.0%
	  attention (QKV, output)                       491,520,000   23.1%
	  mlp                                         1,474,560,000   69.3%
	  norms                                             155,200    0.0%
	  lm head                                        80,411,200    3.8%
	  total                                       2,127,057,600  100.0%

	forward matmul FLOPs, one sequence of 1024 tokens (2mnp a product)
	  attention projections (QKV, out)        1,006,632,960,000   22.3%  1.01 TFLOP
	  attention scores (Q K^T)                  161,061,273,600    3.6%  161 GFLOP
	  attention weighted sum (A V)              161,061,273,600    3.6%  161 GFLOP
	  mlp                                     3,019,898,880,000   66.9%  3.02 TFLOP
	  lm head                                   164,682,137,600    3.6%  165 GFLOP
	  total                                   4,513,336,524,800  100.0%  4.51 TFLOP

	training
	  FLOPs per token (3 x forward)      13.2 GFLOP
	  FLOPs per step                     13.9 PFLOP  (1024 x 1024 tokens)
	  AdamW update per step              31.9 GFLOP  (15 a parameter)

	memory, fp32 AdamW
	  parameters, gradients, m, v        8.51 GB each
	  training state                     34.03 GB
	  activations                        15.52 GB per batch element (T=1024)
	  largest batch in 80.00 GB          2

	time to train 400,000 steps (419 G tokens) at 50% MFU of 19.5 TFLOP/s: 18.0 years
	EOT
	test_cmp expect actual
'

test_expect_success PYTHON 'the same in JSON, exact integers' '
	lm-stat --flops gpt2-xl --family llama --ff 6400 --steps 400K --batch 1024 \
		--mfu 50% --peak 19.5T --json >out.json &&
	json_field out.json "parameters[\"total\"]" >p && echo 2127057600 >expect && test_cmp expect p &&
	json_field out.json "int(forward_flops[\"total\"])" >f && echo 4513336524800 >expect && test_cmp expect f &&
	json_field out.json "memory[\"max_batch\"]" >b && echo 2 >expect && test_cmp expect b &&
	json_field out.json "round(time[\"seconds\"] / (365.25 * 86400), 1)" >y && echo 18.0 >expect && test_cmp expect y
'

test_expect_success PYTHON 'parameter count equals an independent count of the transformers model' '
	lm-stat --flops d4 --vocab 1000 --ctx 64 --json >out.json &&
	json_field out.json "parameters[\"total\"]" >ours &&
	"$PYTHON" -c "
from transformers import GPT2Config, GPT2LMHeadModel
m = GPT2LMHeadModel(GPT2Config(n_layer=4, n_embd=256, n_head=4, vocab_size=1000, n_positions=64))
print(sum(p.numel() for p in m.parameters()))" >theirs &&
	test_cmp theirs ours &&
	lm-stat --flops d4 --family llama --vocab 1000 --ctx 64 --json >out.json &&
	json_field out.json "parameters[\"total\"]" >ours &&
	json_field out.json "config[\"d_ff\"]" >ff && echo 704 >expect && test_cmp expect ff &&
	"$PYTHON" -c "
from transformers import LlamaConfig, LlamaForCausalLM
m = LlamaForCausalLM(LlamaConfig(num_hidden_layers=4, hidden_size=256, num_attention_heads=4,
    intermediate_size=704, vocab_size=1000, max_position_embeddings=64, tie_word_embeddings=False))
print(sum(p.numel() for p in m.parameters()))" >theirs &&
	test_cmp theirs ours
'

test_expect_success 'batch that does not fit, GiB sizes, named peaks' '
	lm-stat --flops gpt2-xl --family llama --ff 6400 --gpu-mem 30GB >out &&
	grep -q "largest batch in 30.00 GB  *none: does not fit" out &&
	lm-stat --flops gpt2-xl --family llama --ff 6400 --gpu-mem 80GiB >out &&
	grep -q "largest batch in 85.90 GB  *3" out &&
	lm-stat --flops gpt2 --tokens 10B --batch 512 --peak h100 --mfu 0.4 >out &&
	grep -q "at 40% MFU of 989 TFLOP/s (h100)" out
'

test_expect_success 'models from a config file and from ablation switches' '
	echo "{\"family\":\"llama\",\"n_layer\":4,\"d_model\":512,\"n_head\":16,\"d_ff\":1344,\"vocab_size\":10000,\"ctx\":256}" >ts.json &&
	lm-stat --flops ts.json >a && lm-stat --flops cs336-ts >b &&
	sed 1d a >a1 && sed 1d b >b1 && test_cmp a1 b1 &&
	lm-stat --flops cs336-ts --norm none --positions learned --json >abl.json &&
	grep -q "\"norms\": 0" abl.json && grep -q "\"position_embedding\": 131072" abl.json
'

test_expect_success 'usage errors: no model, bad numbers, unknown model, exclusive options' '
	test_expect_code 2 lm-stat 2>err && grep -q "^lm-stat: nothing to do" err &&
	test_expect_code 2 lm-stat --flops gpt2 --batch 1.5 2>err && grep -q "batch" err &&
	test_expect_code 2 lm-stat --flops gpt2 --mfu 2 2>err && grep -q "mfu" err &&
	test_expect_code 2 lm-stat --flops gpt2 --tokens 1B --steps 10 2>err &&
	test_expect_code 2 lm-stat --flops gpt2 --family gpt5 2>err && grep -q "unknown model family" err &&
	test_must_fail lm-stat --flops gpt3 2>err && grep -q "^lm-stat: unknown model .gpt3." err &&
	echo "{" >bad.json && test_must_fail lm-stat --flops bad.json 2>err &&
	grep -q "^lm-stat: bad.json: invalid JSON" err
'

test_expect_success '--help goes to stdout and exits 0' '
	lm-stat --help >out 2>err && grep -q "^usage: lm-stat" out && test ! -s err
'

test_expect_success 'a write error on stdout is an error' '
	test_must_fail lm-stat --flops gpt2 >/dev/full 2>err && grep -q "standard output" err
'

test_done
