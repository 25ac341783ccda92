#!/usr/bin/env python3
"""model_ref.py -- an independent PyTorch implementation of lmpipe's model,
written for the parity tests: both families (gpt2, llama) and every ablation
switch, spelled out op by op (no transformers, no nn.Transformer).

    model_ref.py DIR... [--tol 1e-5] [--lr 1e-3] [--eps 1e-2] [-v]

DIR holds what `test-tool model` wrote: init.safetensors (our parameters under
our tensor names, the batch, the config in the metadata), forward.safetensors,
grads.safetensors and after.safetensors. This script rebuilds the model in
float64 from the same initial weights and checks, tensor by tensor, the
logits, the loss, the gradient of every parameter, and every parameter after
the same training steps (forward, backward, clip_grad_norm_ 1.0,
torch.optim.AdamW). Exit status 0 only when every check passes.

The measure: rel = max|ours - ref| / max|ref|, per tensor. The reference runs
in float64, so rel is the C code's own float32 error, which is about
sqrt(depth) * 1e-7 for these tiny models; 1e-5 leaves a margin of 10-100x
while any wrong formula (a missing bias, a transposed matrix, a wrong
normalization, an off-by-one in the mask) gives rel of 1e-3 to 1.

The training steps are compared with a large AdamW epsilon (--eps 1e-2, the
test's choice): Adam divides by sqrt(v), which turns a gradient element that
is tiny next to its tensor's largest (or mathematically zero and float noise
in both, like the key bias's: softmax ignores a per-query constant) into a
full-size step, so with eps 1e-8 the float32 noise of such elements becomes
an O(lr) difference in the weights whatever the implementation. With a
large eps the update is a smooth function of the gradient (Lipschitz 1/eps)
and the comparison measures the chain, not that amplification. The AdamW
formula itself, at its default eps, is checked alone on identical gradients
(t3001).
"""
import argparse
import json
import math
import sys

import torch
from safetensors.torch import load_file
from safetensors import safe_open


def metadata(path):
    with safe_open(path, framework="pt") as f:
        return f.metadata()


