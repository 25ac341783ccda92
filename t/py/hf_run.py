#!/usr/bin/env python3
"""hf_run.py -- transformers opening an lmpipe directory as it stands (t3400).

    hf_run.py generate DIR PROMPT N     greedy ids after PROMPT, one line:
        AutoTokenizer encodes, AutoModelForCausalLM.generate (greedy, at most
        N new tokens, stopping at eos as lm-sample does at <|endoftext|>),
        and pipeline("text-generation") must give the same text
    hf_run.py encode DIR FILE...        each FILE's ids, one a line, from
        AutoTokenizer (fast) after checking the slow GPT2Tokenizer agrees

Nothing here knows lmpipe's formats: only transformers' own loaders.
"""
import sys

import torch
import transformers


def no_fsdp():
    """Debian's torch 1.13 cannot import torch.distributed.fsdp under Python
    3.11, which generate() imports only to ask whether the model is wrapped
    by FSDP; it is not."""
    import transformers.generation.utils as gu
    gu.is_fsdp_managed_module = lambda module: False


def generate(d, prompt, n):
    no_fsdp()
    tok = transformers.AutoTokenizer.from_pretrained(d)
    model = transformers.AutoModelForCausalLM.from_pretrained(d, torch_dtype=torch.float32).eval()
    ids = tok(prompt, return_tensors="pt").input_ids
    with torch.no_grad():
        out = model.generate(ids, do_sample=False, max_new_tokens=n,
                             pad_token_id=tok.eos_token_id)
    new = out[0, ids.shape[1]:].tolist()
    if new and new[-1] == tok.eos_token_id:
        new = new[:-1]
    pipe = transformers.pipeline("text-generation", model=d, tokenizer=d)
    text = pipe(prompt, do_sample=False, max_new_tokens=n, return_full_text=False,
                clean_up_tokenization_spaces=False, pad_token_id=tok.eos_token_id)
    text = text[0]["generated_text"]
    if text != tok.decode(new):
        print("FAIL pipeline %r != generate %r" % (text, tok.decode(new)))
        return 1
    print(" ".join(str(i) for i in new))
    return 0


def encode(d, files):
    fast = transformers.AutoTokenizer.from_pretrained(d)
    slow = transformers.AutoTokenizer.from_pretrained(d, use_fast=False)
    for f in files:
        with open(f, encoding="utf-8") as fp:
            text = fp.read()
        ids = fast(text).input_ids
        if slow(text).input_ids != ids:
            print("FAIL %s: the fast and slow tokenizers differ" % f)
            return 1
        if fast.decode(ids) != text:
            print("FAIL %s: decode(encode(text)) != text" % f)
            return 1
        sys.stdout.write("".join("%d\n" % i for i in ids))
    return 0


def main():
    torch.set_num_threads(1)
    transformers.logging.set_verbosity_error()
    if sys.argv[1] == "generate":
        return generate(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    return encode(sys.argv[2], sys.argv[3:])


if __name__ == "__main__":
    sys.exit(main())
