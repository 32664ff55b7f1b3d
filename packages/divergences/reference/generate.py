#!/usr/bin/env python3
"""Reference fixtures for the preference losses of @policy-lab/divergences, from TRL's formulas.

TRL cannot be installed here, so each loss is written out again below, line by line in torch, from
the source file and commit named in its fixture's `reference` (read through the code index; nothing
is imported from TRL). A paired case holds what the project's preference batch carries: summed
log-probabilities of the chosen and rejected completions under the policy and the reference, their
token counts, and where an option needs them the tails past the shared length (LD-DPO) and the
aligned mean log-probabilities (WPO). An unpaired case (KTO) holds labelled completions and the
mismatched completions of the KL anchor. Everything runs in float64; the fixture holds the loss and
its gradient with respect to the policy's log-probabilities (chosen and rejected, or the labelled
completions).

Where TRL works on token log-probabilities (the SFT and NLL terms, the token counts of IPO and
sigmoid_norm), a completion of L tokens and summed log-probability s is spread as L tokens of s / L
each: TRL's token-level expression then runs unchanged and its sums are the batch's.

    /usr/bin/python3 packages/divergences/reference/generate.py          # rewrite the fixtures
    /usr/bin/python3 packages/divergences/reference/generate.py --check  # exit 1 if they differ

Needs Debian's python3-torch (apt-get install python3-torch); no other package.
"""

import argparse
import json
import math
import sys
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
# KTOTrainer calls F.sigmoid, as written there.
warnings.filterwarnings("ignore", message="nn.functional.sigmoid is deprecated")
HERE = Path(__file__).resolve().parent
GENERATOR = "packages/divergences/reference/generate.py"

# DPOTrainer after its refactor (loss types as a list, f-divergence scores, ld_alpha, use_weighting);
# every loss type but sigmoid_norm, which came later.
TRL_DPO = {
    "framework": "TRL",
    "repo": "huggingface/trl",
    "file": "trl/trainer/dpo_trainer.py",
    "commit": "535544b8a54ce3bd2eb9704665b96dc7f2e986dd",
    "function": "DPOTrainer._compute_loss",
}
# sigmoid_norm: no upstream commit of dpo_trainer.py that has it is stored; this fork's copy of the
# trainer has it (and the raw log-ratios nca_pair, bco_pair, sppo_hard and apo_down took later).
TRL_DPO_SIGMOID_NORM = {
    "framework": "TRL",
    "repo": "carbonteq-ai/trl",
    "file": "trl/trainer/dpo_trainer.py",
    "commit": "096145f37e64d92f36e664643a1d0e9917fe3cf3",
    "function": "DPOTrainer._compute_loss",
    "note": "a fork's copy of TRL's trainer: no stored commit of huggingface/trl has loss_type sigmoid_norm",
}
# The DPOTrainer before the refactor: label smoothing on the sigmoid loss (cDPO) and reference_free.
TRL_DPO_LEGACY = {
    "framework": "TRL",
    "repo": "huggingface/trl",
    "file": "trl/trainer/dpo_trainer.py",
    "commit": "bc13ae6d91667d42f5ad74e211b5db703dc4377e",
    "function": "DPOTrainer.dpo_loss",
}
TRL_KTO = {
    "framework": "TRL",
    "repo": "huggingface/trl",
    "file": "trl/experimental/kto/kto_trainer.py",
    "commit": "b8a6c0b5d237ed33907bf308cdd973cbfcd0c8ea",
    "function": "KTOTrainer.kto_loss",
}
TRL_CPO = {
    "framework": "TRL",
    "repo": "huggingface/trl",
    "file": "trl/experimental/cpo/cpo_trainer.py",
    "commit": "3a748cd1688c2d2a70a4dda495e04a9d9fb6417b",
    "function": "CPOTrainer.cpo_loss",
}
TRL_ORPO = {
    "framework": "TRL",
    "repo": "huggingface/trl",
    "file": "trl/experimental/orpo/orpo_trainer.py",
    "commit": "85909e6b4ef02dd4be59a4ea70745db9437856d6",
    "function": "ORPOTrainer.odds_ratio_loss",
}


# ---------------------------------------------------------------------------------------------
# Batches


def uniform(seed, n, low, high):
    g = torch.Generator().manual_seed(seed)
    return [round(float(v), 4) for v in low + (high - low) * torch.rand(n, generator=g)]


def lengths(seed, n, low, high):
    g = torch.Generator().manual_seed(seed)
    return [float(v) for v in torch.randint(low, high + 1, (n,), generator=g)]


