#!/usr/bin/env python3
"""llmc_ref.py -- an independent reader and writer of llm.c's files, in numpy,
written from llm.c's format description (train_gpt2.py's write_model and
write_tokenizer), for t3401.

    llmc_ref.py write OUT f32|bf16 V VP [SEED]
        a random GPT-2 (L=2, C=32, NH=4, T=16, every weight random) as
        llm.c's checkpoint, vocabulary V padded to VP rows (VP = V: none)
    llmc_ref.py logits BIN OURS
        read BIN, run GPT-2 in float64 numpy on OURS' "inputs" (B, T) and
        compare with OURS' "logits" (B, T, V): rel = max|ours - ref| / max|ref|
        <= 1e-5 (both read the same stored values; rel is the C code's float32
        error, about 1e-7)
    llmc_ref.py to-bf16 IN OUT
        the fp32 checkpoint IN as a bf16 one (version 5), rounding as torch
    llmc_ref.py tokenizer-write OUT RANKS
        llm.c's tokenizer file from a .tiktoken rank table, <|endoftext|> last
    llmc_ref.py tokenizer-check BIN RANKS
        BIN holds exactly RANKS' tokens, then <|endoftext|> as the EOT
"""
import base64
import sys

import numpy as np
from safetensors.numpy import load_file

MAGIC, TOK_MAGIC = 20240326, 20240328
L, C, NH, T = 2, 32, 4, 16


def shapes(L, C, T, Vp):
    """The tensors in llm.c's order (write_tensors)."""
    return [("wte", (Vp, C)), ("wpe", (T, C)), ("ln1w", (L, C)), ("ln1b", (L, C)),
            ("qkvw", (L, 3 * C, C)), ("qkvb", (L, 3 * C)), ("attprojw", (L, C, C)),
            ("attprojb", (L, C)), ("ln2w", (L, C)), ("ln2b", (L, C)),
            ("fcw", (L, 4 * C, C)), ("fcb", (L, 4 * C)), ("fcprojw", (L, C, 4 * C)),
            ("fcprojb", (L, C)), ("lnfw", (C,)), ("lnfb", (C,))]


def to_bf16(x):
    """float32 -> bf16 bits, round to nearest even (torch's .to(bfloat16))."""
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    u = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
    return u.astype(np.uint16)


def write(out, dtype, V, Vp, seed):
    rng = np.random.default_rng(seed)
    header = np.zeros(256, dtype=np.int32)
    header[:8] = [MAGIC, 3 if dtype == "f32" else 5, T, V, L, NH, C, Vp]
    with open(out, "wb") as f:
        f.write(header.tobytes())
        for name, shape in shapes(L, C, T, Vp):
            w = rng.normal(0.0, 0.3, size=shape).astype(np.float32)
            if name.startswith("ln") and name.endswith("w"):
                w += 1.0
            if name == "wte":
                w[V:] = 0.0
            f.write(w.tobytes() if dtype == "f32" else to_bf16(w).tobytes())


def read(path):
    with open(path, "rb") as f:
        data = f.read()
    h = np.frombuffer(data[:1024], dtype=np.int32)
    assert h[0] == MAGIC, "bad magic"
    assert h[1] in (3, 5), "bad version"
    T_, V, L_, NH_, C_, Vp = (int(x) for x in h[2:8])
    if h[1] == 3:
        flat = np.frombuffer(data[1024:], dtype=np.float32).astype(np.float64)
    else:
        bits = np.frombuffer(data[1024:], dtype=np.uint16).astype(np.uint32) << 16
        flat = bits.view(np.float32).astype(np.float64)
    w, at = {}, 0
    for name, shape in shapes(L_, C_, T_, Vp):
        n = int(np.prod(shape))
        w[name] = flat[at:at + n].reshape(shape)
        at += n
    assert at == flat.size, "size disagrees with the header"
    return w, dict(T=T_, V=V, L=L_, NH=NH_, C=C_)


def layernorm(x, g, b):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + 1e-5) * g + b


def gelu(x):
    return 0.5 * x * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (x + 0.044715 * x ** 3)))


