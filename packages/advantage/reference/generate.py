#!/usr/bin/env python3
"""Reference fixtures for @policy-lab/advantage, computed with the formulas of verl and TRL.

verl and TRL cannot be installed here, so each reference function is written out again below,
step by step in torch, from the source file and commit named in its `SOURCE` entry (read through
the code index; nothing is imported from either project). The cases are batches as those
frameworks see them: padded (bs, T) tensors with a response mask, the outcome reward on the last
response token, a group index per row. Every formula runs in float64.

    /usr/bin/python3 packages/advantage/reference/generate.py          # rewrite the fixtures
    /usr/bin/python3 packages/advantage/reference/generate.py --check  # exit 1 if they differ

Needs Debian's python3-torch (apt-get install python3-torch); no other package.
"""

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import torch

torch.set_default_dtype(torch.float64)
HERE = Path(__file__).resolve().parent

VERL_CORE = {
    "framework": "verl",
    "repo": "verl-project/verl",
    "file": "verl/trainer/ppo/core_algos.py",
    "commit": "018f23b5f83a13340421349e40ec42530739b23a",
}
VERL_FUNCTIONAL = {
    "repo": "verl-project/verl",
    "file": "verl/utils/torch_functional.py",
    "commit": "f6ea48d1900bcb86ca38dec38ae82b36b3468ec3",
    "function": "masked_whiten",
}
TRL_GRPO = {
    "framework": "TRL",
    "repo": "huggingface/trl",
    "file": "trl/trainer/grpo_trainer.py",
    "commit": "d2b69d769dab6f77acbfd33252bcd7d22765571b",
}
# The normalize_then_sum branch was read from a stored copy of TRL's GRPOTrainer whose commit the
# code index did not name; the branch is not in d2b69d7 (older than the option).
TRL_GRPO_MULTI = {
    "framework": "TRL",
    "repo": "huggingface/trl",
    "file": "trl/trainer/grpo_trainer.py",
    "commit": None,
    "note": "commit not pinned: read from a stored copy of GRPOTrainer._generate_and_score_completions with multi_objective_aggregation",
}


# ---------------------------------------------------------------------------------------------
# Batches: a case lists groups of rollouts; each rollout has a reward (a number, or a dict of
# components), action tokens per turn and, for multi-turn cases, observation tokens before each
# later turn. The response row is obs(0) action(0) obs(1) action(1) ... with mask 1 on action
# tokens, then one padding column at least, so every batch has padded masks.


def layout(rollout):
    """Positions of each turn's action tokens in the response row, and the row's length."""
    position = 0
    turns = []
    for k, count in enumerate(rollout["tokens"]):
        if k > 0:
            position += rollout.get("obs", [0] * len(rollout["tokens"]))[k]
        turns.append(list(range(position, position + count)))
        position += count
    return turns, position


def batch(groups, component=None):
    rows = [r for g in groups for r in g]
    index = [gi for gi, g in enumerate(groups) for _ in g]
    layouts = [layout(r) for r in rows]
    width = max(length for _, length in layouts) + 1
    mask = torch.zeros(len(rows), width)
    rewards = torch.zeros(len(rows), width)
    for i, (r, (turns, _)) in enumerate(zip(rows, layouts)):
        for positions in turns:
            for p in positions:
                mask[i, p] = 1.0
        valid = [p for positions in turns for p in positions]
        # verl's reward managers write the score at valid_response_length - 1: index -1 when empty.
        last = valid[-1] if valid else -1
        reward = r["reward"] if component is None else r["reward"][component]
        rewards[i, last] = reward
    return rows, index, layouts, mask, rewards


def per_row(advantages, layouts):
    """The advantage of each row (constant along its tokens for these estimators); None when empty."""
    out = []
    for i, (turns, _) in enumerate(layouts):
        valid = [p for positions in turns for p in positions]
        if not valid:
            out.append(None)
            continue
        values = advantages[i, valid]
        assert float(values.max() - values.min()) < 1e-12, "advantage varies along a row"
        out.append(float(values[0]))
    return out


