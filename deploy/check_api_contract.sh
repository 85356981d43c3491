#!/usr/bin/env bash
# The OpenAPI document is the contract: schemathesis, driven by the served
# /api/v1/openapi.json, sends generated requests (valid and invalid ones, by the document's
# own schemas) to a running `ivcrush serve` on the simulated market and runs every check
# (server errors, undocumented statuses, headers and content types, response schemas, valid
# data rejected, invalid data accepted, auth ignored, unsupported methods). Any finding fails.
#
#     bash deploy/check_api_contract.sh target/debug/ivcrush     # from the repository root
#
#   API_CONTRACT_VENV         virtualenv for schemathesis (default /tmp/ivcrush-api-contract-venv;
#                             installed on first use, reused after)
#   API_CONTRACT_MAX_EXAMPLES generated cases per operation and phase (default 40)
#   API_CONTRACT_MAX_TIME     time budget of the run in seconds (default 150)
#   API_CONTRACT_SEED         seed of the generator (default fixed: a run is reproducible)
#
# The key is an admin key, so that every operation is reachable (a read-only key's 403 on the
# breaker operations is tested in crates/server/tests). The server runs with a per-client
# rate limit far above what the run sends, so that the
# budget tests the routes rather than the limiter (429 is documented and tested in
# crates/server/tests); everything else is the default configuration.
set -euo pipefail

SCHEMATHESIS=schemathesis==4.32.5
bin=${1:?usage: check_api_contract.sh PATH/TO/ivcrush}
[ -x "$bin" ] || { echo "check_api_contract: $bin is not executable" >&2; exit 2; }
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
max_examples=${API_CONTRACT_MAX_EXAMPLES:-40}
max_time=${API_CONTRACT_MAX_TIME:-150}
seed=${API_CONTRACT_SEED:-20261203}

# The virtualenv helper of the linters, on a virtualenv of its own (schemathesis pins its own
# dependencies).
LINT_VENV=${API_CONTRACT_VENV:-/tmp/ivcrush-api-contract-venv}
# shellcheck source=deploy/lint_tools.sh
source "$(dirname "$0")/lint_tools.sh"
ensure_lint_tools "$SCHEMATHESIS"

tmp=$(mktemp -d)
server_pid=
cleanup() {
    if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
    rm -rf "$tmp"
}
trap cleanup EXIT

key="contract-key-$$-0123456789abcdef"
# A clean environment (no IVCRUSH_* or DATABASE_URL of the caller leaks in), from a directory
# without an ivcrush.toml: the simulated market as of a fixed date (a run is reproducible), a
# temporary SQLite file.
(cd "$tmp" && exec env -i PATH="$PATH" HOME="$tmp" IVCRUSH_ADMIN_KEYS="$key" \
    IVCRUSH_SERVER__RATE_LIMIT_PER_MINUTE=1000000 IVCRUSH_SERVER__RATE_LIMIT_BURST=100000 \
    "$bin" serve --as-of 2026-02-02 --bind 127.0.0.1:0 --no-scheduler \
    --database-url "sqlite://$tmp/contract.db" \
    >"$tmp/serve.out" 2>"$tmp/serve.err") &
server_pid=$!
base=
for _ in $(seq 1 150); do
    base=$(sed -n 's/^listening on \(http:\/\/[^ ]*\)$/\1/p' "$tmp/serve.err" | head -n1)
    [ -n "$base" ] && break
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.2
done
if [ -z "$base" ]; then
    echo "check_api_contract: the server did not start:" >&2
    cat "$tmp/serve.err" >&2
    exit 1
fi
echo "serving on $base"

# Statuses a valid request may get besides schemathesis' defaults: 422 is the documented
# answer to a well-formed request whose fields are fine one by one but not together (a window
# that ends before it starts) or that the data cannot serve (an earnings date the ticker does
# not have); no schema can rule these out in advance.
#
# Half the tickers and dates are drawn from values the simulated market knows (reports in the
# week after the as-of, any case and separator), so that analyses, histories and scans
# really run; the other half are generated from the schema. Breakers: the simulated market
# has none, so their names answer 404.
cat >"$tmp/schemathesis.toml" <<'EOF'
[checks.positive_data_acceptance]
expected-statuses = ["2xx", "401", "404", "422", "429", "503"]

[dictionaries.tickers]
values = ["XCEL", "ultr", "Glxy", "CNDR", "dune", "MRVL", "brk-b", "opal"]

[dictionaries.dates]
values = ["2026-01-20", "2026-02-02", "2026-02-03", "2026-02-05", "2026-02-09", "2026-02-20", "2026-03-20"]

[dictionaries.as_of]
values = ["2026-01-26", "2026-02-02", "2026-02-02T15:00:00-05:00", "2026-02-04T21:00:00Z"]

[parameters]
"path.ticker" = { dictionary = "tickers", probability = 0.5 }
"query.from" = { dictionary = "dates", probability = 0.5 }
"query.to" = { dictionary = "dates", probability = 0.5 }
"query.earnings_date" = { dictionary = "dates", probability = 0.5 }
"query.expiration" = { dictionary = "dates", probability = 0.5 }
"query.as_of" = { dictionary = "as_of", probability = 0.5 }
EOF

status=0
# From the temporary directory: schemathesis keeps a cache folder in its working directory.
(cd "$tmp" && "$LINT_VENV/bin/st" --config-file "$tmp/schemathesis.toml" run "$base/api/v1/openapi.json" \
    --header "X-API-Key: $key" \
    --checks all \
    --max-examples "$max_examples" \
    --max-time "$max_time" \
    --seed "$seed" \
    --workers 2 \
    --request-timeout 30 \
    --generation-database none \
    --no-color \
    --report junit --report-dir "$tmp/report") || status=$?

if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "check_api_contract: the server died during the run:" >&2
    cat "$tmp/serve.err" >&2
    status=1
fi
if grep -q 'panicked' "$tmp/serve.err" "$tmp/serve.out"; then
    echo "check_api_contract: the server panicked:" >&2
    grep -B2 -A5 'panicked' "$tmp/serve.err" "$tmp/serve.out" >&2
    status=1
fi
if [ "$status" -ne 0 ]; then
    echo "check_api_contract: schemathesis found contract violations (above)" >&2
    exit "$status"
fi
echo "the served OpenAPI document and the server agree: schemathesis, every check, no finding"
