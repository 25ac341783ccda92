#!/usr/bin/env python3
"""llama_cpp_greedy.py -- greedy tokens of a GGUF model in llama.cpp itself
(PyPI's llama-cpp-python, which builds llama.cpp), for bench/llama-cpp.sh.

    llama_cpp_greedy.py GGUF N PROMPT_IDS...

Evaluates the prompt's token ids (ours, so only the model is compared; the
tokenizer is compared apart with `tokenize`), then takes the argmax of the
logits N times, stopping at the end-of-generation token as lm-sample stops
at <|endoftext|>; prints the new ids on one line.

    llama_cpp_greedy.py tokenize GGUF TEXT

llama.cpp's own tokenization of TEXT (no bos added, specials parsed).

    llama_cpp_greedy.py logits GGUF OURS

llama.cpp's logits at every position of OURS' "inputs" (B, T), against
OURS' "logits" (B, T, V) (test-tool ckpt logits' file): prints
rel = max|llama.cpp - ours| / max|ours|.
"""
import json
import struct
import sys

import numpy as np
from llama_cpp import Llama


def load(path):
    # the KV cache in f32 (llama.cpp's default is f16, which alone costs
    # about 1e-4 of relative error in the logits)
    return Llama(model_path=path, n_ctx=0, logits_all=True, verbose=False, n_threads=2,
                 type_k=0, type_v=0)


def greedy(path, n, prompt):
    llm = load(path)
    llm.eval(prompt)
    out = []
    for _ in range(n):
        tok = int(np.argmax(llm.scores[llm.n_tokens - 1]))
        if tok == llm.token_eos() or len(prompt) + len(out) + 1 > llm.n_ctx():
            break
        out.append(tok)
        llm.eval([tok])
    print(" ".join(str(t) for t in out))


def read_safetensors(path):
    """name -> float32 array; the format is an 8-byte header length, JSON, data."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, e in header.items():
        if name != "__metadata__":
            a, b = e["data_offsets"]
            out[name] = np.frombuffer(data[a:b], dtype=np.float32).reshape(e["shape"])
    return out


def logits(path, ours_path):
    ours = read_safetensors(ours_path)
    inputs, want = ours["inputs"].astype(int), ours["logits"].astype(np.float64)
    llm = load(path)
    worst = 0.0
    for b in range(inputs.shape[0]):
        llm.reset()
        llm.eval(inputs[b].tolist())
        got = np.asarray(llm.scores[:inputs.shape[1], :want.shape[2]], dtype=np.float64)
        worst = max(worst, np.abs(got - want[b]).max() / np.abs(want[b]).max())
    print("%.2e" % worst)


def main():
    if sys.argv[1] == "logits":
        logits(sys.argv[2], sys.argv[3])
        return 0
    if sys.argv[1] == "tokenize":
        llm = load(sys.argv[2])
        ids = llm.tokenize(sys.argv[3].encode("utf-8"), add_bos=False, special=True)
        print(" ".join(str(t) for t in ids))
        return 0
    greedy(sys.argv[1], int(sys.argv[2]), [int(x) for x in sys.argv[3:]])
    return 0


if __name__ == "__main__":
    sys.exit(main())
