#!/usr/bin/env python3
"""Checks that the Grafana dashboard (and optionally the alerting rules) only use metrics that
ivcrush really exposes.

    python3 deploy/check_dashboard.py deploy/grafana/ivcrush.json EXPOSITION.txt... \
        [--rules deploy/prometheus/alerts.yml]

Every metric name used in the dashboard's PromQL `expr`s (identifiers matching
`(ivcrush|process)_[a-z_]+`, plus `up`) must be the name of a sample in at least one of the
Prometheus text expositions (e.g. `curl -s localhost:8080/metrics > serve.txt`). A histogram
family `x` counts as present when `x_bucket`, `x_sum` or `x_count` samples exist; a name used
with the suffix `_bucket`, `_sum` or `_count` is looked up as that family. With `--rules`, the
`expr`s of a Prometheus rules file are checked the same way, except `up` (Prometheus makes it
for every target; no exposition contains it).

Exit status: 0 every name found, 1 some missing (listed on stderr with where they are used),
2 usage or an unreadable file. Python 3 standard library only.
"""

import argparse
import json
import re
import sys

NAME_RE = re.compile(r"(?<![A-Za-z0-9_:])(?:ivcrush|process)_[a-z0-9_]*[a-z_](?![A-Za-z0-9_:])")
UP_RE = re.compile(r"(?<![A-Za-z0-9_:$.])up(?![A-Za-z0-9_:(])")
STRING_RE = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
SUFFIXES = ("_bucket", "_sum", "_count")


def metric_names(expr):
    """Metric names used by one PromQL expression (string literals such as label values and
    Grafana's `$__rate_interval` do not count)."""
    code = STRING_RE.sub('""', expr)
    names = set(NAME_RE.findall(code))
    if UP_RE.search(code):
        names.add("up")
    return names


def exposition_samples(path):
    """Sample names of a Prometheus text exposition (comment lines skipped)."""
    names = set()
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            m = re.match(r"[A-Za-z_:][A-Za-z0-9_:]*", line)
            if m:
                names.add(m.group(0))
    return names


def present(name, samples):
    if name in samples:
        return True
    if name.endswith(SUFFIXES):
        # `x_bucket` used: the family `x` must be a histogram with `x_bucket` samples.
        return False
    return any(name + s in samples for s in SUFFIXES)


def dashboard_exprs(path):
    """(where, expr) for every `expr` in a dashboard, `where` naming the panel."""
    with open(path, encoding="utf-8") as f:
        dashboard = json.load(f)
    out = []

    def walk(node, where):
        if isinstance(node, dict):
            if node.get("type") != "row" and "title" in node and "gridPos" in node:
                where = "panel %r" % node["title"]
            for key, value in node.items():
                if key == "expr" and isinstance(value, str):
                    out.append((where, value))
                else:
                    walk(value, where)
        elif isinstance(node, list):
            for item in node:
                walk(item, where)

    walk(dashboard, "dashboard")
    return out


def rules_exprs(path):
    """(where, expr) for every `expr:` of a Prometheus rules file (a small YAML reader for the
    shapes rules files use: `expr: inline`, quoted, or a `|` / `>` block)."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    out = []
    where = path
    i = 0
    while i < len(lines):
        line = lines[i]
        m = re.match(r"^(\s*)-?\s*(alert|record):\s*(.+?)\s*$", line)
        if m:
            where = "%s %s" % (m.group(2), m.group(3).strip("'\""))
        m = re.match(r"^(\s*)(-\s+)?expr:\s*(.*?)\s*$", line)
        if not m:
            i += 1
            continue
        indent = len(m.group(1)) + len(m.group(2) or "")
        value = m.group(3)
        if re.match(r"^[|>][-+0-9]*$", value):
            block = []
            i += 1
            while i < len(lines):
                nxt = lines[i]
                if nxt.strip() and len(nxt) - len(nxt.lstrip()) <= indent:
                    break
                block.append(nxt.strip())
                i += 1
            out.append((where, " ".join(block)))
            continue
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        else:
            value = re.sub(r"\s+#.*$", "", value)
        out.append((where, value))
        i += 1
    return out


def check(label, exprs, samples, ignore):
    missing = {}
    for where, expr in exprs:
        for name in metric_names(expr):
            if name in ignore or present(name, samples):
                continue
            missing.setdefault(name, set()).add(where)
    for name in sorted(missing):
        print("%s: %s not in any exposition (used in %s)"
              % (label, name, ", ".join(sorted(missing[name]))), file=sys.stderr)
    return not missing


def main(argv):
    parser = argparse.ArgumentParser(
        description="Check that a Grafana dashboard and Prometheus rules use only exposed metrics.")
    parser.add_argument("dashboard", help="Grafana dashboard JSON")
    parser.add_argument("expositions", nargs="+", help="Prometheus text expositions")
    parser.add_argument("--rules", action="append", default=[],
                        help="a Prometheus rules file to check too (`up` ignored); repeatable")
    args = parser.parse_args(argv)

    try:
        samples = set()
        for path in args.expositions:
            samples |= exposition_samples(path)
        dash = dashboard_exprs(args.dashboard)
        rules = [(path, rules_exprs(path)) for path in args.rules]
    except (OSError, ValueError) as e:
        print("error: %s" % e, file=sys.stderr)
        return 2
    if not samples:
        print("error: no samples in %s" % ", ".join(args.expositions), file=sys.stderr)
        return 2

    ok = check(args.dashboard, dash, samples, ignore=set())
    count = len(dash)
    for path, exprs in rules:
        ok = check(path, exprs, samples, ignore={"up"}) and ok
        count += len(exprs)
    if ok:
        print("ok: %d expressions, every metric found in %d exposition(s)"
              % (count, len(args.expositions)))
        return 0
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
