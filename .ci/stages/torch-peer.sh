#!/usr/bin/env bash
# Hugging Face checkpoints against an independent implementation: install Debian's python3-torch,
# then packages/trainer/src/hf/*.torch.test.ts writes tiny random Llama-family (GQA, untied, llama3
# rope scaling; sharded BF16; attention and MLP bias; Mistral), Qwen2 (q/k/v bias, sharded), Qwen3
# (q/k norms, BF16) and GPT-2 (F32, F16) checkpoints and requires our logits to equal packages/bench/peers/torch_hf_forward.py's to 1e-4.
set -euo pipefail
cd "$(dirname "$0")/../.."
started=$(date +%s)

python="$(bash .ci/python3-torch.sh)"

POLICY_LAB_TORCH_PYTHON="$python" timeout --kill-after=5 300 npx vitest run --config vitest.torch.config.ts \
  --reporter=default --reporter=json --outputFile.json="${REPORT_DIR:-/tmp}/torch-peer.json"
echo "torch-peer stage took $(( $(date +%s) - started )) s"
