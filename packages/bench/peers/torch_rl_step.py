"""PyTorch peer of `bench speed rl-step`: one GRPO step on countdown, the same work as policy-lab's.

The step: sample tasksPerStep x G rollouts at temperature 1 with a KV cache, score them with
countdown's rules (correct, format), group-relative advantages (GRPO: sample std, eps added to
the std), then one PPO-clip update (token-mean over the action tokens, entropy and clip metrics
as the trainer computes them, gradient clipping by global norm, Adam).
The model is policy-lab's transformer (packages/trainer/src/model/transformer.ts): pre-LayerNorm
blocks, q/k/v/o without bias, ReLU MLP with biases, learned positions, final LayerNorm, untied
output; weights stored [in, out] so a layer is x @ W.

Usage: python3 torch_rl_step.py FOLDER THREADS MODE
  FOLDER  written by `bench speed rl-step`: spec.json (model, tasks, step settings) and the
          starting weights (a safetensors file, read here without the safetensors package
          unless it is installed); for MODE check also ours.json: our sampled action tokens and
          their sampling log-probs (it also holds our results, which this peer never reads).
  MODE    check: re-score our sampled rollouts (per-sequence log-probs through the KV cache and
          through the training pass, rewards, advantages, loss, gradient norm); no timing.
          time: one untimed warm-up step, then `steps` timed steps from the starting weights.
Prints one JSON line.
"""
import json
import math
import re
import sys
import time

import torch
import torch.nn.functional as F

from blas_check import blas_in_use
from safetensors_file import read_safetensors as read_safetensors_file

NEG_INF = -1e9


def read_safetensors(path):
    """name -> float32 tensor (the safetensors package when installed, else our reader)."""
    try:
        from safetensors.torch import load_file

        return load_file(path)
    except ImportError:
        pass
    return read_safetensors_file(path)


# ---------------------------------------------------------------------------------------------
# Countdown's scoring (packages/envs/src/countdown), ported: a well-formed expression of integers,
# + - * / and parentheses (format), that uses exactly the task's numbers and reaches its target
# (correct). Arithmetic in doubles, as JavaScript's.


def parse_expression(text):
    source = re.sub(r"\s+", "", text)
    position = 0
    numbers = []

    def peek():
        return source[position] if position < len(source) else None

    def expression():
        nonlocal position
        left = term()
        while left is not None and peek() in ("+", "-"):
            op = source[position]
            position += 1
            right = term()
            if right is None:
                return None
            left = left + right if op == "+" else left - right
        return left

    def term():
        nonlocal position
        left = factor()
        while left is not None and peek() in ("*", "/"):
            op = source[position]
            position += 1
            right = factor()
            if right is None:
                return None
            if op == "/" and right == 0:
                return None
            left = left * right if op == "*" else left / right
        return left

    def factor():
        nonlocal position
        if peek() == "(":
            position += 1
            inner = expression()
            if inner is None or peek() != ")":
                return None
            position += 1
            return inner
        match = re.match(r"[0-9]+", source[position:])
        if not match:
            return None
        position += len(match.group(0))
        value = float(match.group(0))
        numbers.append(value)
        return value

    value = expression()
    if value is None or position != len(source) or not math.isfinite(value):
        return None
    return value, numbers


def score_countdown(task, answer):
    parsed = parse_expression(answer)
    if parsed is None:
        return {"correct": 0, "format": 0}
    value, numbers = parsed
    same = sorted(numbers) == sorted(float(n) for n in task["numbers"])
    return {"correct": 1 if same and abs(value - task["target"]) < 1e-9 else 0, "format": 1}


def decode(tokens, vocabulary, specials):
    """The character tokenizer's decode: pad, bos, eos and sep dropped, unk shown as U+FFFD."""
    out = []
    for token in tokens:
        if token == specials["unk"]:
            out.append("\ufffd")
        elif token >= len(specials):
            out.append(vocabulary[token])
    return "".join(out)


def grpo_advantages(rewards, group_size, std_kind, eps):
    out = []
    for start in range(0, len(rewards), group_size):
        group = rewards[start : start + group_size]
        mean = sum(group) / len(group)
        squares = sum((r - mean) ** 2 for r in group)
        denominator = len(group) - 1 if std_kind == "sample" else len(group)
        std = math.sqrt(squares / denominator) if denominator > 0 else 0.0
        out.extend([0.0] * len(group) if std == 0 else [(r - mean) / (std + eps) for r in group])
    return out


# ---------------------------------------------------------------------------------------------
# The policy


