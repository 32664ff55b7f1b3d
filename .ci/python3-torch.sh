#!/usr/bin/env bash
# Installs Debian's python3-torch when missing and prints the interpreter to use (Debian's, not a
# pyenv or venv one: python3-torch installs into /usr/lib/python3). Stages that need PyTorch call
# it as python="$(bash .ci/python3-torch.sh)"; its progress line goes to stderr.
set -euo pipefail
started=$(date +%s)
python=/usr/bin/python3
# With OpenBLAS: PyTorch on Debian's reference BLAS is not the peer at its best (bench speed refuses it).
if ! "$python" -c 'import torch' >/dev/null 2>&1 || ! dpkg -s libopenblas0-pthread >/dev/null 2>&1; then
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-torch libopenblas0-pthread >/dev/null
fi
echo "python3-torch $("$python" -c 'import torch; print(torch.__version__)') ready in $(( $(date +%s) - started )) s" >&2
echo "$python"