class Ref:
    def __init__(self, cfg, vp, params):
        self.cfg = cfg
        self.L, self.C, self.NH = cfg["n_layer"], cfg["d_model"], cfg["n_head"]
        self.HS = self.C // self.NH
        self.V, self.Vp = cfg["vocab_size"], vp
        self.layernorm = cfg["family"] == "gpt2"   # the family picks the norm kind
        self.eps = cfg["norm_eps"]
        self.p = params

    def get(self, name, layer=None):
        key = name if layer is None else "h.%d.%s" % (layer, name)
        return self.p.get(key)

    def norm(self, x, w, b):
        if self.layernorm:
            mu = x.mean(-1, keepdim=True)
            var = ((x - mu) ** 2).mean(-1, keepdim=True)
            y = (x - mu) / torch.sqrt(var + self.eps) * w
            return y + b if b is not None else y
        return x / torch.sqrt((x * x).mean(-1, keepdim=True) + self.eps) * w

    def linear(self, x, w, b):
        y = x @ w.t()
        return y + b if b is not None else y

    def rope(self, x):  # x (B, NH, T, HS); rotate adjacent pairs (2i, 2i+1)
        T, HS = x.shape[2], x.shape[3]
        i = torch.arange(HS // 2, dtype=torch.float64)
        inv = self.cfg["rope_theta"] ** (-2.0 * i / HS)
        ang = torch.arange(T, dtype=torch.float64)[:, None] * inv[None, :]  # (T, HS/2)
        cos, sin = torch.cos(ang).to(x.dtype), torch.sin(ang).to(x.dtype)
        x0, x1 = x[..., 0::2], x[..., 1::2]
        y0 = x0 * cos - x1 * sin
        y1 = x0 * sin + x1 * cos
        return torch.stack([y0, y1], dim=-1).flatten(-2)

    def attention(self, x, l):
        B, T, C = x.shape
        qkv = self.linear(x, self.get("qkvw", l), self.get("qkvb", l))
        q, k, v = qkv.split(C, dim=-1)
        heads = lambda t: t.view(B, T, self.NH, self.HS).transpose(1, 2)
        q, k, v = heads(q), heads(k), heads(v)
        if self.cfg["positions"] == "rope":
            q, k = self.rope(q), self.rope(k)
        s = (q @ k.transpose(-1, -2)) / math.sqrt(self.HS)
        mask = torch.ones(T, T, dtype=torch.bool).tril()
        s = s.masked_fill(~mask, float("-inf"))
        y = torch.softmax(s, dim=-1) @ v
        y = y.transpose(1, 2).reshape(B, T, C)
        return self.linear(y, self.get("attprojw", l), self.get("attprojb", l))

    def mlp(self, x, l):
        a = self.linear(x, self.get("fcw", l), self.get("fcb", l))
        kind = self.cfg["mlp"]
        if kind == "gelu":
            h = 0.5 * a * (1 + torch.tanh(math.sqrt(2 / math.pi) * (a + 0.044715 * a ** 3)))
        elif kind == "silu":
            h = a * torch.sigmoid(a)
        else:  # swiglu: silu(W1 x) * W3 x
            h = a * torch.sigmoid(a) * self.linear(x, self.get("fcgw", l), self.get("fcgb", l))
        return self.linear(h, self.get("fcprojw", l), self.get("fcprojb", l))

    def forward(self, inputs, targets):
        B, T = inputs.shape
        x = self.get("wte")[inputs]
        if self.cfg["positions"] == "learned":
            x = x + self.get("wpe")[:T]
        place = self.cfg["norm"]
        for l in range(self.L):
            n1 = lambda t: self.norm(t, self.get("ln1w", l), self.get("ln1b", l))
            n2 = lambda t: self.norm(t, self.get("ln2w", l), self.get("ln2b", l))
            if place == "pre":
                x = x + self.attention(n1(x), l)
                x = x + self.mlp(n2(x), l)
            elif place == "post":
                x = n1(x + self.attention(x, l))
                x = n2(x + self.mlp(x, l))
            else:
                x = x + self.attention(x, l)
                x = x + self.mlp(x, l)
        if place != "none":
            x = self.norm(x, self.get("lnfw"), self.get("lnfb"))
        head = self.get("wte") if self.cfg["tied_head"] else self.get("lm_head")
        logits = x @ head.t()                          # (B, T, Vp)
        real = logits[..., : self.V]                   # the padding stays out
        loss = torch.nn.functional.cross_entropy(real.reshape(-1, self.V), targets.reshape(-1))
        return logits, loss


class Checker:
    def __init__(self, tol):
        self.tol, self.failed, self.count, self.worst = tol, 0, 0, 0.0

    def check(self, what, ours, ref):
        ours, ref = ours.double(), ref.detach().double()
        if ours.shape != ref.shape:
            print("FAIL %-28s shape %s != %s" % (what, tuple(ours.shape), tuple(ref.shape)))
            self.failed += 1
            return
        scale = ref.abs().max().item()
        err = (ours - ref).abs().max().item()
        rel = err / scale if scale > 0 else err
        self.count += 1
        self.worst = max(self.worst, rel)
        bad = not (rel <= self.tol)
        self.failed += bad
        if bad or VERBOSE:
            print("%s %-28s rel %.2e (max|ref| %.3g)" % ("FAIL" if bad else "ok  ", what, rel, scale))

    def exact_zero(self, what, t):
        self.count += 1
        if t.abs().max().item() != 0:
            print("FAIL %-28s not exactly zero" % what)
            self.failed += 1


VERBOSE = False


def main():
    global VERBOSE
    ap = argparse.ArgumentParser()
    ap.add_argument("dirs", nargs="+")
    ap.add_argument("--tol", type=float, default=1e-5)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--eps", type=float, default=1e-8)
    ap.add_argument("-v", action="store_true")
    a = ap.parse_args()
    VERBOSE = a.v
    torch.set_num_threads(1)
    return max(check_dir(d, a) for d in a.dirs)


def check_dir(d, a):
    meta = metadata(d + "/init.safetensors")
    cfg, vp = json.loads(meta["config"]), int(meta["padded_vocab"])
    init = load_file(d + "/init.safetensors")
    fwd = load_file(d + "/forward.safetensors")
    grads = load_file(d + "/grads.safetensors")
    after = load_file(d + "/after.safetensors")
    inputs = init.pop("inputs").long()
    targets = init.pop("targets").long()
    params = {k: v.double().requires_grad_(True) for k, v in init.items()}
    ref = Ref(cfg, vp, params)
    ck = Checker(a.tol)
    V = cfg["vocab_size"]

    logits, loss = ref.forward(inputs, targets)
    ck.check("logits", fwd["logits"], logits)
    ck.check("loss", fwd["loss"], loss.reshape(1))
    loss.backward()
    if set(grads) != set(params):
        print("FAIL gradient names differ: %s" % sorted(set(grads) ^ set(params)))
        ck.failed += 1
    for name in sorted(params):
        ck.check("grad " + name, grads[name], params[name].grad)
    for name in ("wte", "lm_head"):
        if name in grads:
            ck.exact_zero("grad %s padded rows" % name, grads[name][V:])

    # the same training steps: forward, backward, clip, AdamW (decay on 2-D)
    steps = after["losses"].numel()
    for p in params.values():
        p.grad = None
    decay = [p for p in params.values() if p.dim() == 2]
    no_decay = [p for p in params.values() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=a.lr, betas=(0.9, 0.95), eps=a.eps)
    losses, norms = [], []
    for s in range(steps):
        opt.zero_grad()
        _, loss = ref.forward(inputs, targets)
        loss.backward()
        losses.append(loss.item())
        norms.append(torch.nn.utils.clip_grad_norm_(list(params.values()), 1.0).item())
        opt.step()
    ck.check("losses over %d steps" % steps, after["losses"], torch.tensor(losses))
    ck.check("grad norms over %d steps" % steps, after["grad_norms"], torch.tensor(norms))
    for name in sorted(params):
        ck.check("after %d steps %s" % (steps, name), after[name], params[name])
    for name in ("wte", "lm_head"):
        if name in after:
            ck.exact_zero("after %s padded rows" % name, after[name][V:])

    status = "FAILED" if ck.failed else "passed"
    print("%s %s: %d checks, %d failed, worst rel %.2e (tol %.0e) [%s %s/%s/%s]" % (
        d, status, ck.count, ck.failed, ck.worst, a.tol, cfg["family"], cfg["norm"],
        cfg["positions"], cfg["mlp"]))
    return 1 if ck.failed else 0


if __name__ == "__main__":
    sys.exit(main())