def paired(seed, n, low=-6.0, high=-0.5, spread=1.2):
    """Policy log-probs in [low, high], the reference's within +-spread of them (and < 0)."""
    chosen = uniform(seed, n, low, high)
    rejected = uniform(seed + 1, n, low, high)
    ref_chosen = [round(min(c - d, -0.05), 4) for c, d in zip(chosen, uniform(seed + 2, n, -spread, spread))]
    ref_rejected = [round(min(r - d, -0.05), 4) for r, d in zip(rejected, uniform(seed + 3, n, -spread, spread))]
    return {
        "chosenLogps": chosen,
        "rejectedLogps": rejected,
        "refChosenLogps": ref_chosen,
        "refRejectedLogps": ref_rejected,
        "chosenLengths": lengths(seed + 4, n, 2, 9),
        "rejectedLengths": lengths(seed + 5, n, 2, 9),
    }


MAIN = paired(11, 5)
# Every log-ratio 0 and chosen = rejected: Delta = 0 (sigmoid: log 2; apo_zero: 1).
EQUAL = {
    "chosenLogps": [-2.5, -1.25, -4.0],
    "rejectedLogps": [-2.5, -1.25, -4.0],
    "refChosenLogps": [-2.5, -1.25, -4.0],
    "refRejectedLogps": [-2.5, -1.25, -4.0],
    "chosenLengths": [4.0, 2.0, 7.0],
    "rejectedLengths": [4.0, 2.0, 7.0],
}
# Log-ratios of +-30: beta Delta = +-6 at beta 0.1, +-60 at beta 1 (one pair the wrong way round).
LARGE = {
    "chosenLogps": [-1.5, -2.0, -31.0],
    "rejectedLogps": [-32.0, -31.5, -2.5],
    "refChosenLogps": [-31.5, -32.0, -1.0],
    "refRejectedLogps": [-2.0, -1.5, -32.5],
    "chosenLengths": [3.0, 5.0, 8.0],
    "rejectedLengths": [9.0, 6.0, 2.0],
}
# One pair: AOT's sorting is the identity, so aot is the sigmoid loss.
SINGLE = {k: v[:1] for k, v in MAIN.items()}


def with_tails(batch):
    """LD-DPO inputs: the tail past the shared length min(L_w, L_l), a share (L - shared) / L of each sum."""
    out = dict(batch)
    for side, other in [("chosen", "rejected"), ("rejected", "chosen")]:
        share = [max(0.0, (a - b) / a) for a, b in zip(batch[f"{side}Lengths"], batch[f"{other}Lengths"])]
        cap = side.capitalize()
        out[f"{side}TailLogps"] = [round(s * x, 6) for s, x in zip(share, batch[f"{side}Logps"])]
        out[f"ref{cap}TailLogps"] = [round(s * x, 6) for s, x in zip(share, batch[f"ref{cap}Logps"])]
    return out


def with_aligned(batch, seed):
    """WPO inputs: aligned mean log-probabilities, some pairs summing above 0."""
    n = len(batch["chosenLogps"])
    return {**batch, "chosenAlignedLogps": uniform(seed, n, -1.2, 0.9), "rejectedAlignedLogps": uniform(seed + 1, n, -1.2, 0.9)}


def token_view(summed, lengths_):
    """(pairs, T) token log-probabilities and completion mask: L tokens of summed / L each."""
    width = int(max(lengths_)) if lengths_.numel() else 1
    width = max(width, 1)
    mask = torch.stack([torch.arange(width) < n for n in lengths_]).double()
    per_token = (summed / lengths_.clamp(min=1.0)).unsqueeze(1) * mask
    return per_token, mask


# ---------------------------------------------------------------------------------------------
# trl/trainer/dpo_trainer.py at 535544b (TRL_DPO), DPOTrainer._compute_loss from the summed
# log-probabilities on; precompute_ref_logps-style reference log-probs; one process.


