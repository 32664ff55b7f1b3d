#!/usr/bin/env python3
"""Reference fixtures for the row losses of @policy-lab/trainer, from verl's and TRL's formulas.

verl and TRL cannot be installed here, so each reference loss is written out again below, step by
step in torch, from the source file and commit named in its fixture's `reference` (read through the
code index; nothing is imported from either project). A case is a padded (rows, T) batch as those
frameworks see it: log-probabilities, old log-probabilities, advantages and a response mask, plus
the project's per-row loss weights. Rows of weight 0 (an estimator's excluded rollouts) do not
exist for verl or TRL: the reference runs on the batch without them, and the project must give
the same loss and a zero gradient on them. Every formula runs in float64; the fixture holds the
loss and its gradient with respect to the log-probabilities.

    /usr/bin/python3 packages/trainer/reference/generate.py          # rewrite the fixtures
    /usr/bin/python3 packages/trainer/reference/generate.py --check  # exit 1 if they differ

Needs Debian's python3-torch (apt-get install python3-torch); no other package.
"""

import argparse
import json
import math
import sys
from pathlib import Path

import torch

torch.set_default_dtype(torch.float64)
HERE = Path(__file__).resolve().parent
GENERATOR = "packages/trainer/reference/generate.py"

VERL_CORE = {
    "framework": "verl",
    "repo": "verl-project/verl",
    "file": "verl/trainer/ppo/core_algos.py",
    "commit": "018f23b5f83a13340421349e40ec42530739b23a",
}
TRL_GRPO = {
    "framework": "TRL",
    "repo": "huggingface/trl",
    "file": "trl/trainer/grpo_trainer.py",
    "commit": "d2b69d769dab6f77acbfd33252bcd7d22765571b",
    "function": "GRPOTrainer._compute_loss",
}
# dapo, cispo, luspo and vespo are newer than d2b69d7: GRPOTrainer._compute_loss and
# GRPOTrainer.get_gamma_weights as stored at 20463989 (which also has sapo and fipo). The vespo
# shape and rate (2, 3, 3, 2) are get_gamma_weights' defaults there (GRPOConfig's vespo_* defaults,
# read from copies of grpo_config.py, are the same; the config file is not stored at this commit).
TRL_GRPO_LATEST = {**TRL_GRPO, "commit": "20463989e8d9fef8dbba7230c7fb11bdd7f6387f"}


def verl(function):
    return {**VERL_CORE, "function": function}


# ---------------------------------------------------------------------------------------------
# Batches. Width 6, the longest row 5 tokens, so every batch has a padded column.

WIDTH = 6


def values(seed, rows, low, high):
    g = torch.Generator().manual_seed(seed)
    x = low + (high - low) * torch.rand(rows, WIDTH, generator=g)
    return [[round(float(v), 4) for v in row] for row in x]


def masks(lengths):
    return [[1.0 if t < n else 0.0 for t in range(WIDTH)] for n in lengths]


def row_constant(advantages, lengths):
    return [[a if t < n else 0.0 for t in range(WIDTH)] for a, n in zip(advantages, lengths)]


# Two G=2 groups ({+0.7071, -0.7071} and an all-equal group {0, 0}), an empty completion (mask all
# 0, advantage 0.5), and an excluded rollout (weight 0, advantage 1.3).
MIXED_LENGTHS = [3, 5, 0, 2, 4, 3]
MIXED = {
    "logprobs": values(1, 6, -2.5, -0.4),
    "delta": values(2, 6, -0.35, 0.35),
    "advantages": row_constant([0.7071, -0.7071, 0.5, 0.0, 0.0, 1.3], MIXED_LENGTHS),
    "mask": masks(MIXED_LENGTHS),
    "weights": [1.0, 1.0, 1.0, 1.0, 1.0, 0.0],
}
# Advantages that vary along each row (per-token advantages, or top-entropy masking).
VARYING_LENGTHS = [4, 5, 2]
VARYING = {
    "logprobs": values(3, 3, -2.0, -0.35),
    "delta": values(4, 3, -0.3, 0.3),
    "advantages": [[round(v, 4) for v in row] for row in values(5, 3, -1.5, 1.5)],
    "mask": masks(VARYING_LENGTHS),
    "weights": [1.0, 1.0, 1.0],
}
# Stale log-probabilities (log ratio up to 1.6): the dual clip (c = 3) binds on negative advantages.
STALE_LENGTHS = [5, 3, 4, 2]
STALE = {
    "logprobs": values(8, 4, -3.0, -1.6),
    "delta": values(9, 4, -0.5, 1.6),
    "advantages": row_constant([-1.2, 0.8, -0.4, 1.0], STALE_LENGTHS),
    "mask": masks(STALE_LENGTHS),
    "weights": [1.0, 1.0, 1.0, 1.0],
}


