#!/usr/bin/env bash
# BullMQ scale-out against a real redis-server on a loopback port (Debian's package), with a
# short stall interval; the server is stopped at the end whatever happens.
set -euo pipefail
cd "$(dirname "$0")/../.."
started=$(date +%s)

if ! command -v redis-server >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
fi
port=$(( 20000 + RANDOM % 20000 ))
auth_port=$(( port + 1 ))
# A second server that requires a password: the worker must authenticate and never print it.
password="pw-$RANDOM$RANDOM/x"
data="$(mktemp -d)"
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$data" --daemonize yes --pidfile "$data/redis.pid" >/dev/null
redis-server --port "$auth_port" --bind 127.0.0.1 --save '' --appendonly no --dir "$data" --daemonize yes --pidfile "$data/auth.pid" \
  --requirepass "$password" >/dev/null
trap 'kill "$(cat "$data/redis.pid")" "$(cat "$data/auth.pid")" 2>/dev/null || true; rm -rf "$data"' EXIT
for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
for _ in $(seq 50); do redis-cli -p "$auth_port" -a "$password" --no-auth-warning ping >/dev/null 2>&1 && break; sleep 0.1; done
echo "redis-server on 127.0.0.1:$port and, with a password, :$auth_port ($(( $(date +%s) - started )) s)"

encoded="$(node -e 'process.stdout.write(encodeURIComponent(process.argv[1]))' "$password")"
REDIS_URL="redis://127.0.0.1:$port" REDIS_AUTH_URL="redis://:$encoded@127.0.0.1:$auth_port" \
  timeout --kill-after=5 300 npx vitest run --config vitest.redis.config.ts \
  --reporter=default --reporter=json --outputFile.json="${REPORT_DIR:-/tmp}/redis.json"
echo "redis stage took $(( $(date +%s) - started )) s"