def dpo_loss(t, loss_types, loss_weights, beta, f_divergence_type="reverse_kl", f_alpha_divergence_coef=0.5,
             label_smoothing=0.0, discopop_tau=0.05, ld_alpha=None, use_weighting=False):
    chosen_logps, rejected_logps = t["chosenLogps"], t["rejectedLogps"]
    ref_chosen_logps, ref_rejected_logps = t["refChosenLogps"], t["refRejectedLogps"]
    if ld_alpha is not None:
        # logps = shared_logps + ld_alpha * tail_logps, shared = total - tail (policy and reference)
        chosen_logps = (chosen_logps - t["chosenTailLogps"]) + ld_alpha * t["chosenTailLogps"]
        rejected_logps = (rejected_logps - t["rejectedTailLogps"]) + ld_alpha * t["rejectedTailLogps"]
        ref_chosen_logps = (ref_chosen_logps - t["refChosenTailLogps"]) + ld_alpha * t["refChosenTailLogps"]
        ref_rejected_logps = (ref_rejected_logps - t["refRejectedTailLogps"]) + ld_alpha * t["refRejectedTailLogps"]
    chosen_mask_len, rejected_mask_len = t["chosenLengths"], t["rejectedLengths"]

    chosen_logratios = chosen_logps - ref_chosen_logps
    rejected_logratios = rejected_logps - ref_rejected_logps

    if f_divergence_type == "reverse_kl":
        chosen_scores = chosen_logratios
        rejected_scores = rejected_logratios
    elif f_divergence_type == "forward_kl":
        chosen_scores = -torch.exp(-chosen_logratios)
        rejected_scores = -torch.exp(-rejected_logratios)
    elif f_divergence_type == "js_divergence":
        chosen_scores = F.logsigmoid(chosen_logratios)
        rejected_scores = F.logsigmoid(rejected_logratios)
    elif f_divergence_type == "alpha_divergence":
        coef = 1.0 / (f_alpha_divergence_coef - 1.0)
        t_chosen = (f_alpha_divergence_coef - 1.0) * chosen_logratios
        t_rejected = (f_alpha_divergence_coef - 1.0) * rejected_logratios
        chosen_scores = torch.exp(torch.clamp(t_chosen, max=80.0)) * coef
        rejected_scores = torch.exp(torch.clamp(t_rejected, max=80.0)) * coef
    else:
        raise ValueError(f_divergence_type)

    delta_score = chosen_scores - rejected_scores

    loss = 0.0
    for loss_type, loss_weight in zip(loss_types, loss_weights):
        if loss_type == "sigmoid":
            per_sequence_loss = -F.logsigmoid(beta * delta_score)
        elif loss_type == "hinge":
            per_sequence_loss = torch.relu(1 - beta * delta_score)
        elif loss_type == "ipo":
            chosen_avg_score = chosen_scores / chosen_mask_len.clamp(min=1.0)
            rejected_avg_score = rejected_scores / rejected_mask_len.clamp(min=1.0)
            ipo_delta = chosen_avg_score - rejected_avg_score
            per_sequence_loss = (ipo_delta - 1 / (2 * beta)) ** 2
        elif loss_type == "exo_pair":
            epsilon = torch.tensor(label_smoothing)
            qw = torch.sigmoid(beta * delta_score)
            log_qw = F.logsigmoid(beta * delta_score)
            log_pw = torch.log1p(-epsilon)
            ql = torch.sigmoid(-beta * delta_score)
            log_ql = F.logsigmoid(-beta * delta_score)
            log_pl = torch.log(epsilon)
            per_sequence_loss = qw * (log_qw - log_pw) + ql * (log_ql - log_pl)
        elif loss_type == "nca_pair":
            chosen_rewards = beta * chosen_scores
            rejected_rewards = beta * rejected_scores
            per_sequence_loss = (
                -F.logsigmoid(chosen_rewards) - 0.5 * F.logsigmoid(-chosen_rewards) - 0.5 * F.logsigmoid(-rejected_rewards)
            )
        elif loss_type == "robust":
            clean_loss_term = -(1 - label_smoothing) * F.logsigmoid(beta * delta_score)
            flipped_loss_term = -label_smoothing * F.logsigmoid(-beta * delta_score)
            per_sequence_loss = (clean_loss_term - flipped_loss_term) / (1 - 2 * label_smoothing)
        elif loss_type == "bco_pair":
            chosen_rewards = beta * chosen_scores
            rejected_rewards = beta * rejected_scores
            per_sequence_loss = -F.logsigmoid(chosen_rewards) - F.logsigmoid(-rejected_rewards)
        elif loss_type == "sppo_hard":
            winner_margin_error = (chosen_scores - 0.5 / beta) ** 2
            loser_margin_error = (rejected_scores + 0.5 / beta) ** 2
            per_sequence_loss = winner_margin_error + loser_margin_error
        elif loss_type == "aot":
            logratios = chosen_logps - rejected_logps
            ref_logratios = ref_chosen_logps - ref_rejected_logps
            logratios_sorted, _ = torch.sort(logratios, dim=0)
            ref_logratios_sorted, _ = torch.sort(ref_logratios, dim=0)
            delta = logratios_sorted - ref_logratios_sorted
            per_sequence_loss = (
                -F.logsigmoid(beta * delta) * (1 - label_smoothing) - F.logsigmoid(-beta * delta) * label_smoothing
            )
        elif loss_type == "aot_unpaired":
            chosen_logratios_sorted, _ = torch.sort(chosen_logratios, dim=0)
            rejected_logratios_sorted, _ = torch.sort(rejected_logratios, dim=0)
            delta = chosen_logratios_sorted - rejected_logratios_sorted
            per_sequence_loss = (
                -F.logsigmoid(beta * delta) * (1 - label_smoothing) - F.logsigmoid(-beta * delta) * label_smoothing
            )
        elif loss_type == "apo_zero":
            losses_chosen = 1 - torch.sigmoid(beta * chosen_logratios)
            losses_rejected = torch.sigmoid(beta * rejected_logratios)
            per_sequence_loss = losses_chosen + losses_rejected
        elif loss_type == "apo_down":
            losses_chosen = torch.sigmoid(beta * chosen_logratios)
            losses_rejected = 1 - torch.sigmoid(beta * delta_score)
            per_sequence_loss = losses_chosen + losses_rejected
        elif loss_type == "discopop":
            logits = delta_score * beta
            log_ratio_modulation = torch.sigmoid(logits / discopop_tau)
            logistic_component = -F.logsigmoid(logits)
            exp_component = torch.exp(-logits)
            per_sequence_loss = logistic_component * (1 - log_ratio_modulation) + exp_component * log_ratio_modulation
        elif loss_type == "sft":
            # F.cross_entropy(chosen_logits[mask], chosen_labels[mask]): the mean of -log p over every chosen token
            per_token_logps, chosen_mask = token_view(t["chosenLogps"], chosen_mask_len)
            batch_loss = -(per_token_logps[chosen_mask.bool()]).mean()
            per_sequence_loss = batch_loss.expand(chosen_logps.size(0))
        elif loss_type == "sigmoid_norm":
            # from TRL_DPO_SIGMOID_NORM (carbonteq-ai/trl at 096145f)
            chosen_avg_score = chosen_scores / chosen_mask_len.clamp(min=1.0)
            rejected_avg_score = rejected_scores / rejected_mask_len.clamp(min=1.0)
            delta = chosen_avg_score - rejected_avg_score
            per_sequence_loss = -F.logsigmoid(beta * delta)
        else:
            raise ValueError(loss_type)

        if use_weighting:
            # weights = exp(mean aligned log-prob) per completion, chosen x rejected, no clamp
            chosen_weights = torch.exp(t["chosenAlignedLogps"])
            rejected_weights = torch.exp(t["rejectedAlignedLogps"])
            per_sequence_loss = per_sequence_loss * (chosen_weights * rejected_weights)

        loss = loss + per_sequence_loss.mean() * loss_weight
    return loss


