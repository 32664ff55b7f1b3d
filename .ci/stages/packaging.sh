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

probe="probe-packaging-$$"
trap 'rm -rf "packages/$probe" "$own"' EXIT
echo "--- npm run new -- estimator $probe, then npm test from its folder"
node tools/scripts/new.mjs estimator "$probe"
(cd "packages/$probe" && npm test -- --reporter=default --reporter=json --outputFile.json="$own/own-test-generated.json")
rm -rf "packages/$probe"
node -e '
  for (const file of process.argv.slice(1)) {
    const report = JSON.parse(require("fs").readFileSync(file, "utf8"));
    if (!(report.numPassedTests > 0) || report.numFailedTests > 0) { console.error(file, "ran no passing test"); process.exit(1); }
  }
' "$own/own-test-rewards.json" "$own/own-test-generated.json"

echo "--- pack, install, import, type-check, publint, arethetypeswrong"
node tools/scripts/pack-check.mjs --report "$reports/packaging.json"
echo "packaging stage took $(( $(date +%s) - started )) s"
