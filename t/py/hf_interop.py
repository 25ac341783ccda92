#!/usr/bin/env python3
"""hf_interop.py -- transformers' side of the checkpoint tests (t3002).

    hf_interop.py make gpt2|llama DIR   a tiny random transformers model,
                                        every parameter (biases and norm
                                        gains too) random, save_pretrained
    hf_interop.py logits DIR OURS       run transformers' model from DIR on
                                        OURS' "inputs"; compare with OURS'
                                        "logits" (B, T, V)

The transformers model runs in float64, so the measure rel = max|ours - hf| /
max|hf| is the C code's own float32 error (about 1e-7); 1e-5 is the bound,
while a transposed Conv1D, a missed RoPE permutation or a wrong norm gives
rel near 1.
"""
import sys

import torch
from safetensors.torch import load_file
import transformers


def make(family, d):
    torch.manual_seed(1234)
    if family == "gpt2":
        cfg = transformers.GPT2Config(vocab_size=100, n_positions=16, n_embd=32, n_layer=2,
                                      n_head=4, resid_pdrop=0, embd_pdrop=0, attn_pdrop=0)
        model = transformers.GPT2LMHeadModel(cfg)
    else:
        cfg = transformers.LlamaConfig(vocab_size=100, hidden_size=48, intermediate_size=72,
                                       num_hidden_layers=2, num_attention_heads=4,
                                       num_key_value_heads=4, max_position_embeddings=16,
                                       rms_norm_eps=1e-6, rope_theta=500.0,
                                       tie_word_embeddings=False)
        model = transformers.LlamaForCausalLM(cfg)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 0.2)
    model.save_pretrained(d)


def logits(d, ours_path):
    ours = load_file(ours_path)
    model = transformers.AutoModelForCausalLM.from_pretrained(d, torch_dtype=torch.float32)
    model = model.double().eval()
    with torch.no_grad():
        ref = model(ours["inputs"].long()).logits
    mine = ours["logits"].double()
    if mine.shape != ref.shape:
        print("FAIL shape %s != %s" % (tuple(mine.shape), tuple(ref.shape)))
        return 1
    rel = ((mine - ref).abs().max() / ref.abs().max()).item()
    ok = rel <= 1e-5
    print("%s %s logits rel %.2e (tol 1e-05, %s)" % ("ok" if ok else "FAIL", d, rel,
                                                    type(model).__name__))
    return 0 if ok else 1


def main():
    torch.set_num_threads(1)
    transformers.logging.set_verbosity_error()
    if sys.argv[1] == "make":
        make(sys.argv[2], sys.argv[3])
        return 0
    return logits(sys.argv[2], sys.argv[3])


if __name__ == "__main__":
    sys.exit(main())