# trl/trainer/dpo_trainer.py at bc13ae6 (TRL_DPO_LEGACY), DPOTrainer.dpo_loss, loss_type sigmoid.
def dpo_loss_legacy(t, beta, label_smoothing=0.0, reference_free=False):
    chosen_logps, rejected_logps = t["chosenLogps"], t["rejectedLogps"]
    ref_chosen_logps, ref_rejected_logps = t["refChosenLogps"], t["refRejectedLogps"]
    logratios = chosen_logps - rejected_logps
    if reference_free:
        ref_logratios = torch.tensor([0.0])
    else:
        ref_logratios = ref_chosen_logps - ref_rejected_logps
    logits = logratios - ref_logratios
    losses = -F.logsigmoid(beta * logits) * (1 - label_smoothing) - F.logsigmoid(-beta * logits) * label_smoothing
    return losses.mean()


# ---------------------------------------------------------------------------------------------
# trl/experimental/cpo/cpo_trainer.py at 3a748cd (TRL_CPO): concatenated_forward (average_log_prob
# for ipo and simpo, NLL = cross-entropy over the chosen completion tokens), cpo_loss, and
# get_batch_loss_metrics' loss = losses.mean() + cpo_alpha * nll_loss.


def cpo_loss(t, loss_type, beta, label_smoothing=0.0, simpo_gamma=0.5, alpha=0.0, cpo_alpha=1.0):
    average = loss_type in ["ipo", "simpo"]
    policy_chosen_logps = t["chosenLogps"] / t["chosenLengths"] if average else t["chosenLogps"]
    policy_rejected_logps = t["rejectedLogps"] / t["rejectedLengths"] if average else t["rejectedLogps"]
    if cpo_alpha == 0:
        nll_loss = torch.tensor(0.0)
    else:
        per_token_logps, chosen_mask = token_view(t["chosenLogps"], t["chosenLengths"])
        nll_loss = -(per_token_logps[chosen_mask.bool()]).mean()

    if alpha != 0.0:
        chosen_probs = torch.exp(policy_chosen_logps)
        rejected_probs = torch.exp(policy_rejected_logps)
        policy_chosen_rewards = (1 - chosen_probs.pow(-alpha)) / alpha
        policy_rejected_rewards = (1 - rejected_probs.pow(-alpha)) / alpha
        logits = policy_chosen_rewards - policy_rejected_rewards
    else:
        logits = policy_chosen_logps - policy_rejected_logps

    if loss_type == "simpo":
        gamma_logratios = simpo_gamma / beta
        logits = logits - gamma_logratios
        losses = -F.logsigmoid(beta * logits) * (1 - label_smoothing) - F.logsigmoid(-beta * logits) * label_smoothing
    elif loss_type == "sigmoid":
        losses = -F.logsigmoid(beta * logits) * (1 - label_smoothing) - F.logsigmoid(-beta * logits) * label_smoothing
    elif loss_type == "hinge":
        losses = torch.relu(1 - beta * logits)
    elif loss_type == "ipo":
        losses = (logits - 1 / (2 * beta)) ** 2
    else:
        raise ValueError(loss_type)
    return losses.mean() + cpo_alpha * nll_loss