def regroup(values, groups):
    out, offset = [], 0
    for g in groups:
        out.append(values[offset : offset + len(g)])
        offset += len(g)
    return out


# ---------------------------------------------------------------------------------------------
# verl/utils/torch_functional.py (VERL_FUNCTIONAL)


def masked_sum(values, mask, axis=None):
    valid = torch.where(mask.bool(), values, torch.zeros_like(values))
    return (valid * mask).sum() if axis is None else (valid * mask).sum(axis)


def masked_mean(values, mask, axis=None):
    total = masked_sum(values, mask, axis)
    count = mask.sum() if axis is None else mask.sum(axis)
    return total / (count + 1e-8)


def masked_var(values, mask, unbiased=True):
    mean = masked_mean(values, mask)
    variance = masked_mean((values - mean) ** 2, mask)
    if unbiased:
        n = mask.sum()
        if n == 0 or n == 1:
            raise ValueError("masked_var needs at least two unmasked elements")
        variance = variance * (n / (n - 1))
    return variance


def masked_whiten(values, mask):
    mean, var = masked_mean(values, mask), masked_var(values, mask)
    return (values - mean) * torch.rsqrt(var + 1e-8)


# ---------------------------------------------------------------------------------------------
# verl/trainer/ppo/core_algos.py (VERL_CORE)


def group_rows(index):
    rows = defaultdict(list)
    for i, g in enumerate(index):
        rows[g].append(i)
    return rows


def verl_gae(rewards, values, mask, gamma, lam):
    next_values = torch.zeros(rewards.shape[0])
    last = torch.zeros(rewards.shape[0])
    reversed_advantages = []
    for t in reversed(range(rewards.shape[1])):
        delta = rewards[:, t] + gamma * next_values - values[:, t]
        candidate = delta + gamma * lam * last
        # observation and padding tokens (mask 0) carry the next value and the running advantage through
        next_values = values[:, t] * mask[:, t] + (1 - mask[:, t]) * next_values
        last = candidate * mask[:, t] + (1 - mask[:, t]) * last
        reversed_advantages.append(last)
    advantages = torch.stack(reversed_advantages[::-1], dim=1)
    returns = advantages + values
    return masked_whiten(advantages, mask), returns, advantages


def verl_grpo(rewards, mask, index, epsilon=1e-6, norm_by_std=True):
    scores = rewards.sum(-1)
    mean, std = {}, {}
    for g, rows in group_rows(index).items():
        if len(rows) == 1:
            mean[g], std[g] = torch.tensor(0.0), torch.tensor(1.0)
        else:
            group = torch.stack([scores[i] for i in rows])
            mean[g], std[g] = group.mean(), group.std()
    out = scores.clone()
    for i, g in enumerate(index):
        out[i] = (scores[i] - mean[g]) / (std[g] + epsilon) if norm_by_std else scores[i] - mean[g]
    return out.unsqueeze(-1) * mask


def verl_grpo_passk(rewards, mask, index, epsilon=1e-6, norm_by_std=True):
    scores = rewards.sum(-1)
    out = torch.zeros_like(scores)
    for _, rows in group_rows(index).items():
        group = torch.stack([scores[i] for i in rows])
        top, top_index = torch.topk(group, 2)
        advantage = top[0] - top[1]
        if norm_by_std:
            advantage = advantage / (group.std() + epsilon)
        out[rows[int(top_index[0])]] = advantage
    return out.unsqueeze(-1) * mask


def verl_reinforce_pp_baseline(rewards, mask, index):
    width = rewards.shape[-1]
    scores = rewards.sum(-1)
    mean = {}
    for g, rows in group_rows(index).items():
        mean[g] = torch.tensor(0.0) if len(rows) == 1 else torch.stack([scores[i] for i in rows]).mean()
    centred = torch.stack([scores[i] - mean[g] for i, g in enumerate(index)])
    tiled = centred.unsqueeze(-1).tile([1, width]) * mask
    return masked_whiten(tiled, mask) * mask


