#!/usr/bin/env bash
# The example third-party plugin, used as a user would: its own install and tests, then loaded
# into bench with --plugin (list, and a tiny comparison against GRPO).
set -euo pipefail
cd "$(dirname "$0")/../.."
plugin=./examples/third-party-plugin/index.js
(cd examples/third-party-plugin && npm install --no-audit --no-fund --silent && npm test)
npx --no -- bench list --plugin "$plugin" --json > "${REPORT_DIR:-/tmp}/example-list.json"
node -e '
  const doc = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const names = doc.methods.map((m) => m.name);
  if (!names.includes("example-top") || !doc.estimators.some((e) => e.name === "top-baseline")) { console.error("example plugin not listed:", names); process.exit(1); }
  console.log("bench list shows the example plugin:", names.join(", "));
' "${REPORT_DIR:-/tmp}/example-list.json"
out="$(mktemp -d)/compare"
npx --no -- bench compare example-top grpo --plugin "$plugin" --seeds 2 --budget episodes=64 --set evalTasks=8 --set sftSteps=20 --out "$out" --reps 200 > /dev/null
node -e '
  const doc = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  if (doc.runs.length !== 4) { console.error("expected 4 runs, got", doc.runs.length); process.exit(1); }
  console.log("bench compare example-top grpo: ok,", doc.runs.length, "runs");
' "$out/results.json"
