#!/usr/bin/env bash
# Load benchmark (not a test): GET /api/v1/analyze/{ticker} served from the stored analysis.
# Builds the release `serve` example, starts it on the simulated market, warms the analysis,
# runs `wrk -t2 -c64 -d10s --latency`, prints the figures and stops the server.
# Needs wrk (apt-get install -y wrk) and curl. Usage: crates/server/bench/wrk.sh [PORT]
set -euo pipefail
cd "$(dirname "$0")/../../.."
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install -y wrk)" >&2; exit 1; }
port="${1:-18080}"
log_level="${LOG_LEVEL:-warn}"
cargo build --release -p ivcrush-server --example serve
dir="$(mktemp -d)"
key="bench-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
cat > "$dir/server.toml" <<TOML
bind = "127.0.0.1:${port}"
api_keys = ["${key}"]
rate_limit_per_minute = 100000000
rate_limit_burst = 1000000
scheduler = false
TOML
target/release/examples/serve --server-config "$dir/server.toml" --as-of 2026-02-02 \
  --database-url "sqlite://$dir/bench.db" --log-level "$log_level" > "$dir/server.log" 2>&1 &
pid=$!
cleanup() { kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT
base="http://127.0.0.1:${port}"
for _ in $(seq 1 200); do
  curl -fsS "$base/health/live" >/dev/null 2>&1 && break
  sleep 0.05
done
ticker="$(curl -fsS -H "X-API-Key: $key" "$base/api/v1/scan?limit=1" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["rows"][0]["ticker"])')"
url="$base/api/v1/analyze/$ticker"
echo "target: $url (log level $log_level)"
curl -fsS -o /dev/null -w 'first (computed) request: %{http_code} in %{time_total}s\n' \
  -H "X-API-Key: $key" "$url"
wrk -t2 -c64 -d2s -H "X-API-Key: $key" "$url" > /dev/null   # warm-up
wrk -t2 -c64 -d10s --latency -H "X-API-Key: $key" "$url"