def verl_reinforce_pp(rewards, mask, gamma=1.0):
    returns = torch.zeros_like(rewards)
    running = torch.zeros(rewards.shape[0])
    for t in reversed(range(rewards.shape[1])):
        running = rewards[:, t] + gamma * running
        returns[:, t] = running
        running = running * mask[:, t]
    return masked_whiten(returns, mask) * mask


def verl_rloo(rewards, mask, index):
    scores = rewards.sum(-1)
    groups = group_rows(index)
    out = scores.clone()
    for i, g in enumerate(index):
        n = len(groups[g])
        if n > 1:
            group_mean = torch.stack([scores[j] for j in groups[g]]).mean()
            out[i] = scores[i] * n / (n - 1) - group_mean * n / (n - 1)
    return out.unsqueeze(-1) * mask


def verl_rloo_vectorized(rewards, mask, index):
    scores = rewards.sum(-1)
    inverse = torch.tensor(index)
    counts = torch.bincount(inverse)[inverse].to(scores.dtype)
    sums = torch.bincount(inverse, weights=scores)[inverse]
    out = ((counts * scores - sums) / (counts - 1).clamp_min(1)) * (counts > 1)
    return out.unsqueeze(-1) * mask


def verl_opo(rewards, mask, index):
    lengths = mask.sum(-1)
    scores = rewards.sum(-1)
    baseline = {}
    for g, rows in group_rows(index).items():
        if len(rows) == 1:
            baseline[g] = torch.tensor(0.0)
        else:
            s = torch.stack([scores[i] for i in rows])
            n = torch.stack([lengths[i] for i in rows])
            baseline[g] = (n * s).sum() / n.sum()
    out = torch.stack([scores[i] - baseline[g] for i, g in enumerate(index)])
    return out.unsqueeze(-1) * mask


def verl_gpg(rewards, mask, index, f_norm=1.0):
    scores = rewards.sum(-1)
    alpha = scores.shape[0] / torch.count_nonzero(scores).clamp(min=1)
    mean = {}
    for g, rows in group_rows(index).items():
        mean[g] = torch.tensor(0.0) if len(rows) == 1 else torch.stack([scores[i] for i in rows]).mean()
    out = torch.stack([alpha * (scores[i] - mean[g]) / f_norm for i, g in enumerate(index)])
    return out.unsqueeze(-1) * mask


def verl_remax(rewards, reward_baselines, mask):
    returns = (rewards * mask).flip(dims=[-1]).cumsum(dim=-1).flip(dims=[-1])
    return returns - reward_baselines.unsqueeze(-1) * mask


def verl_gdpo(component_rewards, weights, mask, index, epsilon=1e-6):
    total = None
    for rewards, weight in zip(component_rewards, weights):
        normalised = verl_grpo(rewards, mask, index, epsilon=epsilon)
        total = weight * normalised if total is None else total + weight * normalised
    return masked_whiten(total, mask) * mask


def verl_optimal_token_baseline(rewards, mask, index, old_log_probs, sum_pi_squared, zero_tail=True, epsilon=1e-8):
    returns = (rewards * mask).flip(dims=[-1]).cumsum(dim=-1).flip(dims=[-1])
    w = 1 - 2 * torch.exp(old_log_probs) + sum_pi_squared
    cumulative = (w * mask).cumsum(dim=-1)
    baselines = torch.zeros_like(returns)
    for _, rows in group_rows(index).items():
        if len(rows) == 1:
            continue
        rows_t = torch.tensor(rows)
        numerator = (returns[rows_t] * cumulative[rows_t] * mask[rows_t]).sum(0)
        denominator = (cumulative[rows_t] * mask[rows_t]).sum(0) + epsilon
        baselines[rows_t] = (numerator / denominator).unsqueeze(0).expand(len(rows), -1)
        if zero_tail:
            lengths = mask[rows_t].sum(-1)
            ordered, _ = torch.sort(lengths)
            longest, second = int(ordered[-1]), int(ordered[-2])
            holders = (lengths == longest).nonzero(as_tuple=True)[0]
            if holders.numel() == 1 and longest > second:
                baselines[rows[int(holders[0])], second:] = 0.0
    return (returns - baselines) * mask