def inputs(batch):
    """The case's tensors as the project sees them (old = logprobs - delta on trained tokens, < 0)."""
    lp = torch.tensor(batch["logprobs"])
    mask = torch.tensor(batch["mask"])
    old = (lp - torch.tensor(batch["delta"])) * mask + lp * (1 - mask)
    assert float(old.max()) < 0, "old log-probabilities must be < 0"
    return {
        "logprobs": batch["logprobs"],
        "oldLogprobs": [[round(float(v), 6) for v in row] for row in old],
        "advantages": batch["advantages"],
        "mask": batch["mask"],
        "weights": batch["weights"],
    }


def evaluate(reference_loss, data):
    """Loss and d loss / d logprobs on the rows of weight > 0 (the reference's batch); 0 elsewhere."""
    keep = [i for i, w in enumerate(data["weights"]) if w > 0]
    lp_all = torch.tensor(data["logprobs"], requires_grad=True)
    lp = lp_all[keep]
    old = torch.tensor(data["oldLogprobs"])[keep]
    adv = torch.tensor(data["advantages"])[keep]
    mask = torch.tensor(data["mask"])[keep]
    loss = reference_loss(old, lp, adv, mask)
    loss.backward()
    return {"loss": float(loss), "gradient": [[float(v) for v in row] for row in lp_all.grad]}


def case(name, loss, options, aggregation, batch, reference_loss, norm_length=WIDTH):
    data = inputs(batch)
    return {
        "name": name,
        "loss": loss,
        "options": options,
        "aggregation": aggregation,
        "normLength": norm_length,
        "inputs": data,
        "expected": evaluate(reference_loss, data),
    }


# ---------------------------------------------------------------------------------------------
# verl/trainer/ppo/core_algos.py at 018f23b5 (VERL_CORE), one process: dp_size 1,
# global_batch_size and batch_num_tokens unset, loss_scale_factor = normLength (the padded width).


def masked_sum(values, mask, axis=None):
    valid = torch.where(mask.bool(), values, torch.zeros_like(values))
    return valid.sum() if axis is None else valid.sum(axis)


def masked_mean(values, mask):
    return masked_sum(values, mask) / (mask.sum() + 1e-8)


def agg_loss(loss_mat, loss_mask, loss_agg_mode, loss_scale_factor=None):
    if loss_agg_mode == "token-mean":
        batch_num_tokens = loss_mask.sum()
        return masked_sum(loss_mat, loss_mask) / batch_num_tokens
    if loss_agg_mode in ["seq-mean-token-sum", "seq-mean-token-sum-norm"]:
        seq_losses = torch.sum(loss_mat * loss_mask, dim=-1)
        seq_mask = (torch.sum(loss_mask, dim=-1) > 0).float()
        global_batch_size = seq_mask.sum()
        loss = masked_sum(seq_losses, seq_mask) / global_batch_size
        if loss_agg_mode == "seq-mean-token-sum-norm":
            if loss_scale_factor is None:
                loss_scale_factor = loss_mask.shape[-1]
            loss = loss / loss_scale_factor
        return loss
    if loss_agg_mode == "seq-mean-token-mean":
        seq_mask = torch.sum(loss_mask, dim=-1)
        seq_losses = torch.sum(loss_mat * loss_mask, dim=-1) / (seq_mask + 1e-8)
        seq_mask = (seq_mask > 0).float()
        global_batch_size = seq_mask.sum()
        return masked_sum(seq_losses, seq_mask) / global_batch_size
    raise ValueError(loss_agg_mode)


def policy_loss_vanilla(old_log_prob, log_prob, advantages, response_mask, mode, low, high, clip_ratio_c):
    negative_approx_kl = torch.clamp(log_prob - old_log_prob, min=-20.0, max=20.0)
    ratio = torch.exp(negative_approx_kl)
    pg_losses1 = -advantages * ratio
    pg_losses2 = -advantages * torch.clamp(ratio, 1 - low, 1 + high)
    clip_pg_losses1 = torch.maximum(pg_losses1, pg_losses2)
    pg_losses3 = -advantages * clip_ratio_c
    clip_pg_losses2 = torch.min(pg_losses3, clip_pg_losses1)
    pg_losses = torch.where(advantages < 0, clip_pg_losses2, clip_pg_losses1)
    return agg_loss(pg_losses, response_mask, mode)


