#!/usr/bin/env bash
# Reference fixtures of @policy-lab/advantage (estimators), @policy-lab/trainer (row losses),
# @policy-lab/divergences (preference losses) and @policy-lab/rewards (the overlong shaper): install
# Debian's python3-torch, re-run each generator (verl's and TRL's formulas written out again) and fail when its output differs from the
# committed JSON, so the fixtures the unit tests replay provably come from the scripts.
set -euo pipefail
cd "$(dirname "$0")/../.."
started=$(date +%s)

python="$(bash .ci/python3-torch.sh)"

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
status=0
for folder in packages/advantage/reference packages/trainer/reference packages/divergences/reference packages/rewards/reference; do
  mkdir -p "$out/$folder"
  "$python" "$folder/generate.py" --out "$out/$folder"
  for fixture in "$folder"/*.json; do
    name="$(basename "$fixture")"
    if [ ! -f "$out/$folder/$name" ]; then echo "committed $folder/$name is not written by the generator"; status=1; continue; fi
    diff -u "$fixture" "$out/$folder/$name" || { echo "$folder/$name differs from the generator's output"; status=1; }
  done
  for generated in "$out/$folder"/*.json; do
    [ -f "$folder/$(basename "$generated")" ] || { echo "$folder/$(basename "$generated") is generated but not committed"; status=1; }
  done
  [ "$status" -eq 0 ] && echo "$folder: fixtures match the generator ($(ls "$out/$folder" | wc -l) files)"
done
echo "fidelity stage took $(( $(date +%s) - started )) s"
exit "$status"