def verl_tir_optimal_token_baseline(rewards, mask, index, old_log_probs, sum_pi_squared, zero_tail=True, epsilon=1e-8):
    token_returns = (rewards * mask).flip(dims=[-1]).cumsum(dim=-1).flip(dims=[-1])
    w = 1 - 2 * torch.exp(old_log_probs) + sum_pi_squared
    cumulative = (w * mask).cumsum(dim=-1)
    lengths = mask.sum(-1).to(torch.long)
    width = int(lengths.max())
    compact_w = torch.zeros(len(lengths), width)
    compact_returns = torch.zeros(len(lengths), width)
    for i in range(len(lengths)):
        n = int(lengths[i])
        if n == 0:
            continue
        keep = mask[i].bool()
        compact_w[i, :n] = cumulative[i, keep]
        compact_returns[i, :n] = token_returns[i, keep]
    groups = defaultdict(list)
    for i in range(len(lengths)):
        if lengths[i] > 0:
            groups[index[i]].append(i)
    baselines = torch.zeros_like(compact_returns)
    for _, rows in groups.items():
        rows_t = torch.tensor(rows)
        if len(rows) == 1:
            baselines[rows[0]] = 0.0
            continue
        b = (compact_returns[rows_t] * compact_w[rows_t]).sum(0) / (compact_w[rows_t].sum(0) + epsilon)
        baselines[rows_t] = b
        if zero_tail:
            group_lengths = lengths[rows_t]
            ordered, _ = torch.sort(group_lengths)
            longest, second = int(ordered[-1]), int(ordered[-2])
            holders = (group_lengths == longest).nonzero(as_tuple=True)[0]
            if holders.numel() == 1 and longest > second:
                baselines[rows[int(holders[0])], second:] = 0.0
    compact = compact_returns - baselines
    advantages = torch.zeros_like(token_returns)
    for i in range(len(lengths)):
        if lengths[i] == 0:
            continue
        advantages[i, mask[i].bool()] = compact[i, : int(lengths[i])]
    return advantages * mask


# ---------------------------------------------------------------------------------------------
# TRL GRPOTrainer._generate_and_score_completions (TRL_GRPO, TRL_GRPO_MULTI). TRL's groups are
# consecutive blocks of num_generations rows; every case here has one group size.


def trl_grpo(scores, generations, scale=True):
    grouped = scores.view(-1, generations)
    mean = grouped.mean(dim=1).repeat_interleave(generations, dim=0)
    std = grouped.std(dim=1).repeat_interleave(generations, dim=0)
    advantages = scores - mean
    if scale:
        advantages = advantages / (std + 1e-4)
    return advantages


def nanstd(values, dim, keepdim):
    mean = torch.nanmean(values, dim=dim, keepdim=True)
    variance = torch.nanmean((values - mean) ** 2, dim=dim, keepdim=keepdim)
    count = torch.sum(~torch.isnan(values), dim=dim, keepdim=keepdim)
    return torch.sqrt(variance * count / (count - 1))


def trl_normalize_then_sum(per_function, weights, generations):
    functions = per_function.shape[1]
    grouped = per_function.view(-1, generations, functions)
    mean_k = torch.nanmean(grouped, dim=1, keepdim=True)
    std_k = nanstd(grouped, dim=1, keepdim=True)
    normalised = ((grouped - mean_k) / (std_k + 1e-4)).view(-1, functions)
    summed = (normalised * weights.unsqueeze(0)).nansum(dim=1)
    std = summed.std().expand_as(summed)
    return (summed - summed.mean()) / (std + 1e-4)


# ---------------------------------------------------------------------------------------------
# Cases


def ro(reward, tokens, **extra):
    return {"reward": reward, "tokens": tokens if isinstance(tokens, list) else [tokens], **extra}


