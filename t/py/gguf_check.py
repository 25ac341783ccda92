#!/usr/bin/env python3
"""gguf_check.py -- a GGUF file read by PyPI's gguf (llama.cpp's gguf-py),
checked against the transformers directory it came from (t3402).

    gguf_check.py GGUF HFDIR f32|f16|bf16

Checks: version 3; the architecture (gpt2 or llama) and its hyperparameters
against HFDIR/config.json; the tokenizer (tokens against vocab.json, "[PADn]"
past it, token types, merges against merges.txt, bos/eos <|endoftext|>);
every tensor's name, ggml type and dimensions (ne[0] the input width), and
its values against HFDIR/model.safetensors mapped as llama.cpp's
convert_hf_to_gguf maps them: GPT-2's Conv1D matrices transposed, Llama's
q and k rows permuted back from transformers' half-split RoPE order to
adjacent pairs. Matrices must equal numpy's own rounding to the dtype
exactly (f16: numpy's float16, bf16: round to nearest even); vectors are f32.
"""
import json
import sys

import numpy as np
from gguf import GGMLQuantizationType as QT
from gguf import GGUFReader
from safetensors.numpy import load_file

fails = []


def check(ok, what):
    if not ok:
        fails.append(what)


def field(r, key):
    f = r.fields.get(key)
    return None if f is None else f.contents()


def bf16_round(x):
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)


def permute(w, n_head):
    """convert_hf_to_gguf's LlamaModel.permute: halves -> adjacent pairs."""
    return (w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:])
            .swapaxes(1, 2).reshape(w.shape))


def expected(cfg, hf):
    """name -> float32 array (out, in) as llama.cpp holds it."""
    g = lambda k: hf.get(k, hf.get(k.split(".", 1)[1]))  # noqa: E731
    e = {}
    if cfg["model_type"] == "gpt2":
        e["token_embd.weight"] = g("transformer.wte.weight")
        e["position_embd.weight"] = g("transformer.wpe.weight")
        for i in range(cfg["n_layer"]):
            p = "transformer.h.%d." % i
            b = "blk.%d." % i
            for ours, theirs, t in [("attn_norm", "ln_1", False), ("attn_qkv", "attn.c_attn", True),
                                    ("attn_output", "attn.c_proj", True), ("ffn_norm", "ln_2", False),
                                    ("ffn_up", "mlp.c_fc", True), ("ffn_down", "mlp.c_proj", True)]:
                w = g(p + theirs + ".weight")
                e[b + ours + ".weight"] = w.T if t else w
                e[b + ours + ".bias"] = g(p + theirs + ".bias")
        e["output_norm.weight"] = g("transformer.ln_f.weight")
        e["output_norm.bias"] = g("transformer.ln_f.bias")
        e["output.weight"] = hf.get("lm_head.weight", e["token_embd.weight"])
    else:
        nh = cfg["num_attention_heads"]
        e["token_embd.weight"] = g("model.embed_tokens.weight")
        for i in range(cfg["num_hidden_layers"]):
            p = "model.layers.%d." % i
            b = "blk.%d." % i
            e[b + "attn_norm.weight"] = g(p + "input_layernorm.weight")
            e[b + "attn_q.weight"] = permute(g(p + "self_attn.q_proj.weight"), nh)
            e[b + "attn_k.weight"] = permute(g(p + "self_attn.k_proj.weight"), nh)
            e[b + "attn_v.weight"] = g(p + "self_attn.v_proj.weight")
            e[b + "attn_output.weight"] = g(p + "self_attn.o_proj.weight")
            e[b + "ffn_norm.weight"] = g(p + "post_attention_layernorm.weight")
            e[b + "ffn_gate.weight"] = g(p + "mlp.gate_proj.weight")
            e[b + "ffn_up.weight"] = g(p + "mlp.up_proj.weight")
            e[b + "ffn_down.weight"] = g(p + "mlp.down_proj.weight")
        e["output_norm.weight"] = g("model.norm.weight")
        e["output.weight"] = hf.get("lm_head.weight", e["token_embd.weight"])
    return e