# trl/experimental/orpo/orpo_trainer.py at 85909e6 (TRL_ORPO): average log-probs, odds_ratio_loss,
# loss = policy_nll_loss - losses.mean(). TRL's NLL runs over the prompt and the chosen tokens; these
# cases have prompts of no tokens, so it is the chosen tokens' (see the loss's page).


def orpo_loss(t, beta):
    policy_chosen_logps = t["chosenLogps"] / t["chosenLengths"]
    policy_rejected_logps = t["rejectedLogps"] / t["rejectedLengths"]
    per_token_logps, chosen_mask = token_view(t["chosenLogps"], t["chosenLengths"])
    policy_nll_loss = -(per_token_logps[chosen_mask.bool()]).mean()
    log_odds = (policy_chosen_logps - policy_rejected_logps) - (
        torch.log1p(-torch.exp(policy_chosen_logps)) - torch.log1p(-torch.exp(policy_rejected_logps))
    )
    ratio = F.logsigmoid(log_odds)
    losses = beta * ratio
    return policy_nll_loss - losses.mean()


# ---------------------------------------------------------------------------------------------
# trl/experimental/kto/kto_trainer.py at b8a6c0b (TRL_KTO): kto_loss with calculate_KL, then
# loss = losses.nanmean(). The KL completions run under torch.no_grad: the anchor has no gradient.


def kto_loss(t, loss_type, beta, desirable_weight=1.0, undesirable_weight=1.0):
    labels = t["desirable"]
    logps = t["logps"]
    chosen_idx = [i for i, d in enumerate(labels) if d]
    rejected_idx = [i for i, d in enumerate(labels) if not d]
    policy_chosen_logps, policy_rejected_logps = logps[chosen_idx], logps[rejected_idx]
    reference_chosen_logps, reference_rejected_logps = t["refLogps"][chosen_idx], t["refLogps"][rejected_idx]
    if loss_type == "kto":
        kl = (t["klLogps"] - t["klRefLogps"]).mean().detach().clamp(min=0)
    else:
        kl = torch.zeros(1)

    if policy_chosen_logps.shape[0] != 0:
        chosen_logratios = policy_chosen_logps - reference_chosen_logps
        if loss_type == "kto":
            chosen_losses = 1 - F.sigmoid(beta * (chosen_logratios - kl))
        else:
            chosen_losses = 1 - F.sigmoid(beta * chosen_logratios)
    else:
        chosen_losses = torch.tensor([])
    if policy_rejected_logps.shape[0] != 0:
        rejected_logratios = policy_rejected_logps - reference_rejected_logps
        if loss_type == "kto":
            rejected_losses = 1 - F.sigmoid(beta * (kl - rejected_logratios))
        else:
            rejected_losses = F.sigmoid(beta * rejected_logratios)
    else:
        rejected_losses = torch.tensor([])
    losses = torch.cat((desirable_weight * chosen_losses, undesirable_weight * rejected_losses), 0)
    return losses.nanmean()


KTO_MAIN = {
    "logps": uniform(41, 6, -9.0, -1.0),
    "refLogps": uniform(42, 6, -9.0, -1.0),
    "desirable": [True, False, True, True, False, False],
    "klLogps": uniform(43, 6, -9.0, -1.0),
    "klRefLogps": uniform(44, 6, -9.0, -1.0),
}
# Mismatched completions the policy likes less than the reference: the anchor's mean is < 0 and clamps to 0.
KTO_NEGATIVE_ANCHOR = {**KTO_MAIN, "klLogps": [-6.0, -7.5, -5.0, -8.0, -6.5, -7.0], "klRefLogps": [-3.0] * 6}
KTO_ALL_DESIRABLE = {**KTO_MAIN, "desirable": [True] * 6}


# ---------------------------------------------------------------------------------------------


def evaluate_paired(formula, data):
    t = {k: torch.tensor(v) for k, v in data.items()}
    t["chosenLogps"].requires_grad_(True)
    t["rejectedLogps"].requires_grad_(True)
    loss = formula(t)
    chosen_grad, rejected_grad = torch.autograd.grad(loss, [t["chosenLogps"], t["rejectedLogps"]], allow_unused=True)
    zeros = [0.0] * len(data["chosenLogps"])
    return {
        "loss": float(loss),
        "gradient": {
            "chosenLogps": zeros if chosen_grad is None else [float(v) for v in chosen_grad],
            "rejectedLogps": zeros if rejected_grad is None else [float(v) for v in rejected_grad],
        },
    }


