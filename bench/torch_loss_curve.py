# bench/torch_loss_curve.py — the reference loss curve for lm-train: the PyTorch
# GPT-2 of bench/torch_gpt2_bench.py (its classes, taken from that
# file as they are), started from an lm-train checkpoint's weights and trained
# on the very batches lm-train trains on (test-tool loader --dump), with
# lm-train's optimizer: AdamW (0.9, 0.95, eps 1e-8), weight decay 0.1 on the
# 2-D tensors only, global-norm clipping at 1.0, lm-train's warmup + cosine
# schedule. On CUDA the step runs under bf16 autocast, as in the benchmark;
# on the CPU in fp32. Prints one line a step: "step N loss L".
#
#   python3 bench/torch_loss_curve.py BENCH_PY CKPT BATCHES MICRO_BATCH ACCUM STEPS
#           LR_MAX LR_MIN WARMUP COSINE_STEPS cpu|cuda [MODEL]
#
# MODEL is the benchmark's size name (gpt2, gpt2m, gpt2l, gpt2xl); the model
# is T = 1024 with the vocabulary padded to 50304 (rows past the checkpoint's
# 50257 start at zero, like lm-train's padding; the softmax here spans them,
# lm-train's does not: about 1e-3 on the first losses). A PyTorch older than
# 2.0 (Debian's 1.13, for a check on the CPU) gets a plain causal attention
# in place of F.scaled_dot_product_attention.
import math, sys
import numpy as np, torch
from safetensors.torch import load_file


def plain_sdpa(q, k, v, is_causal=True):
    """Causal attention for a PyTorch without F.scaled_dot_product_attention (< 2.0)."""
    T = q.size(-2)
    att = (q @ k.transpose(-2, -1)) / math.sqrt(q.size(-1))
    mask = torch.ones(T, T, dtype=torch.bool, device=q.device).tril()
    return att.masked_fill(~mask, float("-inf")).softmax(-1) @ v


def bench_classes(path, model):
    """The model classes of the benchmark script: its text up to where it builds the model."""
    src = open(path).read()
    src = src[:src.index("\nm = (")]
    saved, sys.argv = sys.argv, ["torch_gpt2_bench.py", model, "1", "eager", "gpt2"]
    env = {"__name__": "torch_gpt2_bench"}
    if not hasattr(torch.nn.functional, "scaled_dot_product_attention"):
        torch.nn.functional.scaled_dot_product_attention = plain_sdpa
    exec(compile(src, path, "exec"), env)
    sys.argv = saved
    return env


def load_checkpoint(m, path):
    """lm-train's checkpoint (transformers GPT-2 names, Conv1D (in, out) layout) into m."""
    w = load_file(path)
    t = lambda k: w["transformer." + k]
    with torch.no_grad():
        v = t("wte.weight").shape[0]
        m.wte.weight.zero_()
        m.wte.weight[:v] = t("wte.weight")
        m.wpe.weight.copy_(t("wpe.weight"))
        for i, b in enumerate(m.h):
            p = "h.%d." % i
            b.ln1.weight.copy_(t(p + "ln_1.weight")); b.ln1.bias.copy_(t(p + "ln_1.bias"))
            b.attn.weight.copy_(t(p + "attn.c_attn.weight").T); b.attn.bias.copy_(t(p + "attn.c_attn.bias"))
            b.proj.weight.copy_(t(p + "attn.c_proj.weight").T); b.proj.bias.copy_(t(p + "attn.c_proj.bias"))
            b.ln2.weight.copy_(t(p + "ln_2.weight")); b.ln2.bias.copy_(t(p + "ln_2.bias"))
            b.fc.weight.copy_(t(p + "mlp.c_fc.weight").T); b.fc.bias.copy_(t(p + "mlp.c_fc.bias"))
            b.fc2.weight.copy_(t(p + "mlp.c_proj.weight").T); b.fc2.bias.copy_(t(p + "mlp.c_proj.bias"))
        m.lnf.weight.copy_(t("ln_f.weight")); m.lnf.bias.copy_(t("ln_f.bias"))


def lr_at(it, lr_max, lr_min, warmup, cosine):
    """share/optim/schedule.c's lr_at."""
    if it < warmup:
        return lr_max * it / warmup
    if it <= cosine:
        span = cosine - warmup
        progress = (it - warmup) / span if span > 0 else 1.0
        return lr_min + 0.5 * (1.0 + math.cos(math.pi * progress)) * (lr_max - lr_min)
    return lr_min


def main():
    bench, ckpt, batches = sys.argv[1:4]
    B, accum, steps = (int(a) for a in sys.argv[4:7])
    lr_max, lr_min = float(sys.argv[7]), float(sys.argv[8])
    warmup, cosine = int(sys.argv[9]), int(sys.argv[10])
    device = sys.argv[11]
    model = sys.argv[12] if len(sys.argv) > 12 else "gpt2"
    env = bench_classes(bench, model)
    T = env["T"]
    torch.manual_seed(0)
    m = env["GPT"]().to(device)
    load_checkpoint(m, ckpt)
    decay = [p for p in m.parameters() if p.dim() >= 2]
    no_decay = [p for p in m.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=lr_max, betas=(0.9, 0.95), eps=1e-8)
    data = np.memmap(batches, dtype=np.int32, mode="r")
    per = 2 * B * T
    if data.size < per * accum * steps:
        sys.exit("torch_loss_curve.py: %s holds %d batches, %d needed"
                 % (batches, data.size // per, accum * steps))
    for step in range(steps):
        opt.zero_grad(set_to_none=True)
        total = 0.0
        for a in range(accum):
            k = (step * accum + a) * per
            x = torch.from_numpy(np.array(data[k:k + B * T], dtype=np.int64)).view(B, T).to(device)
            y = torch.from_numpy(np.array(data[k + B * T:k + per], dtype=np.int64)).view(B, T).to(device)
            with torch.autocast(device, dtype=torch.bfloat16, enabled=device == "cuda"):
                loss = m(x, y)
            (loss / accum).backward()
            total += loss.item()
        torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
        for g in opt.param_groups:
            g["lr"] = lr_at(step, lr_max, lr_min, warmup, cosine)
        opt.step()
        print("step %d loss %.6f" % (step + 1, total / accum), flush=True)


main()
