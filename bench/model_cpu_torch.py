#!/usr/bin/env python3
"""model_cpu_torch.py -- PyTorch's side of bench/model-cpu.sh: the same model
(t/py/model_ref.py's explicit implementation, float32, CPU), the same batch
shape, forward + backward + clip + torch.optim.AdamW, timed the same way
(one warm-up step, median of STEPS).

    model_cpu_torch.py CONFIG_JSON B T STEPS THREADS
"""
import json
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "t", "py"))
from model_ref import Ref  # noqa: E402


def shapes(cfg, vp):
    L, C, F = cfg["n_layer"], cfg["d_model"], cfg["d_ff"]
    norms = cfg["norm"] != "none"
    nb = norms and cfg["family"] == "gpt2" and cfg["bias"]
    bias, gated = cfg["bias"], cfg["mlp"] == "swiglu"
    s = {"wte": (vp, C)}
    if cfg["positions"] == "learned":
        s["wpe"] = (cfg["ctx"], C)
    for l in range(L):
        h = "h.%d." % l
        layer = {"qkvw": (3 * C, C), "attprojw": (C, C), "fcw": (F, C), "fcprojw": (C, F)}
        if norms:
            layer.update({"ln1w": (C,), "ln2w": (C,)})
        if nb:
            layer.update({"ln1b": (C,), "ln2b": (C,)})
        if bias:
            layer.update({"qkvb": (3 * C,), "attprojb": (C,), "fcb": (F,), "fcprojb": (C,)})
        if gated:
            layer["fcgw"] = (F, C)
            if bias:
                layer["fcgb"] = (F,)
        s.update({h + k: v for k, v in layer.items()})
    if norms:
        s["lnfw"] = (C,)
        if nb:
            s["lnfb"] = (C,)
    if not cfg["tied_head"]:
        s["lm_head"] = (vp, C)
    return s


def main():
    cfg = json.loads(open(sys.argv[1]).read())
    B, T, steps, threads = (int(x) for x in sys.argv[2:6])
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    vp = (cfg["vocab_size"] + 127) // 128 * 128
    params = {}
    for name, shp in shapes(cfg, vp).items():
        p = torch.randn(*shp) * 0.02 if len(shp) == 2 else torch.ones(*shp)
        params[name] = p.requires_grad_(True)
    model = Ref(cfg, vp, params)
    decay = [p for p in params.values() if p.dim() == 2]
    other = [p for p in params.values() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                             {"params": other, "weight_decay": 0.0}],
                            lr=1e-4, betas=(0.9, 0.95), eps=1e-8)
    data = torch.randint(0, cfg["vocab_size"], (B * T + 1,))
    x, y = data[:-1].view(B, T), data[1:].view(B, T)
    times = []
    for s in range(steps + 1):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        _, loss = model.forward(x, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(list(params.values()), 1.0)
        opt.step()
        times.append(time.perf_counter() - t0)
    med = statistics.median(times[1:])
    n = sum(p.numel() for p in params.values())
    print("params=%d ms_per_step=%.1f tok_per_s=%.0f loss=%.4f" % (n, med * 1e3, B * T / med,
                                                                  loss.item()))


if __name__ == "__main__":
    main()
