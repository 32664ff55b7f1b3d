#!/usr/bin/env bash
# Packages as users get them and as their authors test them:
# 1. a package's own `npm test`, run from its folder (an existing package and one made by
#    `npm run new`, removed again afterwards);
# 2. tools/scripts/pack-check.mjs: for every package, npm pack, a clean install of its tarball
#    with its @policy-lab/* tarballs only, an ESM import, a consumer type-checked with
#    skipLibCheck: false, publint and arethetypeswrong (each check counted in the report).
set -euo pipefail
cd "$(dirname "$0")/../.."
started=$(date +%s)
reports="${REPORT_DIR:-$(mktemp -d)}"
# the own-test runs repeat tests the unit stage counts: their reports stay out of the count
own="$(mktemp -d)"

echo "--- npm test from packages/rewards"
(cd packages/rewards && npm test -- --reporter=default --reporter=json --outputFile.json="$own/own-test-rewards.json")

probe=""
trap 'rm -rf ${probe:+"packages/$probe"} "$own"' EXIT
# Every template of the generator: its package type-checks and its own tests pass from its folder.
for variant in estimator sampler reward-model task-source hook; do
  probe="probe-$variant-$$"
  echo "--- npm run new -- $variant $probe, then tsc and npm test from its folder"
  node tools/scripts/new.mjs "$variant" "$probe"
  npx tsc -p "packages/$probe" --noEmit
  (cd "packages/$probe" && npm test -- --reporter=default --reporter=json --outputFile.json="$own/own-test-$variant.json")
  rm -rf "packages/$probe"
done
probe=""
node -e '
  for (const file of process.argv.slice(1)) {
    const report = JSON.parse(require("fs").readFileSync(file, "utf8"));
    if (!(report.numPassedTests > 0) || report.numFailedTests > 0) { console.error(file, "ran no passing test"); process.exit(1); }
  }
' "$own"/own-test-*.json

echo "--- pack, install, import, type-check, publint, arethetypeswrong"
node tools/scripts/pack-check.mjs --report "$reports/packaging.json"
echo "packaging stage took $(( $(date +%s) - started )) s"
