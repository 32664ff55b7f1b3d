"""Plain-PyTorch forward of a Hugging Face model folder, without transformers or safetensors.

The cross-implementation check of policy-lab's loader (packages/trainer/src/hf): it reads the
same config.json and safetensors files (one file, or shards listed by
model.safetensors.index.json; F32, F16 and BF16 converted to float32) and computes next-token
logits with the arithmetic of transformers' modeling_llama.py (and its Qwen2, Qwen3 and Mistral
siblings) and modeling_gpt2.py, written out again here in torch ops:
  Llama family: RMSNorm x * rsqrt(mean(x^2) + eps) * w; rotary positions by rotate_half with
  rope_theta and linear / llama3 rope_scaling; grouped-query attention (each key/value head
  serves heads / kv_heads consecutive query heads); SwiGLU; Qwen2's q/k/v bias; Qwen3's per-head
  q/k RMSNorm before the rotation; tied or untied lm_head.
  GPT-2: learned positions, LayerNorm, Conv1D weights ([in, out]), GELU-new (tanh), tied head.

Usage: python3 torch_hf_forward.py FOLDER IDS_JSON
  IDS_JSON  a file holding rows of token ids of one length, [[1, 5, ...], ...]
Prints one JSON line: {"torch", "blas", "blasLibraries", "logits": [rows][T][vocab]}.
"""
import json
import math
import os
import sys

import torch
import torch.nn.functional as F

from blas_check import blas_in_use
from safetensors_file import read_safetensors

NEG_INF = -1e9


def read_folder(folder):
    index = os.path.join(folder, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index) as handle:
            files = sorted(set(json.load(handle)["weight_map"].values()))
    else:
        files = ["model.safetensors"]
    tensors = {}
    for file in files:
        tensors.update(read_safetensors(os.path.join(folder, file)))
    return tensors


# ---------------------------------------------------------------------------------------------
# Llama family