def policy_loss_gspo(old_log_prob, log_prob, advantages, response_mask, low, high):
    negative_approx_kl = log_prob - old_log_prob
    seq_lengths = torch.sum(response_mask, dim=-1).clamp(min=1)
    negative_approx_kl_seq = torch.sum(negative_approx_kl * response_mask, dim=-1) / seq_lengths
    log_seq_importance_ratio = log_prob - log_prob.detach() + negative_approx_kl_seq.detach().unsqueeze(-1)
    log_seq_importance_ratio = torch.clamp(log_seq_importance_ratio, max=10.0)
    seq_importance_ratio = torch.exp(log_seq_importance_ratio)
    pg_losses1 = -advantages * seq_importance_ratio
    pg_losses2 = -advantages * torch.clamp(seq_importance_ratio, 1 - low, 1 + high)
    pg_losses = torch.maximum(pg_losses1, pg_losses2)
    return agg_loss(pg_losses, response_mask, "seq-mean-token-mean")


def policy_loss_sapo(old_log_prob, log_prob, advantages, response_mask, tau_pos, tau_neg):
    def gate_function(x, tau):
        return torch.sigmoid(tau * (x - 1.0)) * (4.0 / tau)

    ratio = torch.exp(torch.clamp(log_prob - old_log_prob, min=-20.0, max=20.0))
    taus = torch.where(advantages > 0, torch.tensor(tau_pos), torch.tensor(tau_neg))
    pg_losses = -gate_function(ratio, taus) * advantages
    return agg_loss(pg_losses, response_mask, "seq-mean-token-mean")


def policy_loss_gpg(old_log_prob, log_prob, advantages, response_mask, mode):
    return agg_loss(-log_prob * advantages, response_mask, mode)


def policy_loss_cispo(old_log_prob, log_prob, advantages, response_mask, mode, low, high):
    ratio = torch.exp(torch.clamp(log_prob - old_log_prob, min=-20.0, max=20.0))
    clipped_ratio_sg = torch.clamp(ratio, 1 - low, 1 + high).detach()
    return agg_loss(-clipped_ratio_sg * advantages * log_prob, response_mask, mode)


def policy_loss_geo_mean(old_log_prob, log_prob, advantages, response_mask, low, high):
    negative_approx_kl = log_prob - old_log_prob
    sgn_advantage = torch.sign(advantages)
    negative_approx_kl_clamp = torch.clamp(negative_approx_kl, -low, high)
    negative_approx_kl_min = torch.min(sgn_advantage * negative_approx_kl, sgn_advantage * negative_approx_kl_clamp)
    negative_approx_kl_min = sgn_advantage * negative_approx_kl_min
    response_mask_sum = response_mask.sum(dim=-1)
    ratio = torch.exp((negative_approx_kl_min * response_mask).sum(dim=-1) / (response_mask_sum + 1e-8))
    advantage = (advantages * response_mask).sum(dim=-1) / (response_mask_sum + 1e-8)
    return torch.mean(-advantage * ratio)


def policy_loss_dppo(kind, old_log_prob, log_prob, advantages, response_mask, mode, low, high, clip_ratio_c):
    ratio = torch.exp(torch.clamp(log_prob - old_log_prob, min=-20.0, max=20.0))
    truncated_ratio = torch.clamp(ratio, max=clip_ratio_c).detach()
    prob = torch.exp(log_prob)
    old_prob = torch.exp(old_log_prob)
    if kind == "tv":
        valid_positive_mask = (prob - old_prob) <= high
        valid_negative_mask = (prob - old_prob) >= -low
    else:
        binary_kl = old_prob * (old_log_prob - log_prob) + (1 - old_prob) * torch.log(
            (1.0 - old_prob + 1e-8) / (1.0 - prob + 1e-8)
        )
        valid_positive_mask = (binary_kl <= high) | (prob <= old_prob)
        valid_negative_mask = (binary_kl <= low) | (prob >= old_prob)
    valid_mask = torch.where(advantages > 0, valid_positive_mask, valid_negative_mask).detach().float()
    pg_losses = -advantages * truncated_ratio * log_prob * valid_mask
    return agg_loss(pg_losses, response_mask, mode)


