"""Policy and consistency checks of deploy/kubernetes/ that a schema cannot express.

    python deploy/check_kubernetes.py [DIR]     # DIR defaults to deploy/kubernetes; needs PyYAML
    python deploy/check_kubernetes.py --sync-configmap   # configmap.yaml := the production TOML

Run by deploy/check_kubernetes.sh after the schema validation. Prints one line per problem and
exits 1 when there is any:

- every pod is locked down (runAsNonRoot, a fixed uid, seccomp RuntimeDefault, no privilege
  escalation, read-only root, every capability dropped, no service-account token, no service
  links) and every container has CPU/memory requests and limits;
- the ConfigMap holds deploy/ivcrush.production.toml verbatim, and that file asks for live data
  (`provider = "tradier"`), never the simulated market;
- serve: probes on the admin port of [server] admin_bind (readiness /health/ready, liveness and
  startup /health/live), the in-process scheduler off (--no-scheduler), a grace period longer
  than the preStop sleep plus [server] shutdown_grace_secs, a PodDisruptionBudget, a Service on
  8080 and a metrics Service on the admin port with Prometheus scrape annotations;
- the one scheduler is the CronJob: America/New_York, Forbid;
- ticker: one replica, Recreate, probes on [ticker] metrics_bind's port;
- every secret a pod reads is a key of the Secret template, whose values are placeholders;
- kustomization.yaml lists every manifest except the Secret template.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent
PRODUCTION_TOML = ROOT / "ivcrush.production.toml"
SECRET_TEMPLATE = "secret.example.yaml"
PLACEHOLDER = "CHANGE_ME"

problems: list[str] = []


def problem(msg: str) -> None:
    problems.append(msg)


def load(directory: Path) -> dict[tuple[str, str], tuple[str, dict]]:
    """Every object of every manifest, by (kind, name), with its file name."""
    objects: dict[tuple[str, str], tuple[str, dict]] = {}
    for path in sorted(directory.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for doc in yaml.safe_load_all(path.read_text()):
            if not doc:
                continue
            key = (doc["kind"], doc["metadata"]["name"])
            if key in objects:
                problem(f"{path.name}: {key[0]}/{key[1]} is defined twice")
            objects[key] = (path.name, doc)
    return objects


def port_of(addr: str) -> int:
    return int(addr.rsplit(":", 1)[1])


def pod_spec(obj: dict) -> dict:
    if obj["kind"] == "CronJob":
        return obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return obj["spec"]["template"]["spec"]


def check_pod(name: str, spec: dict, secret_keys: set[str]) -> None:
    where = f"{name}:"
    psc = spec.get("securityContext", {})
    if psc.get("runAsNonRoot") is not True:
        problem(f"{where} pod securityContext.runAsNonRoot must be true")
    if psc.get("runAsUser") != 10001 or psc.get("runAsGroup") != 10001:
        problem(f"{where} pod must run as uid/gid 10001 (the image's ivcrush user)")
    if psc.get("seccompProfile", {}).get("type") != "RuntimeDefault":
        problem(f"{where} pod seccompProfile must be RuntimeDefault")
    if spec.get("automountServiceAccountToken") is not False:
        problem(f"{where} automountServiceAccountToken must be false")
    if spec.get("enableServiceLinks") is not False:
        problem(f"{where} enableServiceLinks must be false (IVCRUSH_* service variables)")
    for c in spec.get("containers", []):
        cw = f"{name}/{c['name']}:"
        sc = c.get("securityContext", {})
        if sc.get("allowPrivilegeEscalation") is not False:
            problem(f"{cw} allowPrivilegeEscalation must be false")
        if sc.get("readOnlyRootFilesystem") is not True:
            problem(f"{cw} readOnlyRootFilesystem must be true")
        if sc.get("capabilities", {}).get("drop") != ["ALL"]:
            problem(f"{cw} capabilities.drop must be [ALL]")
        if sc.get("capabilities", {}).get("add"):
            problem(f"{cw} must add no capability")
        res = c.get("resources", {})
        for part in ("requests", "limits"):
            for r in ("cpu", "memory"):
                if r not in res.get(part, {}):
                    problem(f"{cw} resources.{part}.{r} missing")
        mounts = {m["mountPath"] for m in c.get("volumeMounts", [])}
        for path in ("/etc/ivcrush", "/var/lib/ivcrush", "/tmp"):
            if path not in mounts:
                problem(f"{cw} {path} must be mounted (read-only root filesystem)")
        for env in c.get("env", []):
            ref = env.get("valueFrom", {}).get("secretKeyRef")
            if ref and (ref.get("name") != "ivcrush-secrets" or ref.get("key") not in secret_keys):
                problem(f"{cw} env {env['name']} reads {ref}, not a key of {SECRET_TEMPLATE}")
            if ref and ref.get("key") != env["name"]:
                problem(f"{cw} env {env['name']} should read the Secret key of the same name")
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    if volumes.get("config", {}).get("configMap", {}).get("name") != "ivcrush-config":
        problem(f"{where} volume config must be the ConfigMap ivcrush-config")


def env_names(spec: dict) -> set[str]:
    return {e["name"] for c in spec["containers"] for e in c.get("env", [])}


def probe(c: dict, kind: str) -> tuple[str | None, object]:
    get = c.get(kind, {}).get("httpGet", {})
    return get.get("path"), get.get("port")


def named_port(c: dict, port: object) -> object:
    for p in c.get("ports", []):
        if p.get("name") == port:
            return p["containerPort"]
    return port


def sync_configmap(directory: Path) -> None:
    """Rewrites the ConfigMap's ivcrush.toml from the production file (comments above kept)."""
    path = directory / "configmap.yaml"
    marker = "  ivcrush.toml: |\n"
    head = path.read_text().split(marker)[0] + marker
    body = "".join("    " + line if line.strip() else "\n"
                   for line in PRODUCTION_TOML.read_text().splitlines(keepends=True))
    path.write_text(head + body)


