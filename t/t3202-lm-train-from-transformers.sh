#!/bin/bash
test_description='lm-train continues from weights: a transformers save_pretrained directory'
. ./lib-test.sh

# A GPT-2 with large random weights (initializer_range 1), so its loss says
# whether those weights, and not a fresh init, are what lm-train runs.
test_expect_success PYTHON 'set up a transformers model and shards of its vocabulary' '
	"$PYTHON" -c "
import torch
from transformers import GPT2Config, GPT2LMHeadModel
torch.manual_seed(3)
cfg = GPT2Config(n_layer=2, n_embd=32, n_head=2, vocab_size=64, n_positions=32,
                 initializer_range=1.0)
GPT2LMHeadModel(cfg).save_pretrained(\"hf\")
" &&
	test-tool train stream 20000 64 | shard -o data --val-tokens 4097
'

test_expect_success PYTHON 'the first val loss is the transformers model'"'"'s loss on the same windows' '
	lm-train data --model hf -b 4 --batch-tokens 128 --steps 2 --eval-every 1 \
		--eval-tokens 4096 --warmup 1 -o run 2>err &&
	grep -q "^lm-train: no samples or HellaSwag: the tokenizer .* has 50257 tokens, the model.s vocabulary 64" err &&
	sed -n "s/.*\"step\":0,.*\"val_loss\":\([^,}]*\).*/\1/p" run/log.jsonl >ours &&
	test -s ours &&
	"$PYTHON" -c "
import numpy as np, torch
from transformers import GPT2LMHeadModel
m = GPT2LMHeadModel.from_pretrained(\"hf\").eval()
import glob
tok = np.fromfile(glob.glob(\"data/*val*\")[0], dtype=np.uint16, offset=1024).astype(np.int64)
T = 32; n = (len(tok) - 1) // T
x = torch.tensor(np.stack([tok[i*T:i*T+T] for i in range(n)]))
y = torch.tensor(np.stack([tok[i*T+1:i*T+T+1] for i in range(n)]))
with torch.no_grad():
    logits = m(x).logits
loss = torch.nn.functional.cross_entropy(logits.reshape(-1, 64), y.reshape(-1)).item()
ours = float(open(\"ours\").read())
print(\"ours\", ours, \"transformers\", loss, \"windows\", n)
assert loss > 6, \"the test model should be far from uniform (ln 64 = 4.16)\"
assert abs(ours - loss) <= 1e-5 * loss, (ours, loss)
"
'

test_expect_success PYTHON 'it trains on from there and checkpoints in our format' '
	test -f run/ckpt.safetensors &&
	test-tool config run/ckpt.safetensors >cfg &&
	grep -q "\"n_layer\":2,\"d_model\":32,\"n_head\":2" cfg
'

test_expect_success PYTHON 'model flags cannot reshape a model that has weights' '
	test_must_fail lm-train data --model hf --layers 3 -b 4 --batch-tokens 128 \
		--steps 1 -o run2 2>err &&
	grep -q "model flags cannot change the model" err
'

test_done