def policy_loss_kl_cov(old_log_prob, log_prob, advantages, response_mask, mode, kl_cov_ratio, ppo_kl_coef):
    negative_approx_kl = log_prob - old_log_prob
    abs_kl = negative_approx_kl.abs()
    ratio = torch.exp(negative_approx_kl)
    pg_losses1 = -advantages * ratio
    pg_losses_kl = -advantages * ratio + ppo_kl_coef * abs_kl
    pg_losses = pg_losses1.clone()
    all_valid = response_mask > 0
    all_valid_idx = torch.nonzero(all_valid.reshape(-1), as_tuple=True)[0]
    all_valid_adv = advantages[all_valid].detach().reshape(-1)
    all_valid_logp = log_prob[all_valid].detach().reshape(-1)
    cov_lst_all = (all_valid_adv - all_valid_adv.mean()) * (all_valid_logp - all_valid_logp.mean())
    k_percent_nums = max(1, int(len(cov_lst_all) * kl_cov_ratio))
    large_cov_idxs = all_valid_idx[torch.topk(cov_lst_all, k_percent_nums, largest=True).indices]
    width = advantages.shape[1]
    rows, cols = large_cov_idxs // width, large_cov_idxs % width
    pg_losses[rows, cols] = pg_losses_kl[rows, cols]
    return agg_loss(pg_losses, response_mask, mode)


def clip_cov_candidates(old_log_prob, log_prob, advantages, response_mask, low, high):
    """verl's covariance of each token and whether the PPO clip already binds there (no gradient)."""
    with torch.no_grad():
        ratio = torch.exp(log_prob - old_log_prob)
        pg_losses1 = -advantages * ratio
        pg_losses2 = -advantages * torch.clamp(ratio, 1 - low, 1 + high)
        clip_by_origin = (pg_losses2 > pg_losses1) & (response_mask > 0)
        cov_all = (advantages - masked_mean(advantages, response_mask)) * (log_prob - masked_mean(log_prob, response_mask))
        cov_all[response_mask == 0] = -torch.inf
        cov_all[clip_by_origin] = -torch.inf
    return cov_all


def policy_loss_clip_cov(old_log_prob, log_prob, advantages, response_mask, mode, low, high, ratio_share, lb, ub):
    negative_approx_kl = log_prob - old_log_prob
    ratio = torch.exp(negative_approx_kl)
    pg_losses1 = -advantages * ratio
    corr = torch.ones_like(advantages)
    pg_losses2 = -advantages * torch.clamp(ratio, 1 - low, 1 + high)
    cov_all = clip_cov_candidates(old_log_prob, log_prob, advantages, response_mask, low, high)
    clip_num = max(int(ratio_share * response_mask.sum().item()), 1)
    top_k_idx = torch.nonzero((cov_all < ub) & (cov_all > lb) & (response_mask > 0))
    # torch.randperm picks clip_num of the candidates: these cases hold at most clip_num, so the pick is all of them.
    assert len(top_k_idx) <= clip_num, "a clip-cov case must not depend on torch.randperm"
    corr[top_k_idx[:, 0], top_k_idx[:, 1]] = 0
    pg_losses = torch.maximum(pg_losses1, pg_losses2) * corr
    return agg_loss(pg_losses, response_mask, mode)


# ---------------------------------------------------------------------------------------------
# trl/trainer/grpo_trainer.py, GRPOTrainer._compute_loss (TRL_GRPO; dapo, cispo, luspo, vespo: TRL_GRPO_LATEST).
# Advantages are one per completion, (B,); beta = 0; one process, one accumulation step.