def check_model(r, cfg, arch):
    check(field(r, "general.architecture") == arch, "general.architecture")
    if arch == "gpt2":
        want = {"context_length": cfg["n_positions"], "embedding_length": cfg["n_embd"],
                "block_count": cfg["n_layer"], "feed_forward_length": cfg["n_inner"],
                "attention.head_count": cfg["n_head"]}
        eps = ("attention.layer_norm_epsilon", cfg["layer_norm_epsilon"])
    else:
        want = {"context_length": cfg["max_position_embeddings"],
                "embedding_length": cfg["hidden_size"], "block_count": cfg["num_hidden_layers"],
                "feed_forward_length": cfg["intermediate_size"],
                "attention.head_count": cfg["num_attention_heads"],
                "attention.head_count_kv": cfg["num_key_value_heads"],
                "rope.dimension_count": cfg["hidden_size"] // cfg["num_attention_heads"]}
        eps = ("attention.layer_norm_rms_epsilon", cfg["rms_norm_eps"])
        check(np.isclose(field(r, "llama.rope.freq_base"), cfg["rope_theta"]), "rope.freq_base")
    for k, v in want.items():
        check(field(r, arch + "." + k) == v, "%s.%s = %s, want %s" % (arch, k, field(r, arch + "." + k), v))
    check(np.isclose(field(r, arch + "." + eps[0]), eps[1], rtol=1e-6), eps[0])


def check_tokenizer(r, d, V):
    vocab = json.load(open(d + "/vocab.json", encoding="utf-8"))
    merges = open(d + "/merges.txt", encoding="utf-8").read().split("\n")[1:-1]
    by_id = {i: t for t, i in vocab.items()}
    tokens = field(r, "tokenizer.ggml.tokens")
    types = field(r, "tokenizer.ggml.token_type")
    check(field(r, "tokenizer.ggml.model") == "gpt2", "tokenizer.ggml.model")
    check(len(tokens) == V and len(types) == V, "token count %d, want %d" % (len(tokens), V))
    want = [by_id.get(i, "[PAD%d]" % i) for i in range(V)]
    check(tokens == want, "tokens differ from vocab.json")
    eot = vocab["<|endoftext|>"]
    want_types = [5 if i >= len(vocab) else 3 if i == eot else 1 for i in range(V)]
    check(list(types) == want_types, "token types")
    check(field(r, "tokenizer.ggml.merges") == merges, "merges differ from merges.txt")
    check(field(r, "tokenizer.ggml.bos_token_id") == eot, "bos id")
    check(field(r, "tokenizer.ggml.eos_token_id") == eot, "eos id")


def check_tensors(r, cfg, hf, dtype):
    e = expected(cfg, hf)
    names = [t.name for t in r.tensors]
    check(sorted(names) == sorted(e), "tensor names: extra %s, missing %s"
          % (sorted(set(names) - set(e)), sorted(set(e) - set(names))))
    mtype = {"f32": QT.F32, "f16": QT.F16, "bf16": QT.BF16}[dtype]
    for t in r.tensors:
        w = e.get(t.name)
        if w is None:
            continue
        w = np.asarray(w, dtype=np.float32)
        check(list(t.shape) == list(reversed(w.shape)), "%s: ne %s for %s" % (t.name, list(t.shape), w.shape))
        want_type = QT.F32 if w.ndim == 1 else mtype
        check(t.tensor_type == want_type, "%s: type %s, want %s" % (t.name, t.tensor_type.name, want_type.name))
        if t.tensor_type == QT.BF16:
            got, want = np.asarray(t.data).view(np.uint16).reshape(w.shape), bf16_round(w)
        elif t.tensor_type == QT.F16:
            got, want = np.asarray(t.data).reshape(w.shape), w.astype(np.float16)
        else:
            got, want = np.asarray(t.data).reshape(w.shape), w
        check(np.array_equal(got, want), "%s: values differ" % t.name)


def main():
    path, d, dtype = sys.argv[1:4]
    r = GGUFReader(path)
    cfg = json.load(open(d + "/config.json"))
    hf = load_file(d + "/model.safetensors")
    arch = cfg["model_type"]
    check(field(r, "GGUF.version") == 3, "version")
    check_model(r, cfg, arch)
    check_tokenizer(r, d, cfg["vocab_size"])
    check_tensors(r, cfg, hf, dtype)
    for f in fails:
        print("FAIL %s: %s" % (path, f))
    if not fails:
        print("ok %s: %s, %d tensors, %s" % (path, arch, len(r.tensors), dtype))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