def evaluate_unpaired(formula, data):
    t = {k: (v if k == "desirable" else torch.tensor(v)) for k, v in data.items()}
    t["logps"].requires_grad_(True)
    loss = formula(t)
    (grad,) = torch.autograd.grad(loss, [t["logps"]])
    return {"loss": float(loss), "gradient": {"logps": [float(v) for v in grad]}}


def case(name, loss, options, data, formula):
    return {"name": name, "loss": loss, "options": options, "data": "paired", "inputs": data,
            "expected": evaluate_paired(formula, data)}


def unpaired_case(name, loss, options, data, formula):
    return {"name": name, "loss": loss, "options": options, "data": "unpaired", "inputs": data,
            "expected": evaluate_unpaired(formula, data)}


BATCHES = [("mixed batch", MAIN), ("equal log-probs (Delta = 0)", EQUAL), ("large margins", LARGE)]
DIVERGENCES = [("forward-kl", "forward_kl", {}), ("js", "js_divergence", {}), ("alpha", "alpha_divergence", {"alphaDivergence": 0.3})]


def dpo_cases():
    cases = []

    def add(name, loss, options, data, **kw):
        loss_types = kw.pop("loss_types")
        weights = kw.pop("loss_weights", [1.0] * len(loss_types))
        cases.append(case(name, loss, options, data, lambda t: dpo_loss(t, loss_types, weights, **kw)))

    single = {
        "dpo": "sigmoid", "dpo-hinge": "hinge", "dpo-ipo": "ipo", "dpo-nca-pair": "nca_pair",
        "dpo-bco-pair": "bco_pair", "dpo-sppo-hard": "sppo_hard", "dpo-apo-zero": "apo_zero",
        "dpo-apo-down": "apo_down", "dpo-discopop": "discopop", "dpo-sft": "sft",
    }
    for loss, loss_type in single.items():
        for label, data in BATCHES:
            add(f"{label}, beta 0.1", loss, {}, data, loss_types=[loss_type], beta=0.1)
        add("mixed batch, beta 0.5", loss, {"beta": 0.5}, MAIN, loss_types=[loss_type], beta=0.5)
    add("large margins, beta 1", "dpo", {"beta": 1}, LARGE, loss_types=["sigmoid"], beta=1.0)
    add("large margins, beta 1", "dpo-hinge", {"beta": 1}, LARGE, loss_types=["hinge"], beta=1.0)
    add("mixed batch, tau 0.2", "dpo-discopop", {"tau": 0.2}, MAIN, loss_types=["discopop"], beta=0.1, discopop_tau=0.2)

    # Losses with label smoothing.
    for label, data in BATCHES:
        add(f"{label}, label_smoothing 1e-3", "dpo-exo-pair", {}, data, loss_types=["exo_pair"], beta=0.1, label_smoothing=1e-3)
        add(f"{label}, label_smoothing 0.1", "dpo-robust", {"labelSmoothing": 0.1}, data, loss_types=["robust"], beta=0.1,
            label_smoothing=0.1)
    add("mixed batch, label_smoothing 0.2, beta 0.5", "dpo-exo-pair", {"labelSmoothing": 0.2, "beta": 0.5}, MAIN,
        loss_types=["exo_pair"], beta=0.5, label_smoothing=0.2)
    add("mixed batch, label_smoothing 0 (DPO)", "dpo-robust", {}, MAIN, loss_types=["robust"], beta=0.1)
    for loss, loss_type in [("dpo-aot", "aot"), ("dpo-aot-unpaired", "aot_unpaired")]:
        add("mixed batch", loss, {}, MAIN, loss_types=[loss_type], beta=0.1)
        add("mixed batch, label_smoothing 0.1", loss, {"labelSmoothing": 0.1}, MAIN, loss_types=[loss_type], beta=0.1,
            label_smoothing=0.1)
        add("large margins", loss, {}, LARGE, loss_types=[loss_type], beta=0.1)
        add("one pair", loss, {}, SINGLE, loss_types=[loss_type], beta=0.1)

    # f-divergences: the dedicated losses and the divergence option of the losses built on Delta.
    for name, f_type, extra in DIVERGENCES:
        alpha = extra.get("alphaDivergence", 0.5)
        for label, data in BATCHES:
            add(f"{label}, f_divergence_type {f_type}", f"dpo-{name}", dict(extra), data, loss_types=["sigmoid"], beta=0.1,
                f_divergence_type=f_type, f_alpha_divergence_coef=alpha)
        for loss, loss_type, more in [("dpo-hinge", "hinge", {}), ("dpo-robust", "robust", {"labelSmoothing": 0.1}),
                                      ("dpo-exo-pair", "exo_pair", {}), ("dpo-discopop", "discopop", {}),
                                      ("dpo-apo-down", "apo_down", {})]:
            smoothing = more.get("labelSmoothing", 1e-3 if loss_type == "exo_pair" else 0.0)
            add(f"mixed batch, f_divergence_type {f_type}", loss, {"divergence": name, **extra, **more}, MAIN,
                loss_types=[loss_type], beta=0.1, f_divergence_type=f_type, f_alpha_divergence_coef=alpha,
                label_smoothing=smoothing)
    add("mixed batch, alpha 0.5 (default)", "dpo-alpha", {}, MAIN, loss_types=["sigmoid"], beta=0.1,
        f_divergence_type="alpha_divergence", f_alpha_divergence_coef=0.5)

    # Multi-loss (the MPO recipe and another mix).
    add("mixed batch, MPO: sigmoid 0.8 + bco_pair 0.2 + sft 1", "dpo-mix", {}, MAIN,
        loss_types=["sigmoid", "bco_pair", "sft"], loss_weights=[0.8, 0.2, 1.0], beta=0.1)
    add("mixed batch, hinge 0.5 + apo_zero 1.5, beta 0.3", "dpo-mix",
        {"beta": 0.3, "lossTypes": ["hinge", "apo_zero"], "lossWeights": [0.5, 1.5]}, MAIN,
        loss_types=["hinge", "apo_zero"], loss_weights=[0.5, 1.5], beta=0.3)

    # LD-DPO and WPO.
    for ld in [0.5, 0.0]:
        add(f"mixed batch, ld_alpha {ld}", "dpo", {"ldAlpha": ld}, with_tails(MAIN), loss_types=["sigmoid"], beta=0.1,
            ld_alpha=ld)
    add("mixed batch, ld_alpha 0.5", "dpo-ipo", {"ldAlpha": 0.5}, with_tails(MAIN), loss_types=["ipo"], beta=0.1, ld_alpha=0.5)
    add("mixed batch, use_weighting (weights above 1 included)", "dpo", {"useWeighting": True}, with_aligned(MAIN, 61),
        loss_types=["sigmoid"], beta=0.1, use_weighting=True)
    add("mixed batch, use_weighting", "dpo-hinge", {"useWeighting": True}, with_aligned(MAIN, 61), loss_types=["hinge"],
        beta=0.1, use_weighting=True)
    return cases