# G = 2, an all-equal group, padded rows of different lengths.
OUTCOME = [
    ("G=2 and an all-equal group", [[ro(1, 3), ro(0, 5)], [ro(0.5, 2), ro(0.5, 4), ro(0.5, 1)]]),
    (
        "mixed lengths, graded rewards",
        [[ro(0.2, 4), ro(0.9, 1), ro(0.5, 6), ro(0.0, 2)], [ro(1, 2), ro(0, 2), ro(0, 7), ro(1, 3)]],
    ),
    ("binary rewards, G=4", [[ro(1, 2), ro(0, 3), ro(0, 3), ro(1, 5)], [ro(0, 4), ro(0, 1), ro(1, 2), ro(0, 2)]]),
]
EMPTY = ("an empty completion (no action token)", [[ro(1, 2), ro(0, 0), ro(0.5, 3)], [ro(0.3, 2), ro(0.7, 4)]])
SINGLETON = ("a singleton group", [[ro(0.8, 3)], [ro(1, 2), ro(0.25, 5), ro(0, 1)]])
WIDE = ("rewards that differ widely", [[ro(3.5, 2), ro(-1.25, 4), ro(0.75, 1)], [ro(2.0, 3), ro(2.5, 3)]])
TRL_G2 = ("G=2, an all-equal group", [[ro(1, 3), ro(0, 5)], [ro(0.5, 2), ro(0.5, 4)], [ro(0.3, 1), ro(0.9, 2)]])
# GDPO: TRL's groups are blocks of num_generations rows, so every GDPO case has one group size.
GDPO = [
    (
        "two components, G=2, a component all-equal in a group",
        [
            [ro({"correct": 1, "format": 1}, 3), ro({"correct": 0, "format": 1}, 5)],
            [ro({"correct": 1, "format": 0}, 2), ro({"correct": 0, "format": 1}, 4)],
            [ro({"correct": 1, "format": 1}, 1), ro({"correct": 1, "format": 1}, 6)],
        ],
        {"correct": 1.0, "format": 0.5},
    ),
    (
        "graded components, G=3, unequal lengths",
        [
            [ro({"correct": 0.2, "format": 1}, 4), ro({"correct": 0.9, "format": 0}, 1), ro({"correct": 0.4, "format": 1}, 6)],
            [ro({"correct": 1, "format": 0.5}, 2), ro({"correct": 0, "format": 0.25}, 7), ro({"correct": 0.5, "format": 1}, 3)],
        ],
        {"correct": 2.0, "format": 1.0},
    ),
]


def outcome_fixture(estimator, options, compute, cases):
    out = []
    for title, groups in cases:
        rows, index, layouts, mask, rewards = batch(groups)
        out.append(
            {
                "name": title,
                "estimator": estimator,
                "options": options,
                "groups": groups,
                "expected": {"rollout": regroup(per_row(compute(rewards, mask, index), layouts), groups)},
            }
        )
    return out


def otb_fixture(estimator, compute, cases):
    out = []
    for title, groups in cases:
        rows, index, layouts, mask, rewards = batch(groups)
        old_log_probs = torch.zeros_like(mask)
        sum_pi_squared = torch.zeros_like(mask)
        for i, (r, (turns, _)) in enumerate(zip(rows, layouts)):
            for k, positions in enumerate(turns):
                for s, p in enumerate(positions):
                    old_log_probs[i, p] = r["logprobs"][k][s]
                    sum_pi_squared[i, p] = r["sumPiSquared"][k][s]
                    # a real distribution has sum_v pi(v)^2 >= pi(sampled)^2, so w >= (1 - pi)^2 >= 0
                    assert r["sumPiSquared"][k][s] >= torch.exp(torch.tensor(r["logprobs"][k][s])) ** 2
        advantages = compute(rewards, mask, index, old_log_probs, sum_pi_squared)
        tokens = [[float(advantages[i, t]) for t in range(length)] for i, (_, length) in enumerate(layouts)]
        out.append(
            {
                "name": title,
                "estimator": estimator,
                "options": {"sumPiSquared": "meta"},
                "groups": groups,
                "expected": {"tokens": regroup(tokens, groups)},
            }
        )
    return out