def forward(w, cfg, ids):
    B, Tn = ids.shape
    C_, NH_ = cfg["C"], cfg["NH"]
    HS = C_ // NH_
    x = w["wte"][ids] + w["wpe"][:Tn]
    mask = np.triu(np.ones((Tn, Tn), dtype=bool), 1)
    for l in range(cfg["L"]):
        h = layernorm(x, w["ln1w"][l], w["ln1b"][l])
        qkv = h @ w["qkvw"][l].T + w["qkvb"][l]
        q, k, v = (qkv[..., i * C_:(i + 1) * C_].reshape(B, Tn, NH_, HS).transpose(0, 2, 1, 3)
                   for i in range(3))
        att = q @ k.transpose(0, 1, 3, 2) / np.sqrt(HS)
        att[..., mask] = -np.inf
        att = np.exp(att - att.max(-1, keepdims=True))
        att /= att.sum(-1, keepdims=True)
        y = (att @ v).transpose(0, 2, 1, 3).reshape(B, Tn, C_)
        x = x + y @ w["attprojw"][l].T + w["attprojb"][l]
        h = layernorm(x, w["ln2w"][l], w["ln2b"][l])
        h = gelu(h @ w["fcw"][l].T + w["fcb"][l])
        x = x + h @ w["fcprojw"][l].T + w["fcprojb"][l]
    x = layernorm(x, w["lnfw"], w["lnfb"])
    return x @ w["wte"][:cfg["V"]].T


def logits(path, ours_path):
    w, cfg = read(path)
    ours = load_file(ours_path)
    ref = forward(w, cfg, ours["inputs"].astype(np.int64))
    mine = ours["logits"].astype(np.float64)
    if mine.shape != ref.shape:
        print("FAIL shape %s != %s" % (mine.shape, ref.shape))
        return 1
    rel = np.abs(mine - ref).max() / np.abs(ref).max()
    ok = rel <= 1e-5
    print("%s %s logits rel %.2e (tol 1e-05)" % ("ok" if ok else "FAIL", path, rel))
    return 0 if ok else 1


def to_bf16_file(src, out):
    with open(src, "rb") as f:
        data = f.read()
    header = np.frombuffer(data[:1024], dtype=np.int32).copy()
    assert header[0] == MAGIC and header[1] == 3, "not an fp32 llm.c checkpoint"
    header[1] = 5
    with open(out, "wb") as f:
        f.write(header.tobytes())
        f.write(to_bf16(np.frombuffer(data[1024:], dtype=np.float32)).tobytes())


def ranks(path):
    with open(path) as f:
        return [base64.b64decode(line.split()[0]) for line in f if line.strip()]


def tokenizer_write(out, ranks_path):
    toks = ranks(ranks_path) + [b"<|endoftext|>"]
    header = np.zeros(256, dtype=np.int32)
    header[:4] = [TOK_MAGIC, 2, len(toks), len(toks) - 1]
    with open(out, "wb") as f:
        f.write(header.tobytes())
        for t in toks:
            f.write(bytes([len(t)]) + t)


def tokenizer_check(path, ranks_path):
    with open(path, "rb") as f:
        data = f.read()
    h = np.frombuffer(data[:1024], dtype=np.int32)
    want = ranks(ranks_path) + [b"<|endoftext|>"]
    toks, at = [], 1024
    while at < len(data):
        n = data[at]
        toks.append(data[at + 1:at + 1 + n])
        at += 1 + n
    ok = (h[0] == TOK_MAGIC and h[1] == 2 and h[2] == len(want) and h[3] == len(want) - 1
          and toks == want)
    print("%s %s: %d tokens, eot %d" % ("ok" if ok else "FAIL", path, len(toks), h[3]))
    return 0 if ok else 1


def main():
    cmd, a = sys.argv[1], sys.argv[2:]
    if cmd == "write":
        write(a[0], a[1], int(a[2]), int(a[3]), int(a[4]) if len(a) > 4 else 1)
        return 0
    if cmd == "logits":
        return logits(a[0], a[1])
    if cmd == "to-bf16":
        to_bf16_file(a[0], a[1])
        return 0
    if cmd == "tokenizer-write":
        tokenizer_write(a[0], a[1])
        return 0
    return tokenizer_check(a[0], a[1])


if __name__ == "__main__":
    sys.exit(main())
