#!/usr/bin/env bash
# Checks the systemd units in deploy/: `systemd-analyze verify` finds nothing to say about them
# and `systemd-analyze security --offline=true` scores every service at most 2.0.
#
#     bash deploy/check_units.sh        # from the repository root; systemd >= 252
#
# The units are copied to a temporary directory with /usr/local/bin/ivcrush replaced by
# /bin/true (verify checks that ExecStart's command exists and is executable; the binary is not
# installed in CI). Prints each service's score; exits non-zero on any problem.
#
# User=ivcrush need not exist: systemd 252's verify does not resolve User= (that happens when the
# service starts), and security --offline only reads the unit. Should a later systemd complain
# about the missing user, only that message is tolerated (see USER_MSG below), and only while
# the user really is missing.
set -euo pipefail

THRESHOLD=20 # systemd-analyze's threshold is the exposure x 10: 20 = 2.0
SERVICES=(ivcrush-serve.service ivcrush-ticker.service ivcrush-scan.service ivcrush-worker@.service)
TIMERS=(ivcrush-scan.timer)
DEPLOY=${DEPLOY_DIR:-deploy}
USER_MSG='[Uu]ser.*ivcrush.*(not found|[Nn]o such|does not exist|[Uu]nknown|resolve)'

command -v systemd-analyze >/dev/null || { echo "check_units: systemd-analyze not found" >&2; exit 2; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for unit in "${SERVICES[@]}" "${TIMERS[@]}"; do
    [ -f "$DEPLOY/$unit" ] || { echo "check_units: $DEPLOY/$unit missing" >&2; exit 2; }
    sed 's#/usr/local/bin/ivcrush#/bin/true#g' "$DEPLOY/$unit" > "$tmp/$unit"
done

fail=0
names=$(printf '%s|' "${SERVICES[@]}" "${TIMERS[@]}" | sed 's/|$//; s/\./\\./g')

# verify. It may also print warnings about the host's own units (a dependency such as
# network-online.target and what it pulls in): only lines naming our units count.
set +e
out=$(cd "$tmp" && systemd-analyze verify --man=no "${SERVICES[@]/#/./}" "${TIMERS[@]/#/./}" 2>&1)
rc=$?
set -e
ours=$(printf '%s\n' "$out" | grep -E "$names|$tmp" || true)
if ! getent passwd ivcrush >/dev/null; then
    ours=$(printf '%s\n' "$ours" | grep -Ev "$USER_MSG" || true)
fi
if [ -n "$ours" ]; then
    echo "FAIL verify:" >&2
    printf '%s\n' "$ours" >&2
    fail=1
elif [ "$rc" -ne 0 ]; then
    echo "note: systemd-analyze verify exited $rc for reasons outside our units:" >&2
    printf '%s\n' "$out" >&2
else
    echo "ok   verify: ${SERVICES[*]} ${TIMERS[*]}"
fi

# security: score every service; fail above the threshold or on any warning about the file
# (an unknown key would silently lower the hardening).
for unit in "${SERVICES[@]}"; do
    set +e
    out=$(cd "$tmp" && systemd-analyze security --offline=true --threshold="$THRESHOLD" "./$unit" 2>&1)
    rc=$?
    set -e
    score=$(printf '%s\n' "$out" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' | tail -n 1)
    warn=$(printf '%s\n' "$out" | grep -E "^$tmp/" || true)
    if [ -z "$score" ]; then
        echo "FAIL $unit: no exposure level in systemd-analyze's output:" >&2
        printf '%s\n' "$out" >&2
        fail=1
    elif [ "$rc" -ne 0 ] || ! awk -v s="$score" -v t="$THRESHOLD" 'BEGIN { exit !(s * 10 <= t) }'; then
        echo "FAIL $unit: exposure $score > $((THRESHOLD / 10)).$((THRESHOLD % 10))" >&2
        printf '%s\n' "$out" | grep '✗' >&2 || true
        fail=1
    elif [ -n "$warn" ]; then
        echo "FAIL $unit: exposure $score but the unit has warnings:" >&2
        printf '%s\n' "$warn" >&2
        fail=1
    else
        echo "ok   $unit: exposure $score"
    fi
done

exit "$fail"
