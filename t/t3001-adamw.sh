#!/bin/bash
test_description='share/optim: AdamW, clipping and the cosine schedule against PyTorch and CS336'
. ./lib-test.sh

test_expect_success 'the schedule is CS336 get_lr_cosine_schedule (its test values)' '
	# tests/test_optimizer.py::test_get_lr_cosine_schedule: max 1, min 0.1,
	# warmup 7, cosine cycle 21, iterations 0..24
	cat >expect <<-\EOF &&
	0.0000000000
	0.1428571429
	0.2857142857
	0.4285714286
	0.5714285714
	0.7142857143
	0.8571428571
	1.0000000000
	0.9887175605
	0.9554359906
	0.9018241671
	0.8305704108
	0.7452476826
	0.6501344203
	0.5500000000
	0.4498655797
	0.3547523174
	0.2694295892
	0.1981758329
	0.1445640094
	0.1112824395
	0.1000000000
	0.1000000000
	0.1000000000
	0.1000000000
	EOF
	test-tool adamw --schedule 1 0.1 7 21 25 >actual &&
	test_cmp expect actual
'

test_expect_success PYTHON 'AdamW (decay on 2-D only) and clipping match torch.optim.AdamW' '
	test-tool adamw run.safetensors &&
	"$PYTHON" - <<-\EOF
	import torch
	from safetensors.torch import load_file
	t = load_file("run.safetensors")
	A = t["init.A"].clone().requires_grad_(True)
	b = t["init.b"].clone().requires_grad_(True)
	opt = torch.optim.AdamW([{"params": [A], "weight_decay": 0.1},
	                         {"params": [b], "weight_decay": 0.0}],
	                        lr=1.0, betas=(0.9, 0.95), eps=1e-8)
	worst = 0.0
	for s in range(6):
	    A.grad, b.grad = t["g%d.A" % s].clone(), t["g%d.b" % s].clone()
	    norm = torch.nn.utils.clip_grad_norm_([A, b], 1.0).item()
	    assert abs(norm - t["norms"][s].item()) <= 1e-6 * norm, (s, norm)
	    for g in opt.param_groups:
	        g["lr"] = t["lrs"][s].item()
	    opt.step()
	for ours, ref in ((t["A"], A), (t["b"], b)):
	    rel = ((ours - ref).abs().max() / ref.abs().max()).item()
	    worst = max(worst, rel)
	print("worst rel %.2e" % worst)
	# float32 both sides, same gradients: only rounding differs
	assert worst <= 1e-6, worst
	# the run moved the weights, and decay made A differ from a no-decay run
	assert (t["A"] - t["init.A"]).abs().max() > 1e-3
	EOF
'

test_done
