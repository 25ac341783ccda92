#!/usr/bin/env python3
"""eval_ref.py -- independent PyTorch/transformers oracles for lm-eval and
lm-sample (t/t4xxx, t/t5xxx, bench/).

    eval_ref.py model DIR [--seed S] [--ctx N]     a small random GPT2LMHeadModel
    eval_ref.py hellaswag DIR DATA [--style llmc|harness] [--limit N]
    eval_ref.py loss DIR SHARD...                   mean loss over windows of n_positions
    eval_ref.py generate DIR PROMPT N               greedy ids (generate(do_sample=False))
    eval_ref.py batch JOBS                          many of the above, one import of
                                                    transformers: each line of JOBS is
                                                    "OUTFILE COMMAND ARGS..." (shell quoting),
                                                    its output written to OUTFILE

Tokens: tiktoken's gpt2 built from $GPT2_DATA (t/lib-tiktoken.py).
HellaSwag: the items are read here again (JSONL or llama.cpp's 6-line text
form) with llm.c's and lm-evaluation-harness's own rules written in Python:
llmc encodes ctx and " " + ending apart; harness encodes context + " " +
ending whole and keeps what follows the context's tokens. Scores are
logits -> log_softmax -> gather, summed in float64 from float32 logits.
Output: one JSON object a line per item (index, label, pred, pred_norm,
loss, ntok, nchar).
"""
import json, os, re, sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import importlib.util