def tr(reward, logprobs, squares, obs=None):
    r = {"reward": reward, "tokens": [len(t) for t in logprobs], "logprobs": logprobs, "sumPiSquared": squares}
    if obs is not None:
        r["obs"] = obs
    return r


OTB_CASES = [
    (
        "one turn each, unequal lengths (zero tail)",
        [
            [
                tr(1, [[-0.1, -0.7, -1.2]], [[0.82, 0.3, 0.2]]),
                tr(0, [[-0.4, -2.0]], [[0.5, 0.15]]),
                tr(0.5, [[-0.05, -0.3, -0.9, -1.5, -0.2]], [[0.91, 0.6, 0.25, 0.1, 0.7]]),
            ],
            [tr(1, [[-0.2, -0.2]], [[0.7, 0.7]]), tr(0, [[-1.0, -0.5]], [[0.3, 0.4]])],
        ],
    ),
    (
        "two turns with observation tokens between them, a singleton group, an empty completion",
        [
            [
                tr(1, [[-0.3, -0.6], [-0.1]], [[0.55, 0.35], [0.85]], obs=[0, 2]),
                tr(0, [[-0.9], [-0.2, -0.4]], [[0.2], [0.7, 0.5]], obs=[0, 3]),
                tr(0.5, [[]], [[]]),
            ],
            [tr(0.25, [[-0.5, -0.25, -0.75]], [[0.4, 0.65, 0.3]])],
        ],
    ),
]


def remax_fixture():
    """ReMax's baseline is the reward of one greedy decode per prompt (`greedy`, one per group)."""
    cases = [(OUTCOME[0], [0.5, 1.0]), (OUTCOME[1], [0.0, 1.0]), (SINGLETON, [0.8, 0.2]), (EMPTY, [0.0, 0.5])]
    out = []
    for (title, groups), greedy in cases:
        _, index, layouts, mask, rewards = batch(groups)
        baselines = torch.tensor([greedy[g] for g in index])
        out.append(
            {
                "name": title,
                "estimator": "remax",
                "options": {},
                "groups": groups,
                "greedy": greedy,
                "expected": {"rollout": regroup(per_row(verl_remax(rewards, baselines, mask), layouts), groups)},
            }
        )
    return out


def gae_fixture():
    """Single-token turns make verl's token GAE equal to GAE over turns for any gamma and lambda;
    with gamma = lambda = 1 the equality holds for turns of any length when a turn's value is the
    same on each of its tokens."""
    cases = [
        (
            "one-token turns, gamma 0.9, lambda 0.95",
            {"gamma": 0.9, "lambda": 0.95},
            [
                [
                    {"turnRewards": [0.0, 0.0, 1.0], "values": [0.2, 0.5, 0.7], "tokens": [1, 1, 1], "obs": [0, 2, 1]},
                    {"turnRewards": [0.5], "values": [0.1], "tokens": [1]},
                ],
                [{"turnRewards": [0.0, -0.5], "values": [0.4, -0.2], "tokens": [1, 1], "obs": [0, 4]}],
            ],
        ),
        (
            "multi-token turns, gamma = lambda = 1",
            {"gamma": 1.0, "lambda": 1.0},
            [
                [
                    {"turnRewards": [0.0, 1.0], "values": [0.3, 0.6], "tokens": [3, 2], "obs": [0, 2]},
                    {"turnRewards": [0.25], "values": [0.5], "tokens": [4]},
                    {"turnRewards": [0.0, 0.0], "values": [0.1, 0.2], "tokens": [2, 0], "obs": [0, 1]},
                ],
                [
                    {"turnRewards": [1.0], "values": [0.9], "tokens": [1]},
                    {"turnRewards": [0.0, 0.0, 0.5], "values": [0.0, 0.4, 0.45], "tokens": [2, 1, 3], "obs": [0, 1, 2]},
                ],
            ],
        ),
    ]
    out = []
    for title, options, groups in cases:
        rows = [r for g in groups for r in g]
        for r in rows:
            r["reward"] = sum(r["turnRewards"])
        _, index, layouts, mask, _ = batch(groups)
        width = mask.shape[1]
        rewards = torch.zeros(len(rows), width)
        values = torch.full((len(rows), width), 7.0)  # observation and padding values are skipped
        for i, (r, (turns, _)) in enumerate(zip(rows, layouts)):
            for k, positions in enumerate(turns):
                for p in positions:
                    values[i, p] = r["values"][k]
                if positions:
                    rewards[i, positions[-1]] += r["turnRewards"][k]
                else:
                    # a turn without tokens: its reward joins the next token that exists (none here)
                    assert r["turnRewards"][k] == 0.0
        whitened, returns, raw = verl_gae(rewards, values, mask, options["gamma"], options["lambda"])
        expected_turns, expected_returns = [], []
        for i, (turns, _) in enumerate(layouts):
            row_turns, row_returns = [], []
            for positions in turns:
                if not positions:
                    row_turns.append(None)
                    row_returns.append(None)
                    continue
                values_here = whitened[i, positions]
                assert float(values_here.max() - values_here.min()) < 1e-12, "advantage varies along a turn"
                row_turns.append(float(values_here[0]))
                row_returns.append(float(returns[i, positions[0]]))
            expected_turns.append(row_turns)
            expected_returns.append(row_returns)
        out.append(
            {
                "name": title,
                "estimator": "ppo-gae",
                "options": options,
                "groups": groups,
                "expected": {"turns": regroup(expected_turns, groups), "returns": regroup(expected_returns, groups)},
            }
        )
    return out


