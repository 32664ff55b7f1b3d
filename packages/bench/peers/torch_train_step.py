"""PyTorch peer of `bench speed train-step`: the same model and step as policy-lab's wasm trainer.

Model: decoder-only transformer, V=64, H=4, L=2 and T=64 unless given, pre-LayerNorm blocks, q/k/v/o without
bias, ReLU MLP of width 4D with biases, learned positions, final LayerNorm, untied output.
Step: forward, PPO-clip loss on the taken tokens' log-probs, backward, Adam.
Usage: python3 torch_train_step.py DIM BATCH [THREADS] [LAYERS] [LENGTH]; prints one JSON line.
"""
import json
import math
import sys
import time

import torch

from blas_check import blas_in_use

dim = int(sys.argv[1]) if len(sys.argv) > 1 else 64
batch = int(sys.argv[2]) if len(sys.argv) > 2 else 32
threads = int(sys.argv[3]) if len(sys.argv) > 3 else 1
layers = int(sys.argv[4]) if len(sys.argv) > 4 else 2
length = int(sys.argv[5]) if len(sys.argv) > 5 else 64
vocab, heads = 64, 4
torch.set_num_threads(threads)
torch.manual_seed(0)


class Block(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.ln1 = torch.nn.LayerNorm(dim)
        self.q = torch.nn.Linear(dim, dim, bias=False)
        self.k = torch.nn.Linear(dim, dim, bias=False)
        self.v = torch.nn.Linear(dim, dim, bias=False)
        self.o = torch.nn.Linear(dim, dim, bias=False)
        self.ln2 = torch.nn.LayerNorm(dim)
        self.up = torch.nn.Linear(dim, 4 * dim)
        self.down = torch.nn.Linear(4 * dim, dim)

    def forward(self, x, mask):
        h = self.ln1(x)
        split = lambda t: t.view(batch, length, heads, dim // heads).transpose(1, 2)
        q, k, v = split(self.q(h)), split(self.k(h)), split(self.v(h))
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(dim // heads) + mask
        y = (scores.softmax(-1) @ v).transpose(1, 2).reshape(batch, length, dim)
        x = x + self.o(y)
        return x + self.down(torch.relu(self.up(self.ln2(x))))


class Policy(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.embedding = torch.nn.Embedding(vocab, dim)
        self.positions = torch.nn.Parameter(torch.randn(length, dim) * 0.02)
        self.blocks = torch.nn.ModuleList([Block() for _ in range(layers)])
        self.final = torch.nn.LayerNorm(dim)
        self.output = torch.nn.Linear(dim, vocab, bias=False)

    def forward(self, ids, mask):
        x = self.embedding(ids) + self.positions
        for block in self.blocks:
            x = block(x, mask)
        return self.output(self.final(x))


model = Policy()
optimizer = torch.optim.Adam(model.parameters(), 1e-3)
mask = torch.triu(torch.full((length, length), -1e9), 1)
ids = torch.randint(0, vocab, (batch, length))
targets = torch.randint(0, vocab, (batch, length))
advantages = torch.randn(batch, 1)
old = torch.zeros(batch, length)


def step():
    logp = torch.log_softmax(model(ids, mask), -1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    ratio = torch.exp(logp - old)
    loss = -torch.min(ratio * advantages, ratio.clamp(0.8, 1.2) * advantages).mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()


for _ in range(2):
    step()
samples, cpu = [], []
for _ in range(10):
    t0, c0 = time.perf_counter(), time.process_time()
    step()
    samples.append((time.perf_counter() - t0) * 1000)
    cpu.append((time.process_time() - c0) * 1000)
samples.sort()
cpu.sort()
ms = samples[len(samples) // 2]
print(json.dumps({**blas_in_use(), "torch": torch.__version__, "threads": threads, "dim": dim, "batch": batch, "layers": layers, "context": length, "msPerStep": ms, "cpuMsPerStep": cpu[len(cpu) // 2], "tokensPerSecond": batch * length / ms * 1000}))