def trl_loss(old_per_token_logps, per_token_logps, advantages, completion_mask, loss_type, eps_low, eps_high,
             level="token", delta=None, max_completion_length=WIDTH):
    advantages = advantages[:, 0]
    log_ratio = per_token_logps - old_per_token_logps
    if level == "token":
        log_importance_weights = log_ratio
    else:
        log_importance_weights = (log_ratio * completion_mask).sum(-1) / completion_mask.sum(-1).clamp(min=1.0)
        log_importance_weights = log_importance_weights.unsqueeze(-1)
    coef_1 = torch.exp(log_importance_weights)
    if loss_type == "vespo":
        phi_seq = get_gamma_weights(advantages, log_ratio, completion_mask, 2.0, 3.0, 3.0, 2.0)
        per_token_loss = -phi_seq * advantages.unsqueeze(1) * per_token_logps
    elif loss_type == "cispo":
        clamped_ratios = torch.clamp(coef_1, max=eps_high).detach()
        per_token_loss = -clamped_ratios * advantages.unsqueeze(1) * per_token_logps
    else:
        coef_2 = torch.clamp(coef_1, 1 - eps_low, 1 + eps_high)
        if delta is not None:
            coef_1 = torch.clamp(coef_1, max=delta)
        per_token_loss1 = coef_1 * advantages.unsqueeze(1)
        per_token_loss2 = coef_2 * advantages.unsqueeze(1)
        per_token_loss = -torch.min(per_token_loss1, per_token_loss2)
    if loss_type == "grpo":
        return ((per_token_loss * completion_mask).sum(-1) / completion_mask.sum(-1).clamp(min=1.0)).mean()
    if loss_type == "bnpo":
        return (per_token_loss * completion_mask).sum() / completion_mask.sum().clamp(min=1.0)
    if loss_type == "dr_grpo":
        return (per_token_loss * completion_mask).sum() / (per_token_loss.size(0) * max_completion_length)
    if loss_type in ["cispo", "dapo", "vespo"]:
        num_items_in_batch = completion_mask.sum()
        return (per_token_loss * completion_mask).sum() / num_items_in_batch
    if loss_type == "luspo":
        return (per_token_loss * completion_mask.sum(1, keepdim=True)).mean()
    raise ValueError(loss_type)


def get_gamma_weights(advantages, log_ratio_per_token, mask, k_pos, lambda_pos, k_neg, lambda_neg):
    with torch.no_grad():
        lower_clamp = math.log(1e-8)
        log_ratio_clamped = torch.clamp(log_ratio_per_token, -20.0, 20.0)
        seq_log_ratio = torch.sum(log_ratio_clamped * mask, dim=-1, keepdim=True)
        log_w_seq = torch.clamp(seq_log_ratio, lower_clamp, 20.0)
        w_seq = torch.exp(log_w_seq)
        is_nonneg_adv = advantages.unsqueeze(-1) >= 0
        k_seq = torch.where(is_nonneg_adv, torch.tensor(k_pos), torch.tensor(k_neg))
        lambda_seq = torch.where(is_nonneg_adv, torch.tensor(lambda_pos), torch.tensor(lambda_neg)).clamp(min=1e-4)
        log_phi = lambda_seq + k_seq * log_w_seq - lambda_seq * w_seq
        return torch.exp(log_phi).nan_to_num(nan=0.0, posinf=0.0, neginf=0.0)


# ---------------------------------------------------------------------------------------------