def gdpo_fixture(flavour):
    out = []
    for title, groups, weights in GDPO:
        names = list(weights)
        if flavour == "verl":
            components = [batch(groups, component=name) for name in names]
            _, index, layouts, mask, _ = components[0]
            advantages = verl_gdpo([c[4] for c in components], [weights[n] for n in names], mask, index)
            rows = per_row(advantages, layouts)
        else:
            flat = [r for g in groups for r in g]
            per_function = torch.tensor([[float(r["reward"][n]) for n in names] for r in flat])
            rows = trl_normalize_then_sum(per_function, torch.tensor([weights[n] for n in names]), len(groups[0])).tolist()
        out.append(
            {
                "name": title,
                "estimator": "gdpo",
                "options": {"flavour": flavour, "weights": weights},
                "groups": groups,
                "expected": {"rollout": regroup(rows, groups)},
            }
        )
    return out


def trl_grpo_fixture():
    out = []
    for title, groups in [TRL_G2, OUTCOME[1], OUTCOME[2]]:
        assert len({len(g) for g in groups}) == 1, "TRL groups are blocks of one size"
        scores = torch.tensor([float(r["reward"]) for g in groups for r in g])
        for estimator, options, scale in [("grpo", {}, True), ("grpo", {"scale": "none"}, False), ("dr-grpo", {}, False)]:
            out.append(
                {
                    "name": f"{title}, scale_rewards={'group' if scale else 'none'}",
                    "estimator": estimator,
                    "options": options,
                    "groups": groups,
                    "expected": {"rollout": regroup(trl_grpo(scores, len(groups[0]), scale).tolist(), groups)},
                }
            )
    return out