def sigmoid_norm_cases():
    cases = []
    for label, data in BATCHES:
        cases.append(case(f"{label}, beta 0.1", "dpo-sigmoid-norm", {}, data,
                          lambda t: dpo_loss(t, ["sigmoid_norm"], [1.0], beta=0.1)))
    cases.append(case("mixed batch, beta 2", "dpo-sigmoid-norm", {"beta": 2}, MAIN,
                      lambda t: dpo_loss(t, ["sigmoid_norm"], [1.0], beta=2.0)))
    return cases


def legacy_cases():
    return [
        case("mixed batch, label_smoothing 0.1 (cDPO)", "dpo", {"labelSmoothing": 0.1}, MAIN,
             lambda t: dpo_loss_legacy(t, 0.1, label_smoothing=0.1)),
        case("large margins, label_smoothing 0.3 (cDPO)", "dpo", {"labelSmoothing": 0.3}, LARGE,
             lambda t: dpo_loss_legacy(t, 0.1, label_smoothing=0.3)),
        case("mixed batch, reference_free", "dpo", {"referenceFree": True}, MAIN,
             lambda t: dpo_loss_legacy(t, 0.1, reference_free=True)),
    ]


# CPO's batches: log-probs of prompt-free completions whose per-token averages stay below -0.05
# (ORPO takes log(1 - e^a)).
CPO_MAIN = paired(21, 5, low=-9.0, high=-1.0)
CPO_EQUAL = {**EQUAL}


