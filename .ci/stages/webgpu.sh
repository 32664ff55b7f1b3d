#!/usr/bin/env bash
# WebGPU parity on Mesa's CPU Vulkan driver (lavapipe from bookworm-backports): the GPU code
# path's correctness without a GPU. The tests fail (not skip) when no adapter is found.
set -euo pipefail
cd "$(dirname "$0")/../.."
started=$(date +%s)
# .ci/run stops this stage after STAGE_TIMEOUT seconds (600 by default); each step gets what is left
# of that cap minus a margin, not a figure measured on a quiet machine (a loaded 2-core one is slower).
cap="${STAGE_TIMEOUT:-600}"
left() { local n=$(( cap - ($(date +%s) - started) - 15 )); echo $(( n > 1 ? n : 1 )); }

eval "$(bash packages/trainer/scripts/setup-lavapipe.sh .cache/lavapipe | tail -n 1)"
export POLICY_LAB_EXPECT_WEBGPU=1
echo "lavapipe ready in $(( $(date +%s) - started )) s ($VK_DRIVER_FILES)"

timeout --kill-after=5 "$(left)" npx vitest run --config vitest.gpu.config.ts \
  --reporter=default --reporter=json --outputFile.json="${REPORT_DIR:-/tmp}/webgpu.json"

help="$(npx --no -- bench --help)"
if grep -q '^  train ' <<<"$help"; then
  echo "--- 3-step bench train smoke run on webgpu"
  timeout --kill-after=5 "$(left)" npx --no -- bench train grpo --env countdown --backend webgpu --sft none \
    --budget episodes=24 --set tasksPerStep=2 --set groupSize=4 --json > "${REPORT_DIR:-/tmp}/webgpu-train.out"
  node -e '
    const doc = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const adapter = doc.backendInfo && doc.backendInfo.adapter;
    if (doc.backend !== "webgpu" || !(doc.steps >= 1) || !adapter || !adapter.vendor) { console.error("webgpu smoke run: unexpected", doc.backend, doc.steps, adapter); process.exit(1); }
    console.log("webgpu smoke run:", doc.steps, "steps on adapter", JSON.stringify(adapter));
  ' "${REPORT_DIR:-/tmp}/webgpu-train.out"
fi
echo "webgpu stage took $(( $(date +%s) - started )) s"