spec = importlib.util.spec_from_file_location(
    "libtt", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib-tiktoken.py"))
libtt = importlib.util.module_from_spec(spec)
spec.loader.exec_module(libtt)


def preprocess(text):
    text = text.strip()
    text = text.replace(" [title]", ". ")
    text = re.sub("\\[.*?\\]", "", text)
    text = text.replace("  ", " ")
    return text


def read_items(path, style, limit):
    if path.endswith(".bz2"):
        import bz2
        raw = bz2.open(path, "rt", encoding="utf-8").read()
    else:
        raw = open(path, encoding="utf-8").read()
    items = []
    if raw.lstrip().startswith("{"):
        for line in raw.split("\n"):
            if not line.strip():
                continue
            d = json.loads(line)
            if style == "llmc":
                items.append((d["ctx"], d["endings"], int(d["label"])))
            else:
                ctx = d["ctx_a"] + " " + d["ctx_b"].capitalize()
                items.append((preprocess(d["activity_label"] + ": " + ctx),
                              [preprocess(e) for e in d["endings"]], int(d["label"])))
    else:
        lines = raw.split("\n")
        while lines and lines[-1] == "":
            lines.pop()
        for i in range(0, len(lines), 6):
            first, label, ends = lines[i], int(lines[i + 1]), lines[i + 2:i + 6]
            if style == "llmc":
                items.append((first.split(": ", 1)[1], ends, label))
            else:
                items.append((preprocess(first), [preprocess(e) for e in ends], label))
    return items[:limit] if limit else items


_models = {}


def load(d):
    import torch
    from transformers import GPT2LMHeadModel
    if d not in _models:
        torch.set_num_threads(2)
        m = GPT2LMHeadModel.from_pretrained(d)
        m.eval()
        _models[d] = m
    return _models[d]


def cmd_model(args):
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel
    seed, ctx = 0, 256
    if "--seed" in args:
        seed = int(args[args.index("--seed") + 1])
    if "--ctx" in args:
        ctx = int(args[args.index("--ctx") + 1])
    torch.manual_seed(seed)
    cfg = GPT2Config(n_layer=2, n_embd=64, n_head=4, n_positions=ctx, vocab_size=50257)
    m = GPT2LMHeadModel(cfg)
    # larger than GPT-2's init, biases and norms perturbed: every parameter
    # matters, and the four endings' losses are far apart (no near-ties)
    with torch.no_grad():
        for n, p in m.named_parameters():
            if p.dim() == 2:
                p.normal_(0, 0.2)
            elif "ln" in n and n.endswith("weight"):
                p.copy_(1 + 0.1 * torch.randn_like(p))
            else:
                p.normal_(0, 0.1)
    m.save_pretrained(args[0], safe_serialization=True)


def cmd_hellaswag(args):
    import torch
    style, limit = "llmc", 0
    if "--style" in args:
        style = args[args.index("--style") + 1]
    if "--limit" in args:
        limit = int(args[args.index("--limit") + 1])
    m, enc = load(args[0]), libtt.gpt2()
    ctxmax = m.config.n_positions
    for idx, (ctx, ends, label) in enumerate(read_items(args[1], style, limit)):
        losses, ntok = [], []
        for e in ends:
            c = enc.encode_ordinary(ctx)
            if style == "llmc":
                cont = enc.encode_ordinary(" " + e)
            else:
                whole = enc.encode_ordinary(ctx + " " + e)
                cont = whole[len(c):]
            seq = (c + cont)[-(ctxmax + 1):]
            x = torch.tensor([seq[:-1]])
            with torch.no_grad():
                lp = torch.log_softmax(m(x).logits.double(), -1)[0]
            tgt = torch.tensor(seq[1:])
            tok_lp = lp.gather(-1, tgt[:, None])[:, 0]
            losses.append(-float(tok_lp[-len(cont):].sum()))
            ntok.append(len(cont))
        nchar = [len(e) for e in ends]
        norm = [l / (n if style == "llmc" else max(c, 1))
                for l, n, c in zip(losses, ntok, nchar)]
        pred = min(range(4), key=lambda i: (losses[i], i))
        pred_norm = min(range(4), key=lambda i: (norm[i], i))
        print(json.dumps({"index": idx, "label": label, "pred": pred, "pred_norm": pred_norm,
                          "loss": losses, "ntok": ntok, "nchar": nchar}))


def cmd_loss(args):
    import numpy as np, torch
    m = load(args[0])
    T = m.config.n_positions
    total, count = 0.0, 0
    for path in sorted(args[1:]):
        a = np.fromfile(path, dtype=np.uint8)
        hdr = a[:1024].view(np.int32)
        assert hdr[0] == 20240520 and hdr[1] == 1
        toks = a[1024:].view(np.uint16)[:hdr[2]].astype(np.int64)
        for w in range((len(toks) - 1) // T):
            seq = torch.tensor(toks[w * T:w * T + T + 1])
            with torch.no_grad():
                lp = torch.log_softmax(m(seq[None, :-1]).logits.double(), -1)[0]
            total += -float(lp.gather(-1, seq[1:, None])[:, 0].sum())
            count += T
    print(json.dumps({"loss": total / count, "tokens": count}))


def cmd_generate(args):
    import torch
    import transformers.generation.utils as gu
    # Debian's torch 1.13 under Python 3.11 cannot import torch.distributed.fsdp,
    # which generate() only probes for; no FSDP here
    gu.is_fsdp_managed_module = lambda module: False
    m, enc = load(args[0]), libtt.gpt2()
    ids = enc.encode(args[1], allowed_special={"<|endoftext|>"})
    out = m.generate(torch.tensor([ids]), do_sample=False, max_new_tokens=int(args[2]),
                     pad_token_id=50256, attention_mask=torch.ones(1, len(ids), dtype=torch.long))
    print(" ".join(str(t) for t in out[0, len(ids):].tolist()))


def cmd_batch(args):
    import contextlib, shlex
    for line in open(args[0], encoding="utf-8"):
        words = shlex.split(line)
        if not words:
            continue
        with open(words[0], "w", encoding="utf-8") as out, contextlib.redirect_stdout(out):
            COMMANDS[words[1]](words[2:])


COMMANDS = {"model": cmd_model, "hellaswag": cmd_hellaswag, "loss": cmd_loss,
            "generate": cmd_generate, "batch": cmd_batch}

if __name__ == "__main__":
    COMMANDS[sys.argv[1]](sys.argv[2:])
