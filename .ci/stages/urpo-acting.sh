#!/usr/bin/env bash
# URPO's acting claim on a short run (packages/bench/src/urpo.acting.test.ts): with the Method's
# defaults (mixed batch, KL, per-rollout candidate order) the referee's accuracy on 240 held-out
# verified countdown pairs rises over the run and beats the untrained referee (exact McNemar,
# p < 0.01), on two seeds. A warm start and a hundred GRPO steps per seed: too slow for `npm test`.
set -euo pipefail
cd "$(dirname "$0")/../.."
started=$(date +%s)
timeout --kill-after=5 "${URPO_ACTING_TIMEOUT:-900}" npx vitest run --config vitest.acting.config.ts packages/bench/src/urpo.acting.test.ts \
  --reporter=default --reporter=json --outputFile.json="${REPORT_DIR:-/tmp}/urpo-acting.json"
echo "urpo-acting stage took $(( $(date +%s) - started )) s"
