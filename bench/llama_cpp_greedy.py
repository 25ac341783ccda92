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
"""
import sys

import numpy as np
from llama_cpp import Llama


def load(path):
    return Llama(model_path=path, n_ctx=0, logits_all=True, verbose=False, n_threads=2)


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


def main():
    if sys.argv[1] == "tokenize":
        llm = load(sys.argv[2])
        ids = llm.tokenize(sys.argv[3].encode("utf-8"), add_bos=False, special=True)
        print(" ".join(str(t) for t in ids))
        return 0
    greedy(sys.argv[1], int(sys.argv[2]), [int(x) for x in sys.argv[3:]])
    return 0


if __name__ == "__main__":
    sys.exit(main())