def cpo_cases():
    cases = []
    for loss_type in ["sigmoid", "hinge", "ipo", "simpo"]:
        options = {} if loss_type == "sigmoid" else {"lossType": loss_type}
        for label, data in [("mixed batch", CPO_MAIN), ("equal log-probs", CPO_EQUAL)]:
            cases.append(case(f"{label}, loss_type {loss_type}, cpo_alpha 1", "cpo", options, data,
                              lambda t, lt=loss_type: cpo_loss(t, lt, 0.1)))
    cases.append(case("mixed batch, label_smoothing 0.1, beta 0.5, cpo_alpha 0.5", "cpo",
                      {"labelSmoothing": 0.1, "beta": 0.5, "nllWeight": 0.5}, CPO_MAIN,
                      lambda t: cpo_loss(t, "sigmoid", 0.5, label_smoothing=0.1, cpo_alpha=0.5)))
    cases.append(case("mixed batch, sigmoid with alpha 0.3 (AlphaPO reward on summed log-probs)", "cpo",
                      {"alpha": 0.3}, CPO_MAIN, lambda t: cpo_loss(t, "sigmoid", 0.1, alpha=0.3)))
    cases.append(case("large margins, loss_type sigmoid", "cpo", {}, LARGE, lambda t: cpo_loss(t, "sigmoid", 0.1)))
    for label, data in [("mixed batch", CPO_MAIN), ("equal log-probs", CPO_EQUAL), ("large margins", LARGE)]:
        cases.append(case(f"{label}, simpo, cpo_alpha 0", "simpo", {}, data,
                          lambda t: cpo_loss(t, "simpo", 0.1, cpo_alpha=0.0)))
    cases.append(case("mixed batch, simpo, beta 2, gamma 1, label_smoothing 0.1", "simpo",
                      {"beta": 2, "gamma": 1, "labelSmoothing": 0.1}, CPO_MAIN,
                      lambda t: cpo_loss(t, "simpo", 2.0, simpo_gamma=1.0, label_smoothing=0.1, cpo_alpha=0.0)))
    cases.append(case("mixed batch, simpo with cpo_alpha 1 (the NLL term)", "simpo", {"nllWeight": 1}, CPO_MAIN,
                      lambda t: cpo_loss(t, "simpo", 0.1, cpo_alpha=1.0)))
    for alpha in [0.25, -0.5]:
        for label, data in [("mixed batch", CPO_MAIN), ("equal log-probs", CPO_EQUAL)]:
            cases.append(case(f"{label}, simpo with alpha {alpha}, cpo_alpha 0", "alphapo", {"alpha": alpha}, data,
                              lambda t, a=alpha: cpo_loss(t, "simpo", 0.1, alpha=a, cpo_alpha=0.0)))
    cases.append(case("mixed batch, alpha 0.25, beta 2, gamma 0.8", "alphapo", {"beta": 2, "gamma": 0.8}, CPO_MAIN,
                      lambda t: cpo_loss(t, "simpo", 2.0, simpo_gamma=0.8, alpha=0.25, cpo_alpha=0.0)))
    return cases


def orpo_cases():
    return [
        case(f"{label}, beta {beta}", "orpo", {} if beta == 0.1 else {"beta": beta}, data, lambda t, b=beta: orpo_loss(t, b))
        for label, data in [("mixed batch", CPO_MAIN), ("equal log-probs", CPO_EQUAL)]
        for beta in [0.1, 1.0]
    ]


def kto_cases():
    cases = []
    for label, data in [("mixed batch", KTO_MAIN), ("anchor clamped at 0", KTO_NEGATIVE_ANCHOR),
                        ("all desirable", KTO_ALL_DESIRABLE)]:
        cases.append(unpaired_case(f"{label}, beta 0.1", "kto", {}, data, lambda t: kto_loss(t, "kto", 0.1)))
        cases.append(unpaired_case(f"{label}, beta 0.1", "kto-apo-zero-unpaired", {}, data,
                                   lambda t: kto_loss(t, "apo_zero_unpaired", 0.1)))
    cases.append(unpaired_case("mixed batch, beta 0.5, desirable 1.33, undesirable 0.7", "kto",
                               {"beta": 0.5, "desirableWeight": 1.33, "undesirableWeight": 0.7}, KTO_MAIN,
                               lambda t: kto_loss(t, "kto", 0.5, 1.33, 0.7)))
    cases.append(unpaired_case("mixed batch, beta 0.5, desirable 1.33, undesirable 0.7", "kto-apo-zero-unpaired",
                               {"beta": 0.5, "desirableWeight": 1.33, "undesirableWeight": 0.7}, KTO_MAIN,
                               lambda t: kto_loss(t, "apo_zero_unpaired", 0.5, 1.33, 0.7)))
    return cases


def fixtures():
    return {
        "trl-dpo": (TRL_DPO, dpo_cases()),
        "trl-dpo-sigmoid-norm": (TRL_DPO_SIGMOID_NORM, sigmoid_norm_cases()),
        "trl-dpo-legacy": (TRL_DPO_LEGACY, legacy_cases()),
        "trl-cpo": (TRL_CPO, cpo_cases()),
        "trl-orpo": (TRL_ORPO, orpo_cases()),
        "trl-kto": (TRL_KTO, kto_cases()),
    }


def rounded(value):
    """12 significant digits: far beyond the 1e-5 the tests ask, and stable across torch builds."""
    if isinstance(value, bool):
        return value
    if isinstance(value, float):
        return float(f"{value:.12g}") + 0.0
    if isinstance(value, list):
        return [rounded(v) for v in value]
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    return value


def render(reference, cases):
    for c in cases:
        assert math.isfinite(c["expected"]["loss"]), f"{c['loss']}, {c['name']}: the reference loss is not finite"
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