def fixtures():
    out = {}
    modes = ["token-mean", "seq-mean-token-sum", "seq-mean-token-mean", "seq-mean-token-sum-norm"]

    out["verl-vanilla"] = (
        verl("compute_policy_loss_vanilla"),
        [
            case(f"mixed batch, {mode}", "ppo-clip", {"dualClip": 3}, mode, MIXED,
                 lambda o, l, a, m, mode=mode: policy_loss_vanilla(o, l, a, m, mode, 0.2, 0.2, 3.0))
            for mode in modes
        ]
        + [
            case(f"stale batch (dual clip binds), {mode}", "ppo-clip", {"dualClip": 3}, mode, STALE,
                 lambda o, l, a, m, mode=mode: policy_loss_vanilla(o, l, a, m, mode, 0.2, 0.2, 3.0))
            for mode in ["token-mean", "seq-mean-token-sum"]
        ]
        + [
            case("per-token advantages, clip-higher 0.28, token-mean", "ppo-clip", {"dualClip": 3, "clipHigh": 0.28},
                 "token-mean", VARYING, lambda o, l, a, m: policy_loss_vanilla(o, l, a, m, "token-mean", 0.2, 0.28, 3.0)),
        ],
    )
    # Bypass with loss_type=ppo_clip calls compute_policy_loss_vanilla, whose dual clip (c = 3) never
    # binds on these ratios (all below 3), so it matches the project's bypass, which has none.
    out["verl-bypass"] = (
        verl("compute_policy_loss_bypass_mode"),
        [
            case(f"mixed batch, {mode}", "bypass", {}, mode, MIXED,
                 lambda o, l, a, m, mode=mode: policy_loss_vanilla(o, l, a, m, mode, 0.2, 0.2, 3.0))
            for mode in ["token-mean", "seq-mean-token-mean"]
        ],
    )
    out["verl-gspo"] = (
        verl("compute_policy_loss_gspo"),
        [
            case("per-token advantages", "gspo-token", {"clipLow": 0.2, "clipHigh": 0.2}, "token-mean", VARYING,
                 lambda o, l, a, m: policy_loss_gspo(o, l, a, m, 0.2, 0.2)),
            case("mixed batch, GSPO paper clip 3e-4/4e-4", "gspo-token", {}, "token-mean", MIXED,
                 lambda o, l, a, m: policy_loss_gspo(o, l, a, m, 3e-4, 4e-4)),
        ],
    )
    out["verl-sapo"] = (
        verl("compute_policy_loss_sapo"),
        [
            case(name, "sapo", {}, "seq-mean-token-mean", batch, lambda o, l, a, m: policy_loss_sapo(o, l, a, m, 1.0, 1.05))
            for name, batch in [("mixed batch", MIXED), ("per-token advantages", VARYING)]
        ],
    )
    out["verl-gpg"] = (
        verl("compute_policy_loss_gpg"),
        [
            case(f"mixed batch, {mode}", "gpg", {}, mode, MIXED, lambda o, l, a, m, mode=mode: policy_loss_gpg(o, l, a, m, mode))
            for mode in ["token-mean", "seq-mean-token-sum-norm"]
        ],
    )
    out["verl-cispo"] = (
        verl("compute_policy_loss_cispo"),
        [
            case(f"mixed batch, {mode}", "cispo-verl", {}, mode, MIXED,
                 lambda o, l, a, m, mode=mode: policy_loss_cispo(o, l, a, m, mode, 0.2, 0.2))
            for mode in ["token-mean", "seq-mean-token-mean"]
        ],
    )
    out["verl-geo-mean"] = (
        verl("compute_policy_loss_geo_mean"),
        [
            case("mixed batch", "gmpo", {}, "token-mean", MIXED, lambda o, l, a, m: policy_loss_geo_mean(o, l, a, m, 0.2, 0.2)),
            case("per-token advantages, 0.1/0.3", "gmpo", {"epsLow": 0.1, "epsHigh": 0.3}, "token-mean", VARYING,
                 lambda o, l, a, m: policy_loss_geo_mean(o, l, a, m, 0.1, 0.3)),
        ],
    )
    for kind in ["tv", "kl"]:
        out[f"verl-dppo-{kind}"] = (
            verl(f"compute_policy_loss_dppo_{kind}"),
            [
                case(f"mixed batch, {low}/{high}", f"dppo-{kind}", {"epsLow": low, "epsHigh": high, "cap": 3},
                     "token-mean", MIXED,
                     lambda o, l, a, m, kind=kind, low=low, high=high: policy_loss_dppo(kind, o, l, a, m, "token-mean", low, high, 3.0))
                for low, high in [(0.05, 0.05), (0.01, 0.002)]
            ],
        )
    out["verl-kl-cov"] = (
        verl("compute_policy_loss_kl_cov"),
        [
            case("per-token advantages, ratio 0.2, coef 1", "kl-cov", {"ratio": 0.2, "coef": 1}, "token-mean", VARYING,
                 lambda o, l, a, m: policy_loss_kl_cov(o, l, a, m, "token-mean", 0.2, 1.0)),
            case("mixed batch, ratio 0.1, coef 0.1", "kl-cov", {"ratio": 0.1, "coef": 0.1}, "seq-mean-token-mean", MIXED,
                 lambda o, l, a, m: policy_loss_kl_cov(o, l, a, m, "seq-mean-token-mean", 0.1, 0.1)),
        ],
    )
    out["verl-clip-cov"] = (verl("compute_policy_loss_clip_cov"), clip_cov_cases())

    out["trl-grpo-loss"] = (
        TRL_GRPO,
        [
            case(f"mixed batch, loss_type={loss_type}", "trl-clip", {}, mode, MIXED,
                 lambda o, l, a, m, t=loss_type: trl_loss(o, l, a, m, t, 0.2, 0.2))
            for loss_type, mode in [("grpo", "seq-mean-token-mean"), ("bnpo", "token-mean"), ("dr_grpo", "seq-mean-token-sum-norm")]
        ]
        + [
            case("mixed batch, grpo, importance_sampling_level=sequence", "trl-clip", {"level": "sequence"},
                 "seq-mean-token-mean", MIXED, lambda o, l, a, m: trl_loss(o, l, a, m, "grpo", 0.2, 0.2, level="sequence")),
            case("mixed batch, dr_grpo, delta 1.1, epsilon_high 0.28", "trl-clip", {"delta": 1.1, "epsilonHigh": 0.28},
                 "seq-mean-token-sum-norm", MIXED, lambda o, l, a, m: trl_loss(o, l, a, m, "dr_grpo", 0.2, 0.28, delta=1.1)),
            case("dr_grpo with max_completion_length 8", "trl-clip", {}, "seq-mean-token-sum-norm", MIXED,
                 lambda o, l, a, m: trl_loss(o, l, a, m, "dr_grpo", 0.2, 0.2, max_completion_length=8), norm_length=8),
        ],
    )
    out["trl-dapo-loss"] = (
        TRL_GRPO_LATEST,
        [case("mixed batch, loss_type=dapo, epsilon_high 0.28", "trl-clip", {"epsilonHigh": 0.28}, "token-mean", MIXED,
              lambda o, l, a, m: trl_loss(o, l, a, m, "dapo", 0.2, 0.28))],
    )
    out["trl-cispo"] = (
        TRL_GRPO_LATEST,
        [
            case(f"mixed batch, epsilon_high {cap}", "cispo-trl", {"cap": cap}, "token-mean", MIXED,
                 lambda o, l, a, m, cap=cap: trl_loss(o, l, a, m, "cispo", 0.2, cap))
            for cap in [5.0, 1.05]
        ],
    )
    out["trl-luspo"] = (
        TRL_GRPO_LATEST,
        [case("mixed batch, importance_sampling_level=sequence", "luspo", {}, "token-mean", MIXED,
              lambda o, l, a, m: trl_loss(o, l, a, m, "luspo", 0.2, 0.2, level="sequence"))],
    )
    out["trl-vespo"] = (
        TRL_GRPO_LATEST,
        [case("mixed batch, default k and lambda", "vespo", {}, "token-mean", MIXED,
              lambda o, l, a, m: trl_loss(o, l, a, m, "vespo", 0.2, 0.2))],
    )
    return out


