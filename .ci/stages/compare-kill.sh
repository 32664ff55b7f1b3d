#!/usr/bin/env bash
# kill -9 of a real `bench compare` at named points (during an SFT warm start, mid-unit, between
# units, after results.json), of the coordinator alone and of its whole process tree; each is
# resumed with --resume and must end with the results.csv of an uninterrupted run, with every
# run's metrics.jsonl holding steps 1..N once (one writer per run folder). Tiny budgets on the
# test-local echo environment: a few minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/../.."
started=$(date +%s)

bench=(node packages/bench/bin/bench.js) # node itself, not npx: $! must be the coordinator's pid
tiny=packages/trainer/src/test-support/tiny.ts
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
args=(compare grpo reinforce-mean --env echo --seeds 2 --budget episodes=240 --workers 1 --threads 1 --reps 200
  --plugin "$tiny" --set evalTasks=4 --set sftSteps=600 --set tasksPerStep=4 --set groupSize=6
  --set checkpointEvery=1 --set evalEvery=5)

t0=$(date +%s)
"${bench[@]}" "${args[@]}" --out "$work/reference" >/dev/null 2>"$work/reference.log"
units=$(find "$work/reference/runs" -mindepth 1 -maxdepth 1 -type d | wc -l)
echo "uninterrupted comparison: $units runs in $(( $(date +%s) - t0 )) s"

reached() { # point, out folder
  local n
  case $1 in
    sft) [ -n "$(find "$2/sft-cache" -name '*.lock' 2>/dev/null)" ] ;;
    mid-unit)
      for m in "$2"/runs/*/metrics.jsonl; do
        [ -f "$m" ] && [ ! -f "$(dirname "$m")/result.json" ] && [ "$(wc -l <"$m")" -ge 3 ] && return 0
      done
      return 1 ;;
    between-units) n=$(find "$2/runs" -name result.json 2>/dev/null | wc -l); [ "$n" -ge 1 ] && [ "$n" -lt "$units" ] ;;
    after-results) [ -f "$2/results.json" ] ;;
  esac
}

alive() { [ -e "/proc/$1" ] && ! grep -q '^[0-9]* (.*) Z' "/proc/$1/stat" 2>/dev/null; }

failures=0
for mode in coordinator tree; do
  for point in sft mid-unit between-units after-results; do
    t0=$(date +%s)
    out="$work/$mode-$point"
    if [ "$mode" = tree ]; then
      setsid "${bench[@]}" "${args[@]}" --out "$out" >/dev/null 2>"$out.log" &
    else
      "${bench[@]}" "${args[@]}" --out "$out" >/dev/null 2>"$out.log" &
    fi
    pid=$!
    until reached "$point" "$out"; do
      if ! alive "$pid"; then echo "FAIL $mode/$point: the comparison ended before the point was reached"; exit 1; fi
      sleep 0.02
    done
    workers=$(pgrep -P "$pid" || true)
    if [ "$mode" = tree ]; then kill -9 -- "-$pid" 2>/dev/null || true; else kill -9 "$pid" 2>/dev/null || true; fi
    wait "$pid" 2>/dev/null || true
    # Orphaned workers must die with their coordinator (within a few seconds), not train on.
    for _ in $(seq 100); do
      left=""; for w in $workers; do alive "$w" && left="$left $w"; done
      [ -z "$left" ] && break
      sleep 0.05
    done
    if [ -n "$left" ]; then echo "FAIL $mode/$point: workers$left outlived their coordinator"; failures=$((failures + 1)); kill -9 $left || true; fi
    t1=$(date +%s)
    if ! timeout 300 "${bench[@]}" "${args[@]}" --out "$out" --resume >/dev/null 2>"$out.resume.log"; then
      echo "FAIL $mode/$point: --resume failed:"; tail -3 "$out.resume.log"; failures=$((failures + 1)); continue
    fi
    if grep -q 'waiting' "$out.resume.log"; then echo "FAIL $mode/$point: the resume waited for a lock:"; grep waiting "$out.resume.log" | head -2; failures=$((failures + 1)); fi
    if ! cmp -s "$work/reference/results.csv" "$out/results.csv"; then
      echo "FAIL $mode/$point: results.csv differs from the uninterrupted run"; diff "$work/reference/results.csv" "$out/results.csv" | head -5
      failures=$((failures + 1)); continue
    fi
    if ! node -e '
      const fs = require("fs"), path = require("path");
      for (const id of fs.readdirSync(process.argv[1])) {
        const file = path.join(process.argv[1], id, "metrics.jsonl");
        if (!fs.existsSync(file)) continue;
        const steps = fs.readFileSync(file, "utf8").trim().split("\n").map((l) => JSON.parse(l).step);
        if (steps.some((s, i) => s !== i + 1)) { console.error(id, "metrics steps", steps.join(",")); process.exit(1); }
      }' "$out/runs"; then
      echo "FAIL $mode/$point: a metrics.jsonl has steps out of order (two writers)"; failures=$((failures + 1)); continue
    fi
    echo "ok $mode/$point: killed after $(( t1 - t0 )) s, resumed in $(( $(date +%s) - t1 )) s, results.csv identical"
  done
done
echo "compare-kill stage took $(( $(date +%s) - started )) s, $failures failure(s)"
[ "$failures" -eq 0 ]