def main() -> int:
    args = sys.argv[1:]
    if args[:1] == ["--sync-configmap"]:
        sync_configmap(Path(args[1]) if len(args) > 1 else ROOT / "kubernetes")
        return 0
    directory = Path(args[0]) if args else ROOT / "kubernetes"
    objects = load(directory)
    toml_text = PRODUCTION_TOML.read_text()
    cfg = tomllib.loads(toml_text)
    server, ticker = cfg.get("server", {}), cfg.get("ticker", {})

    def get(kind: str, name: str) -> dict:
        if (kind, name) not in objects:
            problem(f"{kind}/{name} missing")
            return {}
        return objects[(kind, name)][1]

    # The production file.
    if cfg.get("provider") != "tradier":
        problem(f"{PRODUCTION_TOML.name}: provider must be \"tradier\" (got {cfg.get('provider')!r})")
    db = cfg.get("database_url", "")
    if not (db.startswith("postgres") or db.startswith("sqlite:///var/lib/ivcrush/")):
        problem(f"{PRODUCTION_TOML.name}: database_url must be PostgreSQL or sqlite:///var/lib/ivcrush/...")
    for section in ("tradier", "alphavantage"):
        if cfg.get(section, {}).get("api_key"):
            problem(f"{PRODUCTION_TOML.name}: {section}.api_key belongs in the environment")
    if server.get("api_keys"):
        problem(f"{PRODUCTION_TOML.name}: server.api_keys belongs in IVCRUSH_API_KEYS")
    if "admin_bind" not in server:
        problem(f"{PRODUCTION_TOML.name}: server.admin_bind must be set (probes and metrics)")

    # ConfigMap = the production file.
    cm = get("ConfigMap", "ivcrush-config")
    if cm and cm.get("data", {}).get("ivcrush.toml") != toml_text:
        problem("configmap.yaml: data.ivcrush.toml differs from deploy/ivcrush.production.toml")

    # Secret template.
    secret = get("Secret", "ivcrush-secrets")
    secret_keys = set(secret.get("stringData", {}))
    for k, v in secret.get("stringData", {}).items():
        if PLACEHOLDER not in str(v):
            problem(f"{SECRET_TEMPLATE}: {k} must be a {PLACEHOLDER} placeholder, not a value")
    if secret.get("data"):
        problem(f"{SECRET_TEMPLATE}: use stringData placeholders, no data")

    workloads = {
        "serve": get("Deployment", "ivcrush-serve"),
        "scan": get("CronJob", "ivcrush-scan"),
        "ticker": get("Deployment", "ivcrush-ticker"),
    }
    # Keys each command needs with provider = "tradier" (config check fails without them).
    needs = {
        "serve": {"TRADIER_API_KEY", "ALPHAVANTAGE_API_KEY", "IVCRUSH_API_KEYS", "DATABASE_URL"},
        "scan": {"TRADIER_API_KEY", "ALPHAVANTAGE_API_KEY", "DATABASE_URL"},
        "ticker": {"TRADIER_API_KEY", "ALPHAVANTAGE_API_KEY", "REDIS_URL"},
    }
    for name, obj in workloads.items():
        if not obj:
            continue
        spec = pod_spec(obj)
        check_pod(name, spec, secret_keys)
        missing = needs[name] - env_names(spec)
        if missing:
            problem(f"{name}: environment lacks {sorted(missing)}")

    # serve.
    serve = workloads["serve"]
    if serve:
        spec = pod_spec(serve)
        c = spec["containers"][0]
        admin = port_of(server.get("admin_bind", ":0"))
        http = port_of(server.get("bind", ":0"))
        if "--no-scheduler" not in c.get("args", []):
            problem("serve: --no-scheduler missing: the CronJob is the one scheduler")
        if serve["spec"].get("replicas", 1) < 2:
            problem("serve: at least 2 replicas")
        for kind, path in (("readinessProbe", "/health/ready"), ("livenessProbe", "/health/live"),
                           ("startupProbe", "/health/live")):
            p, port = probe(c, kind)
            if p != path or named_port(c, port) != admin:
                problem(f"serve: {kind} must GET {path} on the admin port {admin} (got {p} on {port})")
        if named_port(c, "http") != http:
            problem(f"serve: container port http must be {http} ([server] bind)")
        pre_stop = c.get("lifecycle", {}).get("preStop", {}).get("sleep", {}).get("seconds", 0)
        grace = server.get("shutdown_grace_secs", 10)
        tgps = spec.get("terminationGracePeriodSeconds", 30)
        if tgps <= pre_stop + grace:
            problem(f"serve: terminationGracePeriodSeconds {tgps} must exceed preStop {pre_stop} s "
                    f"+ shutdown_grace_secs {grace} s")
        svc = get("Service", "ivcrush-serve")
        if svc and [p["port"] for p in svc["spec"]["ports"]] != [http]:
            problem(f"Service ivcrush-serve must expose only {http}")
        metrics = get("Service", "ivcrush-serve-metrics")
        ann = metrics.get("metadata", {}).get("annotations", {})
        if metrics and (ann.get("prometheus.io/scrape") != "true"
                        or ann.get("prometheus.io/port") != str(admin)
                        or [p["port"] for p in metrics["spec"]["ports"]] != [admin]):
            problem(f"Service ivcrush-serve-metrics must expose {admin} with prometheus.io annotations")
        pdb = get("PodDisruptionBudget", "ivcrush-serve")
        if pdb and pdb["spec"]["selector"]["matchLabels"] != serve["spec"]["selector"]["matchLabels"]:
            problem("PodDisruptionBudget ivcrush-serve must select the serve pods")

    # The CronJob.
    cron = workloads["scan"]
    if cron:
        if cron["spec"].get("timeZone") != server.get("scan_timezone", "America/New_York"):
            problem("scan: timeZone must be [server] scan_timezone (America/New_York)")
        if cron["spec"].get("concurrencyPolicy") != "Forbid":
            problem("scan: concurrencyPolicy must be Forbid")

    # ticker.
    tick = workloads["ticker"]
    if tick:
        c = pod_spec(tick)["containers"][0]
        if tick["spec"].get("replicas") != 1 or tick["spec"].get("strategy", {}).get("type") != "Recreate":
            problem("ticker: exactly 1 replica with the Recreate strategy")
        mport = port_of(ticker.get("metrics_bind", ":0"))
        for kind in ("readinessProbe", "livenessProbe", "startupProbe"):
            _, port = probe(c, kind)
            if named_port(c, port) != mport:
                problem(f"ticker: {kind} must be on [ticker] metrics_bind's port {mport}")

    # kustomization.yaml.
    kust = yaml.safe_load((directory / "kustomization.yaml").read_text())
    listed = set(kust.get("resources", []))
    files = {p.name for p in directory.glob("*.yaml")} - {"kustomization.yaml", SECRET_TEMPLATE}
    if listed != files:
        problem(f"kustomization.yaml resources {sorted(listed)} != manifests {sorted(files)}")

    for p in problems:
        print(f"FAIL {p}", file=sys.stderr)
    if not problems:
        print(f"ok   policy: {len(objects)} objects in {directory}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