class Policy:
    def __init__(self, tensors, model):
        self.vocab = model["vocabSize"]
        self.dim = model["dim"]
        self.layers = model["layers"]
        self.heads = model["heads"]
        self.context = model["contextLength"]
        self.start = {name: tensor.clone() for name, tensor in tensors.items()}
        self.weights = {name: tensor.clone().requires_grad_(True) for name, tensor in tensors.items()}
        self.causal = torch.triu(torch.full((self.context, self.context), NEG_INF), 1)

    def parameters(self):
        return [self.weights[name] for name in sorted(self.weights)]

    def restore(self):
        with torch.no_grad():
            for name, tensor in self.start.items():
                self.weights[name].copy_(tensor)

    def w(self, name):
        return self.weights[name]

    def norm(self, x, name):
        return F.layer_norm(x, (self.dim,), self.w(f"{name}_gain"), self.w(f"{name}_bias"), 1e-5)

    def mlp(self, x, l):
        h = self.norm(x, f"layer{l}.ln2")
        return F.relu(h @ self.w(f"layer{l}.w1") + self.w(f"layer{l}.b1")) @ self.w(f"layer{l}.w2") + self.w(f"layer{l}.b2")

    def split(self, x, rows, length):
        return x.view(rows, length, self.heads, self.dim // self.heads).transpose(1, 2)

    def attend(self, q, k, v, mask):
        scores = (q @ k.transpose(-1, -2)) * (1 / math.sqrt(self.dim // self.heads)) + mask
        return scores.softmax(-1) @ v

    def logits(self, ids):
        """Teacher forcing: next-token logits [rows, T, V] of right-padded ids [rows, T]."""
        rows, length = ids.shape
        x = F.embedding(ids, self.w("token_embedding")) + self.w("position_embedding")[:length]
        mask = self.causal[:length, :length]
        for l in range(self.layers):
            h = self.norm(x, f"layer{l}.ln1")
            q, k, v = (self.split(h @ self.w(f"layer{l}.{p}"), rows, length) for p in ("wq", "wk", "wv"))
            attended = self.attend(q, k, v, mask).transpose(1, 2).reshape(rows, length, self.dim)
            x = x + attended @ self.w(f"layer{l}.wo")
            x = x + self.mlp(x, l)
        return self.norm(x, "ln_final") @ self.w("output")

    @torch.no_grad()
    def generate(self, prompts, max_new, eos, generator=None, forced=None):
        """Sampling at temperature 1 with a KV cache; prompts left-padded, each row's positions
        start at 0 on its first token. `forced` [rows][steps] replaces the draws (the check)."""
        rows = len(prompts)
        longest = max(len(p) for p in prompts)
        max_new = min(max_new, self.context - longest)
        pads = torch.tensor([longest - len(p) for p in prompts])
        ids = torch.tensor([[0] * (longest - len(p)) + list(p) for p in prompts])
        total = longest + max_new
        pad_mask = torch.zeros(rows, 1, 1, total)
        for r in range(rows):
            pad_mask[r, :, :, : int(pads[r])] = NEG_INF
        positions = (torch.arange(longest).unsqueeze(0) - pads.unsqueeze(1)).clamp(min=0)
        x = F.embedding(ids, self.w("token_embedding")) + F.embedding(positions, self.w("position_embedding"))
        mask = self.causal[:longest, :longest] + pad_mask[:, :, :, :longest]
        dh = self.dim // self.heads
        keys = [torch.empty(rows, self.heads, total, dh) for _ in range(self.layers)]
        values = [torch.empty(rows, self.heads, total, dh) for _ in range(self.layers)]
        for l in range(self.layers):
            h = self.norm(x, f"layer{l}.ln1")
            q, k, v = (self.split(h @ self.w(f"layer{l}.{p}"), rows, longest) for p in ("wq", "wk", "wv"))
            keys[l][:, :, :longest] = k
            values[l][:, :, :longest] = v
            attended = self.attend(q, k, v, mask).transpose(1, 2).reshape(rows, longest, self.dim)
            x = x + attended @ self.w(f"layer{l}.wo")
            x = x + self.mlp(x, l)
        logits = self.norm(x[:, -1], "ln_final") @ self.w("output")
        tokens = [[] for _ in range(rows)]
        logprobs = [[] for _ in range(rows)]
        finished = [False] * rows
        for step in range(max_new):
            logp = torch.log_softmax(logits, -1)
            if forced is None:
                drawn = torch.multinomial(logp.exp(), 1, generator=generator).squeeze(1)
            else:
                drawn = torch.tensor([row[step] if step < len(row) else eos for row in forced])
            taken = logp.gather(1, drawn.unsqueeze(1)).squeeze(1).tolist()
            for r, token in enumerate(drawn.tolist()):
                if not finished[r]:
                    tokens[r].append(token)
                    logprobs[r].append(taken[r])
                    finished[r] = token == eos
            if all(finished) or step == max_new - 1:
                break
            position = longest + step
            x = F.embedding(drawn, self.w("token_embedding")) + F.embedding(position - pads, self.w("position_embedding"))
            mask = pad_mask[:, :, :, : position + 1]
            for l in range(self.layers):
                h = self.norm(x, f"layer{l}.ln1")
                q, k, v = (self.split(h @ self.w(f"layer{l}.{p}"), rows, 1) for p in ("wq", "wk", "wv"))
                keys[l][:, :, position : position + 1] = k
                values[l][:, :, position : position + 1] = v
                attended = self.attend(q, keys[l][:, :, : position + 1], values[l][:, :, : position + 1], mask)
                x = x + attended.transpose(1, 2).reshape(rows, self.dim) @ self.w(f"layer{l}.wo")
                x = x + self.mlp(x, l)
            logits = self.norm(x, "ln_final") @ self.w("output")
        return tokens, logprobs


# ---------------------------------------------------------------------------------------------
# The step


def rollouts_of(spec, tokens):
    """Rewards (vectors and weighted scalars) and GRPO advantages of sampled action tokens."""
    specials = spec["specials"]
    weights = spec["rewardWeights"]
    group_size = spec["groupSize"]
    rewards = []
    for i, action in enumerate(tokens):
        task = spec["tasks"][i // group_size]
        text = decode([t for t in action if t != specials["eos"]], spec["vocabulary"], specials)
        rewards.append(score_countdown(task, text))
    scalars = [sum(weights[k] * r[k] for k in weights) for r in rewards]
    advantages = grpo_advantages(scalars, group_size, spec["grpo"]["std"], spec["grpo"]["eps"])
    return rewards, scalars, advantages


def update(policy, optimizer, spec, prompts, tokens, old_logprobs, advantages, record=False):
    """One PPO-clip update on rows prompt + action (loss on the action tokens), as the trainer's."""
    loss_spec = spec["loss"]
    if loss_spec["aggregation"] != "token-mean":
        raise SystemExit(f"aggregation {loss_spec['aggregation']}: this peer implements token-mean only")
    rows = [list(p) + list(a) for p, a in zip(prompts, tokens)]
    length = max(len(r) for r in rows) - 1
    count = len(rows)
    pad = spec["specials"]["pad"]
    inputs = torch.full((count, length), pad, dtype=torch.long)
    targets = torch.full((count, length), pad, dtype=torch.long)
    mask = torch.zeros(count, length)
    old = torch.zeros(count, length)
    adv = torch.zeros(count, length)
    for r, (row, prompt) in enumerate(zip(rows, prompts)):
        n = len(row) - 1
        inputs[r, :n] = torch.tensor(row[:-1])
        targets[r, :n] = torch.tensor(row[1:])
        start = len(prompt) - 1
        mask[r, start:n] = 1
        old[r, start:n] = torch.tensor(old_logprobs[r], dtype=torch.float32)
        adv[r, start:n] = advantages[r]
    all_logprobs = torch.log_softmax(policy.logits(inputs), -1)
    logprobs = all_logprobs.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    ratio = torch.exp(torch.clamp(logprobs - old, -20, 20))
    unclipped = ratio * adv
    clipped = torch.clamp(ratio, 1 - loss_spec["clipLow"], 1 + loss_spec["clipHigh"]) * adv
    per_token = -torch.minimum(unclipped, clipped)
    tokens_trained = torch.clamp(mask.sum(), min=1)
    loss = (per_token * mask).sum() / tokens_trained
    with torch.no_grad():
        # The diagnostics the trainer computes every update: entropy, clip fractions, the clip's entropy bias.
        entropy = (-(all_logprobs.exp() * all_logprobs).sum(-1) * mask).sum() / tokens_trained
        low = ((ratio < 1 - loss_spec["clipLow"]) & (adv < 0)).float()
        high = ((ratio > 1 + loss_spec["clipHigh"]) & (adv > 0)).float()
        blocked = low + high
        removed = unclipped * blocked
        masked_mean = lambda x: (x * mask).sum() / tokens_trained
        centred = logprobs - masked_mean(logprobs)
        share = (removed.abs() * mask).sum() / torch.clamp((unclipped.abs() * mask).sum(), min=1e-12)
        metrics = [masked_mean(low), masked_mean(high), masked_mean(centred * (removed - masked_mean(removed))), share]
    optimizer.zero_grad()
    loss.backward()
    parameters = policy.parameters()
    norm = torch.sqrt(sum((p.grad * p.grad).sum() for p in parameters))
    scale = min(1.0, spec["optimizer"]["gradClip"] / max(float(norm), 1e-12))
    if scale < 1:
        for p in parameters:
            p.grad.mul_(scale)
    optimizer.step()
    out = {"loss": float(loss), "gradNorm": float(norm), "entropy": float(entropy), "trainedTokens": int(mask.sum())}
    names = ("clipFractionLow", "clipFractionHigh", "clipEntropyBias", "clipCorrectionShare")
    out.update({name: float(m) for name, m in zip(names, metrics)})
    if record:
        out["scoredLogprobs"] = (logprobs.detach() * mask).sum(1).tolist()
    return out


def make_optimizer(policy, spec):
    o = spec["optimizer"]
    return torch.optim.Adam(policy.parameters(), lr=o["learningRate"], betas=(o["beta1"], o["beta2"]), eps=o["epsilon"])


def prompts_of(spec):
    return [task["prompt"] for task in spec["tasks"] for _ in range(spec["groupSize"])]


def rl_step(policy, optimizer, spec, generator):
    started = time.perf_counter()
    prompts = prompts_of(spec)
    eos = spec["specials"]["eos"]
    tokens, logprobs = policy.generate(prompts, spec["maxNewTokens"], eos, generator=generator)
    rewards, scalars, advantages = rollouts_of(spec, tokens)
    sampled = time.perf_counter()
    result = update(policy, optimizer, spec, prompts, tokens, logprobs, advantages)
    result["rolloutMs"] = (sampled - started) * 1000
    result["updateMs"] = (time.perf_counter() - sampled) * 1000
    result["generatedTokens"] = sum(len(t) for t in tokens)
    result["meanReward"] = sum(scalars) / len(scalars)
    return result


def main():
    folder, threads, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    torch.set_num_threads(threads)
    with open(f"{folder}/spec.json") as handle:
        spec = json.load(handle)
    policy = Policy(read_safetensors(f"{folder}/{spec['checkpoint']}"), spec["model"])
    out = {"torch": torch.__version__, "threads": torch.get_num_threads(), "mode": mode}
    if mode == "check":
        with open(f"{folder}/ours.json") as handle:
            ours = json.load(handle)
        prompts = prompts_of(spec)
        forced = [e["actionTokens"] for e in ours["episodes"]]
        eos = spec["specials"]["eos"]
        tokens, logprobs = policy.generate(prompts, spec["maxNewTokens"], eos, forced=forced)
        if tokens != forced:
            raise SystemExit("check: the forced decode did not reproduce our action tokens (different stop or length rules)")
        rewards, scalars, advantages = rollouts_of(spec, tokens)
        optimizer = make_optimizer(policy, spec)
        # The update reads our recorded sampling log-probs as the old policy's, as our step did.
        old = [e["logprobs"] for e in ours["episodes"]]
        result = update(policy, optimizer, spec, prompts, tokens, old, advantages, record=True)
        out.update(
            {
                "sampledLogprobs": [sum(l) for l in logprobs],
                "scoredLogprobs": result["scoredLogprobs"],
                "rewards": rewards,
                "scalarRewards": scalars,
                "advantages": advantages,
                "loss": result["loss"],
                "gradNorm": result["gradNorm"],
                "entropy": result["entropy"],
            }
        )
    elif mode == "time":
        generator = torch.Generator().manual_seed(spec["seed"])
        optimizer = make_optimizer(policy, spec)
        rl_step(policy, optimizer, spec, generator)  # warm-up, untimed
        steps = []
        for _ in range(spec.get("steps", 1)):
            policy.restore()
            optimizer = make_optimizer(policy, spec)
            generator = torch.Generator().manual_seed(spec["seed"])
            started = time.perf_counter()
            result = rl_step(policy, optimizer, spec, generator)
            result["ms"] = (time.perf_counter() - started) * 1000
            steps.append(result)
        out["steps"] = steps
    else:
        raise SystemExit(f"unknown mode {mode}: accepted check, time")
    # After the matmuls ran: the BLAS library they called is mapped now.
    out.update(blas_in_use())
    print(json.dumps(out))


if __name__ == "__main__":
    main()
