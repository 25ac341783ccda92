# bench/random_gpt2.py — a transformers GPT-2 with random weights (seed 0), saved
# with save_pretrained, for the benchmarks that run lmpipe and transformers on
# the same model.
#
#   python bench/random_gpt2.py DIR LAYERS WIDTH HEADS
import sys, torch
from transformers import GPT2Config, GPT2LMHeadModel

torch.manual_seed(0)
_, d, L, C, NH = sys.argv
GPT2LMHeadModel(GPT2Config(n_layer=int(L), n_embd=int(C), n_head=int(NH))).save_pretrained(d)
