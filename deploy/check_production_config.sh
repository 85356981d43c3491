#!/usr/bin/env bash
# Checks deploy/ivcrush.production.toml with the binary itself, so every key is checked against
# the real configuration structs (unknown keys are errors there):
#   - with dummy keys in the environment (as the units and pods provide them), `ivcrush config
#     check` says "configuration OK" and warns about nothing;
#   - the effective configuration (`config show`) is live: provider tradier, the ticker's feed
#     tradier, the admin port apart from the API port, the scheduler on;
#   - without the keys, the check fails: no key is hidden in the file;
#   - deploy/ivcrush.production.env.example sets no IVCRUSH_* setting (IVCRUSH_PROVIDER=sim
#     there would override the file).
#
#     bash deploy/check_production_config.sh target/debug/ivcrush     # from the repository root
set -euo pipefail

bin=${1:?usage: check_production_config.sh PATH/TO/ivcrush}
file=${PRODUCTION_TOML:-deploy/ivcrush.production.toml}
[ -x "$bin" ] || { echo "check_production_config: $bin is not executable" >&2; exit 2; }
[ -f "$file" ] || { echo "check_production_config: $file missing" >&2; exit 2; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# A clean environment (no IVCRUSH_* or DATABASE_URL of the CI run leaks in), from a directory
# without an ivcrush.toml.
with_keys=(env -i PATH="$PATH" HOME="$tmp"
    TRADIER_API_KEY=ci-dummy-tradier ALPHAVANTAGE_API_KEY=ci-dummy-alphavantage
    IVCRUSH_API_KEYS=ci-dummy-api-key-0123456789
    DATABASE_URL=postgres://ivcrush:ci-dummy@127.0.0.1:5432/ivcrush
    REDIS_URL=redis://127.0.0.1:6379)
abs_file=$(cd "$(dirname "$file")" && pwd)/$(basename "$file")
fail=0

if (cd "$tmp" && "${with_keys[@]}" "$bin" config check --config "$abs_file") >"$tmp/out" 2>"$tmp/err" \
    && grep -qx 'configuration OK' "$tmp/out" && [ ! -s "$tmp/err" ]; then
    echo "ok   ivcrush config check: $file"
else
    echo "FAIL ivcrush config check $file:" >&2
    cat "$tmp/out" "$tmp/err" >&2
    fail=1
fi

(cd "$tmp" && "${with_keys[@]}" "$bin" config show --config "$abs_file") >"$tmp/show" 2>/dev/null || true
# Top-level keys first, then [server] and [ticker]: one `key = value` line each in `config show`.
section() { awk -v s="$1" '/^\[/{cur=$0; next} cur==s' "$tmp/show"; }
expect() { # SECTION KEY REGEX
    local line
    line=$(section "$1" | grep -E "^$2 = " || true)
    if ! grep -qE "^$2 = $3\$" <<<"$line"; then
        echo "FAIL $file: ${1:-top level} $2 is '${line#* = }', expected $3" >&2
        fail=1
    fi
}
expect "" provider '"tradier"'
expect "" database_url '"(postgres://.*|sqlite:///var/lib/ivcrush/.*)"'
expect "[server]" bind '"0\.0\.0\.0:8080"'
expect "[server]" admin_bind '"0\.0\.0\.0:9090"'
expect "[server]" scheduler 'true'
expect "[ticker]" feed '"tradier"'
[ "$fail" -ne 0 ] || echo "ok   effective configuration: live provider and feed, admin port 9090, scheduler on"

if (cd "$tmp" && env -i PATH="$PATH" HOME="$tmp" "$bin" config check --config "$abs_file") >/dev/null 2>"$tmp/err"; then
    echo "FAIL $file passes without TRADIER_API_KEY/ALPHAVANTAGE_API_KEY: a key is in the file" >&2
    fail=1
elif grep -q 'TRADIER_API_KEY' "$tmp/err" && grep -q 'ALPHAVANTAGE_API_KEY' "$tmp/err"; then
    echo "ok   without the keys in the environment the check fails, naming them"
else
    echo "FAIL $file without keys: unexpected output:" >&2; cat "$tmp/err" >&2; fail=1
fi
# The production environment file must not switch the provider back (the environment wins).
env_example=${PRODUCTION_ENV:-deploy/ivcrush.production.env.example}
if grep -nE '^[[:space:]]*(export[[:space:]]+)?IVCRUSH_[A-Z_]+=' "$env_example" | grep -vE 'IVCRUSH_(API|ADMIN)_KEYS='; then
    echo "FAIL $env_example sets IVCRUSH_* settings (above): they would override $file" >&2
    fail=1
else
    echo "ok   $env_example sets no IVCRUSH_* setting that overrides the file"
fi
exit "$fail"
