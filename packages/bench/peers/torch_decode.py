"""PyTorch peer of `bench speed decode`: KV-cache sampling of TOKENS new tokens for BATCH rows
with the same model as torch_train_step.py, after a prompt that fills what the new tokens leave of
CONTEXT (default TOKENS + 1: one prompt token), prefilled in one causal pass.
Usage: python3 torch_decode.py DIM BATCH TOKENS [THREADS] [LAYERS] [CONTEXT]."""
import json
import math
import sys
import time

import torch

from blas_check import blas_in_use

dim = int(sys.argv[1]) if len(sys.argv) > 1 else 64
batch = int(sys.argv[2]) if len(sys.argv) > 2 else 32
tokens = int(sys.argv[3]) if len(sys.argv) > 3 else 64
threads = int(sys.argv[4]) if len(sys.argv) > 4 else 1
layers = int(sys.argv[5]) if len(sys.argv) > 5 else 2
length = int(sys.argv[6]) if len(sys.argv) > 6 else tokens + 1
prompt = length - tokens
vocab, heads = 64, 4
torch.set_num_threads(threads)
torch.manual_seed(0)
dh = dim // heads


def linear(i, o):
    return torch.randn(i, o) * 0.02


weights = [dict(q=linear(dim, dim), k=linear(dim, dim), v=linear(dim, dim), o=linear(dim, dim), up=linear(dim, 4 * dim), upb=torch.zeros(4 * dim), down=linear(4 * dim, dim), downb=torch.zeros(dim)) for _ in range(layers)]
embedding, positions, output = torch.randn(vocab, dim) * 0.02, torch.randn(length, dim) * 0.02, linear(dim, vocab)
norm = lambda x: torch.nn.functional.layer_norm(x, (dim,))


split = lambda t, n: t.view(batch, n, heads, dh).transpose(1, 2)
prompt_ids = torch.randint(0, vocab, (batch, prompt))
causal = torch.triu(torch.full((prompt, prompt), -1e9), 1)


@torch.no_grad()
def prefill():
    """The prompt's keys and values (every position but the last) in one causal pass."""
    x = embedding[prompt_ids[:, :-1]] + positions[: prompt - 1]
    n = prompt - 1
    cache = []
    for w in weights:
        h = norm(x)
        q, k, v = split(h @ w["q"], n), split(h @ w["k"], n), split(h @ w["v"], n)
        cache.append(([k], [v]))
        attention = ((q @ k.transpose(-1, -2)) / math.sqrt(dh) + causal[:n, :n]).softmax(-1)
        x = x + (attention @ v).transpose(1, 2).reshape(batch, n, dim) @ w["o"]
        x = x + torch.relu(norm(x) @ w["up"] + w["upb"]) @ w["down"] + w["downb"]
    return cache


@torch.no_grad()
def decode():
    token = prompt_ids[:, -1]
    cache = prefill() if prompt > 1 else [([], []) for _ in range(layers)]
    for position in range(prompt - 1, prompt - 1 + tokens):
        x = embedding[token] + positions[position]
        for layer, w in enumerate(weights):
            h = norm(x)
            q = (h @ w["q"]).view(batch, heads, 1, dh)
            cache[layer][0].append((h @ w["k"]).view(batch, heads, 1, dh))
            cache[layer][1].append((h @ w["v"]).view(batch, heads, 1, dh))
            keys, values = torch.cat(cache[layer][0], 2), torch.cat(cache[layer][1], 2)
            attention = ((q @ keys.transpose(-1, -2)) / math.sqrt(dh)).softmax(-1)
            x = x + (attention @ values).reshape(batch, dim) @ w["o"]
            x = x + torch.relu(norm(x) @ w["up"] + w["upb"]) @ w["down"] + w["downb"]
        probs = (norm(x) @ output).softmax(-1)
        token = torch.multinomial(probs, 1).squeeze(-1)


decode()
samples, cpu = [], []
for _ in range(5):
    t0, c0 = time.perf_counter(), time.process_time()
    decode()
    samples.append((time.perf_counter() - t0) * 1000)
    cpu.append((time.process_time() - c0) * 1000)
samples.sort()
cpu.sort()
ms = samples[len(samples) // 2]
print(json.dumps({**blas_in_use(), "torch": torch.__version__, "threads": threads, "dim": dim, "batch": batch, "tokens": tokens, "layers": layers, "context": length, "msPerCall": ms, "cpuMsPerCall": cpu[len(cpu) // 2], "tokensPerSecond": batch * tokens / ms * 1000}))