def clip_cov_cases():
    """Bounds set so that exactly one token is a candidate (lb between the two largest covariances)."""
    cases = []
    for name, batch, mode in [("per-token advantages", VARYING, "token-mean"), ("mixed batch", MIXED, "seq-mean-token-mean")]:
        data = inputs(batch)
        keep = [i for i, w in enumerate(data["weights"]) if w > 0]
        t = lambda key: torch.tensor(data[key])[keep]  # noqa: E731
        cov = clip_cov_candidates(t("oldLogprobs"), t("logprobs"), t("advantages"), t("mask"), 0.2, 0.2)
        top = torch.topk(cov.reshape(-1), 2).values
        lb = round(float((top[0] + top[1]) / 2), 6)
        ub = round(float(top[0]) + 1.0, 6)
        options = {"ratio": 2e-4, "lowerBound": lb, "upperBound": ub}
        cases.append(case(f"{name}, one candidate", "clip-cov", options, mode, batch,
                          lambda o, l, a, m, lb=lb, ub=ub, mode=mode: policy_loss_clip_cov(o, l, a, m, mode, 0.2, 0.2, 2e-4, lb, ub)))
    return cases


def rounded(value):
    """12 significant digits: far beyond the 1e-5 the tests ask, and stable across torch builds."""
    if isinstance(value, float):
        return float(f"{value:.12g}") + 0.0
    if isinstance(value, list):
        return [rounded(v) for v in value]
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    return value


def render(reference, cases):
    return json.dumps({"generator": GENERATOR, "reference": reference, "cases": rounded(cases)}, indent=1) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed fixtures instead of writing")
    parser.add_argument("--out", type=Path, default=HERE, help="folder for the JSON fixtures")
    args = parser.parse_args()
    stale = []
    generated = fixtures()
    for name, (reference, cases) in generated.items():
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
    print(f"{'checked' if args.check else 'wrote'} {len(generated)} fixture files in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
