#!/bin/bash
test_description='lm-stat --flops on huge models: exact where the numbers fit, exponents where not

Counts beyond 2^64 printed as 0, a width whose default d_ff overflowed an
int printed negative, and a GPU too large for a long did "not fit". The
sizes are checked once (config_finish) so that every count is exact, and
what is too large to count is an error that names the size.'
. ./lib-test.sh

test_expect_success 'FLOP rows beyond 2^64 are exponents beside the SI figure, never 0' '
	lm-stat --flops gpt2 --layers 1024 --d-model 65536 --heads 64 --ctx 16777216 \
		--tokens 1e15 >actual &&
	cat >expect <<-\EOT &&
	model gpt2: gpt2 family, L=1024 C=65536 NH=64 d_ff=262144 V=50257 T=16777216
	  norm pre (layernorm), positions learned, mlp gelu, biases, tied head

	parameters                                           share
	  token embedding                             3,293,642,752    0.0%
	  position embedding                      1,099,511,627,776    2.0%
	  attention (QKV, output)                17,592,454,479,872   32.7%
	  mlp                                    35,184,707,633,152   65.3%
	  norms                                         268,566,528    0.0%
	  lm head (tied to the embedding)                         0    0.0%
	  total                                  53,880,235,950,080  100.0%

	forward matmul FLOPs, one sequence of 16777216 tokens (2mnp a product)
	  attention projections (QKV, out)             5.902958e+20    0.8%  590 EFLOP
	  attention scores (Q K^T)                     3.777893e+22   48.9%  37.8 ZFLOP
	  attention weighted sum (A V)                 3.777893e+22   48.9%  37.8 ZFLOP
	  mlp                                          1.180592e+21    1.5%  1.18 ZFLOP
	  lm head                            110,516,311,754,276,864    0.0%  111 PFLOP
	  total                                        7.732886e+22  100.0%  77.3 ZFLOP

	training
	  FLOPs per token (3 x forward)      13.8 PFLOP
	  FLOPs per step                     232 ZFLOP  (1 x 16777216 tokens)
	  AdamW update per step              808 TFLOP  (15 a parameter)

	memory, fp32 AdamW
	  parameters, gradients, m, v        215.52 TB each
	  training state                     862.08 TB
	  activations                        147.65 EB per batch element (T=16777216)
	  largest batch in 80.00 GB          none: does not fit

	time to train 59,604,645 steps (1.00 P tokens) at 50% MFU of 989 TFLOP/s (h100): 8.86e+08 years
	EOT
	test_cmp expect actual
'

test_expect_success 'a 1e30 GB GPU fits a huge batch of gpt2' '
	lm-stat --flops gpt2 --gpu-mem 1e30GB >out &&
	grep -E "^  largest batch in 1e\+15 YB +4\.490768e\+29$" out &&
	lm-stat --flops gpt2 --gpu-mem 1e30GB --json >out.json &&
	grep -q "\"max_batch\": 4\.49076841718017[0-9]*e29$" out.json &&
	lm-stat --flops gpt2 --gpu-mem 1TB --json >out.json &&
	grep -q "\"max_batch\": 448$" out.json
'

test_expect_success 'a context of 2^30: the activations counted in floating point' '
	echo "{\"family\":\"gpt2\",\"n_layer\":2,\"d_model\":64,\"n_head\":1,\"vocab_size\":100,\"ctx\":1073741824}" >ctx.json &&
	lm-stat --flops ctx.json >out &&
	grep -E "^  activations +18\.45 EB per batch element \(T=1073741824\)$" out
'

test_expect_success 'a width whose d_ff or QKV rows overflow an int is an error, not a negative d_ff' '
	echo "{\"family\":\"gpt2\",\"n_layer\":2,\"d_model\":1073741824,\"n_head\":1,\"vocab_size\":100,\"ctx\":16}" >wide.json &&
	test_must_fail lm-stat --flops wide.json >out 2>err &&
	test_error_mentions err "lm-stat: model " "is too large (at most 1073741824)" &&
	! test -s out &&
	test_must_fail lm-stat --flops gpt2 --layers 1048576 --d-model 1048576 --heads 1024 2>err &&
	test_error_mentions err "lm-stat: model " "parameters, too many to count exactly"
'

test_done