def rms_norm(x, weight, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * weight


def inverse_frequencies(config, head_dim):
    base = float(config.get("rope_theta", 10000.0))
    inv = 1.0 / (base ** (torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim))
    scaling = config.get("rope_scaling") or {}
    kind = scaling.get("rope_type", scaling.get("type", "default"))
    if kind == "default":
        return inv
    if kind == "linear":
        return inv / scaling["factor"]
    if kind == "llama3":
        factor = scaling["factor"]
        low, high = scaling["low_freq_factor"], scaling["high_freq_factor"]
        old = scaling["original_max_position_embeddings"]
        low_wavelength, high_wavelength = old / low, old / high
        wavelength = 2 * math.pi / inv
        scaled = torch.where(wavelength > low_wavelength, inv / factor, inv)
        smooth = (old / wavelength - low) / (high - low)
        smoothed = (1 - smooth) * scaled / factor + smooth * scaled
        medium = ~(wavelength < high_wavelength) * ~(wavelength > low_wavelength)
        return torch.where(medium, smoothed, scaled)
    raise SystemExit(f"rope_scaling type {kind} is not written in this peer")


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def llama_logits(config, w, ids):
    kind = config["model_type"]
    rows, length = ids.shape
    hidden = config["hidden_size"]
    heads = config["num_attention_heads"]
    kv_heads = config.get("num_key_value_heads") or heads
    head_dim = config.get("head_dim") or hidden // heads
    eps = config.get("rms_norm_eps", 1e-6)
    attention_bias = config.get("attention_bias", False)
    qkv_bias = kind == "qwen2" or attention_bias
    o_bias = kind != "qwen2" and attention_bias
    mlp_bias = config.get("mlp_bias", False)

    def linear(x, name, bias):
        y = x @ w[f"{name}.weight"].T
        return y + w[f"{name}.bias"] if bias else y

    positions = torch.arange(length, dtype=torch.float32)
    frequencies = torch.outer(positions, inverse_frequencies(config, head_dim))
    angles = torch.cat((frequencies, frequencies), dim=-1)
    cos, sin = angles.cos(), angles.sin()
    causal = torch.triu(torch.full((length, length), NEG_INF), 1)
    x = w["model.embed_tokens.weight"][ids]
    for layer in range(config["num_hidden_layers"]):
        p = f"model.layers.{layer}"
        h = rms_norm(x, w[f"{p}.input_layernorm.weight"], eps)
        q = linear(h, f"{p}.self_attn.q_proj", qkv_bias).view(rows, length, heads, head_dim)
        k = linear(h, f"{p}.self_attn.k_proj", qkv_bias).view(rows, length, kv_heads, head_dim)
        v = linear(h, f"{p}.self_attn.v_proj", qkv_bias).view(rows, length, kv_heads, head_dim)
        if kind == "qwen3":
            q = rms_norm(q, w[f"{p}.self_attn.q_norm.weight"], eps)
            k = rms_norm(k, w[f"{p}.self_attn.k_norm.weight"], eps)
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = k.repeat_interleave(heads // kv_heads, dim=1)
        v = v.repeat_interleave(heads // kv_heads, dim=1)
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(head_dim) + causal
        attended = (scores.softmax(-1) @ v).transpose(1, 2).reshape(rows, length, heads * head_dim)
        x = x + linear(attended, f"{p}.self_attn.o_proj", o_bias)
        h = rms_norm(x, w[f"{p}.post_attention_layernorm.weight"], eps)
        gated = F.silu(linear(h, f"{p}.mlp.gate_proj", mlp_bias)) * linear(h, f"{p}.mlp.up_proj", mlp_bias)
        x = x + linear(gated, f"{p}.mlp.down_proj", mlp_bias)
    x = rms_norm(x, w["model.norm.weight"], eps)
    head = w["model.embed_tokens.weight"] if config.get("tie_word_embeddings", False) else w["lm_head.weight"]
    return x @ head.T


# ---------------------------------------------------------------------------------------------
# GPT-2


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


def gpt2_logits(config, stored, ids):
    # GPT2LMHeadModel keeps the trunk under "transformer."; the original upload has no prefix.
    w = {name[len("transformer.") :] if name.startswith("transformer.") else name: t for name, t in stored.items()}
    rows, length = ids.shape
    hidden, heads = config["n_embd"], config["n_head"]
    head_dim = hidden // heads
    eps = config.get("layer_norm_epsilon", 1e-5)

    def norm(x, name):
        return F.layer_norm(x, (hidden,), w[f"{name}.weight"], w[f"{name}.bias"], eps)

    def conv1d(x, name):
        return x @ w[f"{name}.weight"] + w[f"{name}.bias"]

    def split(x):
        return x.view(rows, length, heads, head_dim).transpose(1, 2)

    causal = torch.triu(torch.full((length, length), NEG_INF), 1)
    x = w["wte.weight"][ids] + w["wpe.weight"][:length]
    for layer in range(config["n_layer"]):
        p = f"h.{layer}"
        q, k, v = conv1d(norm(x, f"{p}.ln_1"), f"{p}.attn.c_attn").split(hidden, dim=-1)
        scores = (split(q) @ split(k).transpose(-1, -2)) / math.sqrt(head_dim) + causal
        attended = (scores.softmax(-1) @ split(v)).transpose(1, 2).reshape(rows, length, hidden)
        x = x + conv1d(attended, f"{p}.attn.c_proj")
        x = x + conv1d(gelu_new(conv1d(norm(x, f"{p}.ln_2"), f"{p}.mlp.c_fc")), f"{p}.mlp.c_proj")
    x = norm(x, "ln_f")
    head = w["wte.weight"] if config.get("tie_word_embeddings", True) else w["lm_head.weight"]
    return x @ head.T


def main():
    folder, ids_file = sys.argv[1], sys.argv[2]
    with open(os.path.join(folder, "config.json")) as handle:
        config = json.load(handle)
    with open(ids_file) as handle:
        ids = torch.tensor(json.load(handle), dtype=torch.int64)
    tensors = read_folder(folder)
    torch.set_num_threads(1)
    with torch.no_grad():
        if config["model_type"] == "gpt2":
            logits = gpt2_logits(config, tensors, ids)
        elif config["model_type"] in ("llama", "mistral", "qwen2", "qwen3"):
            logits = llama_logits(config, tensors, ids)
        else:
            raise SystemExit(f"model_type {config['model_type']} is not written in this peer")
    print(json.dumps({"torch": torch.__version__, **blas_in_use(), "logits": logits.tolist()}))


if __name__ == "__main__":
    main()