def fixtures():
    grpo_cases = OUTCOME + [WIDE]
    verl = lambda function, **extra: {**VERL_CORE, "function": function, **extra}  # noqa: E731
    whiten_helper = {"helpers": [VERL_FUNCTIONAL]}
    return {
        "verl-grpo": (
            verl("compute_grpo_outcome_advantage"),
            outcome_fixture("grpo", {"eps": 1e-6}, lambda r, m, i: verl_grpo(r, m, i), grpo_cases + [EMPTY])
            + outcome_fixture(
                "grpo", {"scale": "none"}, lambda r, m, i: verl_grpo(r, m, i, norm_by_std=False), grpo_cases
            )
            + outcome_fixture("dr-grpo", {}, lambda r, m, i: verl_grpo(r, m, i, norm_by_std=False), grpo_cases),
        ),
        "trl-grpo": (
            {**TRL_GRPO, "function": "GRPOTrainer._generate_and_score_completions"},
            trl_grpo_fixture(),
        ),
        "verl-grpo-passk": (
            verl("compute_grpo_passk_outcome_advantage"),
            outcome_fixture("grpo-passk", {}, lambda r, m, i: verl_grpo_passk(r, m, i), grpo_cases)
            + outcome_fixture(
                "grpo-passk", {"normalise": False}, lambda r, m, i: verl_grpo_passk(r, m, i, norm_by_std=False), grpo_cases
            ),
        ),
        "verl-rloo": (
            verl("compute_rloo_outcome_advantage"),
            outcome_fixture("rloo", {}, verl_rloo, grpo_cases + [EMPTY]),
        ),
        "verl-rloo-vectorized": (
            verl("compute_rloo_vectorized_outcome_advantage"),
            outcome_fixture("rloo-vectorized", {}, verl_rloo_vectorized, grpo_cases + [SINGLETON]),
        ),
        "verl-reinforce-pp": (
            verl("compute_reinforce_plus_plus_outcome_advantage", **whiten_helper),
            outcome_fixture("reinforce-pp", {}, lambda r, m, i: verl_reinforce_pp(r, m), grpo_cases + [EMPTY, SINGLETON]),
        ),
        "verl-reinforce-pp-baseline": (
            verl("compute_reinforce_plus_plus_baseline_outcome_advantage", **whiten_helper),
            outcome_fixture("reinforce-pp-baseline", {}, verl_reinforce_pp_baseline, grpo_cases + [EMPTY]),
        ),
        "verl-opo": (
            verl("compute_opo_outcome_advantage"),
            outcome_fixture("opo", {}, verl_opo, grpo_cases + [EMPTY, SINGLETON]),
        ),
        "verl-gpg": (
            verl("compute_gpg_outcome_advantage"),
            outcome_fixture("gpg", {}, verl_gpg, grpo_cases + [EMPTY, SINGLETON]),
        ),
        "verl-remax": (verl("compute_remax_outcome_advantage"), remax_fixture()),
        "verl-gdpo": (verl("compute_gdpo_outcome_advantage", **whiten_helper), gdpo_fixture("verl")),
        "trl-gdpo": ({**TRL_GRPO_MULTI, "function": "GRPOTrainer._generate_and_score_completions"}, gdpo_fixture("trl")),
        "verl-gae": (verl("compute_gae_advantage_return", **whiten_helper), gae_fixture()),
        "verl-optimal-token-baseline": (
            verl("compute_optimal_token_baseline_advantage"),
            otb_fixture("optimal-token-baseline", verl_optimal_token_baseline, OTB_CASES),
        ),
        "verl-tir-optimal-token-baseline": (
            verl("compute_multi_turn_optimal_token_baseline_advantage"),
            otb_fixture("tir-optimal-token-baseline", verl_tir_optimal_token_baseline, OTB_CASES),
        ),
    }


def rounded(value):
    """12 significant digits: far beyond the 1e-6 the tests ask, and stable across torch builds."""
    if isinstance(value, float):
        return float(f"{value:.12g}") + 0.0
    if isinstance(value, list):
        return [rounded(v) for v in value]
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    return value


def render(reference, cases):
    document = {
        "generator": "packages/advantage/reference/generate.py",
        "reference": reference,
        "cases": rounded(cases),
    }
    return json.dumps(document, indent=1) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed fixtures instead of writing")
    parser.add_argument("--out", type=Path, default=HERE, help="folder for the JSON fixtures")
    args = parser.parse_args()
    stale = []
    for name, (reference, cases) in fixtures().items():
        text = render(reference, cases)
        path = args.out / f"{name}.json"
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(str(path))
        else:
            path.write_text(text)
    if stale:
        print("fixtures differ from the generator's output: " + ", ".join(stale), file=sys.stderr)
        return 1
    print(f"{'checked' if args.check else 'wrote'} {len(fixtures())} fixture files in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
