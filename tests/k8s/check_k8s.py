"""The checks of scripts/check-k8s that no packaged tool does: the Flux Kustomizations against
Flux's own CRD schema, the shared names and the issue's figures in the built manifests, alert
tests and runbooks, and every dashboard panel against a real Prometheus.

Each check prints `ok NAME` or `not ok NAME: WHY`; scripts/check-k8s counts them. The exit code
is non-zero when any failed.
"""

import json
import re
import sys
import urllib.parse
import urllib.request
from pathlib import Path

import jsonschema
import yaml

results = []


def report(name, problems):
    """One check: passes when `problems` is empty, else fails naming each problem."""
    if problems:
        print(f"not ok {name}: " + "; ".join(problems))
    else:
        print(f"ok {name}")
    results.append(not problems)


def load_all(path):
    return [doc for doc in yaml.safe_load_all(Path(path).read_text()) if doc]


# --- Flux Kustomizations: strict against the vendored CRD's v1 schema --------------------------

def strict(schema):
    """The CRD's openAPIV3Schema as a JSON Schema that rejects unknown fields, as `kubectl
    --validate=strict` does for CRDs with a structural schema."""
    if isinstance(schema, dict):
        schema = {k: strict(v) for k, v in schema.items() if not k.startswith("x-kubernetes-")}
        if schema.get("type") == "object" and "properties" in schema and "additionalProperties" not in schema:
            schema["additionalProperties"] = False
        return schema
    if isinstance(schema, list):
        return [strict(s) for s in schema]
    return schema


def validate_flux(crd_path, built_path):
    crd = next(d for d in load_all(crd_path) if d.get("kind") == "CustomResourceDefinition")
    group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
    schemas = {f"{group}/{v['name']}": strict(v["schema"]["openAPIV3Schema"]) for v in crd["spec"]["versions"]}
    docs = load_all(built_path)
    report("flux: the cluster entry point holds Flux Kustomizations only",
           [f"{d.get('apiVersion')} {d.get('kind')}" for d in docs if d.get("kind") != kind or d["apiVersion"] not in schemas]
           or ([] if docs else ["no objects"]))
    for doc in docs:
        schema = schemas.get(doc.get("apiVersion"))
        if schema is None:
            continue
        # metadata is the API server's ObjectMeta, not in the CRD's schema: check it apart.
        meta = doc.get("metadata", {})
        problems = [f"metadata.{k} unexpected" for k in meta if k not in ("name", "namespace", "labels", "annotations")]
        body = {k: v for k, v in doc.items() if k != "metadata"}
        schema = dict(schema, properties={k: v for k, v in schema["properties"].items() if k != "metadata"})
        validator = jsonschema.Draft7Validator(schema)
        problems += [f"{'.'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in validator.iter_errors(body)]
        report(f"flux: {doc['apiVersion']} Kustomization {meta.get('name')} validates (strict)", problems)
    names = {d["metadata"]["name"] for d in docs}
    for doc in docs:
        report(f"flux: {doc['metadata']['name']} points at an existing kustomization",
               [] if (Path(doc["spec"]["path"]) / "kustomization.yaml").is_file() else [f"no {doc['spec']['path']}/kustomization.yaml"])
        missing = [d["name"] for d in doc["spec"].get("dependsOn", []) if d["name"] not in names]
        report(f"flux: {doc['metadata']['name']}'s dependencies exist", [f"dependsOn {m} not defined" for m in missing])


# --- The shared names and the issue's figures in the built objects ------------------------------

def find(docs, kind, name, namespace=None):
    for d in docs:
        m = d.get("metadata", {})
        if d.get("kind") == kind and m.get("name") == name and (namespace is None or m.get("namespace") == namespace):
            return d
    return None


def expect(problems, what, actual, wanted):
    if actual != wanted:
        problems.append(f"{what} is {actual!r}, want {wanted!r}")


def container(obj, name=None):
    containers = obj["spec"]["template"]["spec"]["containers"]
    return next(c for c in containers if name is None or c["name"] == name)


def node_port(svc):
    return [p.get("nodePort") for p in svc["spec"]["ports"]]


def check_contract(infra_path, apps_path):
    infra, apps = load_all(infra_path), load_all(apps_path)

    p = []
    for ns in ("monitoring", "smartscale-system"):
        if not find(infra, "Namespace", ns):
            p.append(f"namespace {ns} missing")
    if not find(apps, "Namespace", "demo"):
        p.append("namespace demo missing")
    report("contract: namespaces monitoring, smartscale-system, demo", p)

    p = []
    sa = find(infra, "ServiceAccount", "smartscale-controller", "smartscale-system")
    role = find(infra, "ClusterRole", "smartscale-controller")
    binding = find(infra, "ClusterRoleBinding", "smartscale-controller")
    token = find(infra, "Secret", "smartscale-controller-token", "smartscale-system")
    if not (sa and role and binding and token):
        p.append("ServiceAccount, ClusterRole, ClusterRoleBinding and token Secret smartscale-controller(-token) must all exist")
    else:
        expect(p, "binding roleRef", binding["roleRef"], {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "smartscale-controller"})
        expect(p, "binding subjects", binding["subjects"], [{"kind": "ServiceAccount", "name": "smartscale-controller", "namespace": "smartscale-system"}])
        expect(p, "token type", token.get("type"), "kubernetes.io/service-account-token")
        expect(p, "token annotation", token["metadata"].get("annotations", {}).get("kubernetes.io/service-account.name"), "smartscale-controller")
        if "data" in token or "stringData" in token:
            p.append("the token Secret must not carry a value in the repo")
    report("contract: the Lambdas' identity (exact verbs: crates/kube/tests/rbac.rs)", p)

    p = []
    prom = find(infra, "StatefulSet", "prometheus", "monitoring")
    c = container(prom, "prometheus")
    args = c["args"]
    for arg in ("--storage.tsdb.retention.time=14d", "--web.config.file=/etc/prometheus/web/web.yml"):
        if arg not in args:
            p.append(f"arg {arg} missing")
    expect(p, "limits", c["resources"]["limits"], {"cpu": "500m", "memory": "1Gi"})
    vct = prom["spec"].get("volumeClaimTemplates") or [{}]
    expect(p, "PVC size", vct[0].get("spec", {}).get("resources", {}).get("requests", {}).get("storage"), "20Gi")
    if not vct[0].get("spec", {}).get("storageClassName"):
        p.append("the PVC names no storage class")
    volumes = {v["name"]: v for v in prom["spec"]["template"]["spec"]["volumes"]}
    expect(p, "web config secret", volumes.get("web-config", {}).get("secret", {}).get("secretName"), "prometheus-web-config")
    mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
    expect(p, "web config mount", mounts.get("web-config"), "/etc/prometheus/web")
    expect(p, "NodePort", node_port(find(infra, "Service", "prometheus", "monitoring")), [30090])
    report("contract: Prometheus 7 d, 500m/1Gi, 20Gi PVC, web config from prometheus-web-config (web.yml), NodePort 30090", p)

    p = []
    cm = next((d for d in infra if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith("prometheus-config")), None)
    config = yaml.safe_load(cm["data"]["prometheus.yml"])
    expect(p, "scrape_interval", config["global"].get("scrape_interval"), "15s")
    expect(p, "evaluation_interval", config["global"].get("evaluation_interval"), "15s")
    jobs = {j["job_name"] for j in config["scrape_configs"]}
    for job in ("kubernetes-nodes", "kubernetes-pods", "kube-state-metrics", "demo-app"):
        if job not in jobs:
            p.append(f"scrape job {job} missing")
    rules_cm = next((d for d in infra if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith("prometheus-rules")), None)
    expect(p, "rule files shipped", sorted(rules_cm["data"]), ["alerts.yml", "cost.yml", "fast-path.yml", "recording.yml"])
    expect(p, "rule_files", config.get("rule_files"), ["/etc/prometheus/rules/*.yml"])
    expect(p, "rules mount", mounts.get("rules"), "/etc/prometheus/rules")
    report("contract: prometheus.yml 15 s scrape and evaluation, the spec's scrape jobs, the rules mounted where it reads them", p)

    p = []
    grafana = find(infra, "Deployment", "grafana", "monitoring")
    env = {e["name"]: e.get("valueFrom", {}).get("secretKeyRef") for e in container(grafana)["env"]}
    expect(p, "admin user", env.get("GF_SECURITY_ADMIN_USER"), {"name": "grafana-admin", "key": "admin-user"})
    expect(p, "admin password", env.get("GF_SECURITY_ADMIN_PASSWORD"), {"name": "grafana-admin", "key": "admin-password"})
    expect(p, "NodePort", node_port(find(infra, "Service", "grafana", "monitoring")), [32000])
    dash_cm = next((d for d in infra if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith("grafana-dashboards")), None)
    expect(p, "dashboards shipped", len(dash_cm["data"]) if dash_cm else 0, 4)
    report("contract: Grafana admin from Secret grafana-admin, four dashboards, NodePort 32000", p)

    p = []
    for kind, name in (("DaemonSet", "node-exporter"), ("Deployment", "kube-state-metrics"), ("StatefulSet", "alertmanager")):
        obj = find(infra, kind, name, "monitoring")
        if not obj:
            p.append(f"{kind} {name} missing")
        elif re.search(r":(latest)?$", container(obj)["image"]) or ":" not in container(obj)["image"]:
            p.append(f"{name}'s image is not pinned: {container(obj)['image']}")
    for obj in infra + apps:
        if obj["kind"] in ("Deployment", "StatefulSet", "DaemonSet"):
            for c in obj["spec"]["template"]["spec"]["containers"]:
                if "limits" not in c.get("resources", {}):
                    p.append(f"{obj['kind']} {obj['metadata']['name']} container {c['name']} has no limits")
    report("contract: node-exporter, kube-state-metrics (pinned), Alertmanager; every container limited", p)

    p = []
    app = find(apps, "Deployment", "smartscale-demo-app", "demo")
    c = container(app)
    expect(p, "image", c["image"].split(":")[0].rsplit("/", 1)[-1], "smartscale-demo-app")
    expect(p, "requests", c["resources"]["requests"], {"cpu": "200m", "memory": "256Mi"})
    expect(p, "limits", c["resources"]["limits"], {"cpu": "500m", "memory": "512Mi"})
    expect(p, "liveness", c["livenessProbe"]["httpGet"]["path"], "/health")
    expect(p, "readiness", c["readinessProbe"]["httpGet"]["path"], "/ready")
    expect(p, "port", [x["containerPort"] for x in c["ports"]], [8080])
    expect(p, "NodePort", node_port(find(apps, "Service", "smartscale-demo-app", "demo")), [30080])
    hpa = find(apps, "HorizontalPodAutoscaler", "smartscale-demo-app", "demo")
    expect(p, "HPA target", hpa and hpa["spec"]["scaleTargetRef"]["name"], "smartscale-demo-app")
    pdb = find(apps, "PodDisruptionBudget", "smartscale-demo-app", "demo")
    expect(p, "PDB minAvailable", pdb and pdb["spec"].get("minAvailable"), 1)
    if hpa and pdb and not hpa["spec"]["minReplicas"] > pdb["spec"]["minAvailable"]:
        p.append("at the HPA's minimum the PDB lets no pod go")
    slow = find(apps, "StatefulSet", "slow-shutdown", "demo")
    if not slow or slow["spec"]["template"]["spec"].get("terminationGracePeriodSeconds", 30) < 600:
        p.append("the slow-shutdown StatefulSet must take 10 minutes or more to stop")
    report("contract: demo app 200m/256Mi requests, 500m/512Mi limits, /health and /ready, NodePort 30080, HPA, PDB, slow-shutdown StatefulSet", p)


def check_storage_parameter(built_path, wanted):
    prom = find(load_all(built_path), "StatefulSet", "prometheus", "monitoring")
    actual = prom["spec"]["volumeClaimTemplates"][0]["spec"].get("storageClassName")
    report(f"contract: the storage class is a parameter (prometheus/storage.yaml set to {wanted} builds {wanted})",
           [] if actual == wanted else [f"built {actual!r}"])


# --- promtool's view of prometheus.yml --------------------------------------------------------

def promtool_copy(src, dst):
    """prometheus.yml as Debian's promtool 2.42 can read it: that build has no Kubernetes service
    discovery and predates basic_auth.username_file, so those are swapped for a static target and
    an inline name. Everything else (relabelling regexes, intervals, alerting) is checked as is."""
    config = yaml.safe_load(Path(src).read_text())
    for job in config["scrape_configs"]:
        if job.pop("kubernetes_sd_configs", None) is not None:
            job["static_configs"] = [{"targets": ["stand-in.invalid:9100"]}]
        auth = job.get("basic_auth", {})
        if "username_file" in auth:
            auth["username"] = "from-" + Path(auth.pop("username_file")).name
        if "password_file" in auth:
            auth["password"] = "stand-in"
            auth.pop("password_file")
    config["rule_files"] = []
    Path(dst).write_text(yaml.safe_dump(config))


# --- Alerts: a firing and a not-firing unit test each; a runbook each --------------------------

def alerts_in(rules_path):
    return [r for g in yaml.safe_load(Path(rules_path).read_text())["groups"] for r in g["rules"] if "alert" in r]


def check_alert_tests(rules_path, tests_path):
    tests = yaml.safe_load(Path(tests_path).read_text())["tests"]
    cases = [c for t in tests for c in t.get("alert_rule_test", [])]
    for alert in alerts_in(rules_path):
        name = alert["alert"]
        mine = [c for c in cases if c["alertname"] == name]
        problems = []
        if not any(c.get("exp_alerts") for c in mine):
            problems.append("no test where it fires")
        if not any(not c.get("exp_alerts") for c in mine):
            problems.append("no test where it does not fire")
        report(f"alert {name}: unit-tested firing and not firing", problems)


def anchors(markdown):
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to dashes."""
    out = set()
    for line in markdown.splitlines():
        m = re.match(r"#+\s+(.*)", line)
        if m:
            out.add(re.sub(r"[^\w\- ]", "", m.group(1).strip().lower()).replace(" ", "-"))
    return out


def check_runbooks(rules_path, runbooks_path):
    known = anchors(Path(runbooks_path).read_text())
    for alert in alerts_in(rules_path):
        url = alert.get("annotations", {}).get("runbook_url", "")
        problems = []
        path, _, anchor = url.partition("#")
        if path != "docs/runbooks.md":
            problems.append(f"runbook_url {url!r} is not into docs/runbooks.md")
        elif anchor not in known:
            problems.append(f"docs/runbooks.md has no heading #{anchor}")
        if not alert.get("annotations", {}).get("summary"):
            problems.append("no summary")
        if alert.get("labels", {}).get("severity") not in ("warning", "critical"):
            problems.append("severity must be warning or critical")
        report(f"alert {alert['alert']}: runbook, summary and severity", problems)


# --- Dashboards: every panel's query answers from a real Prometheus -----------------------------

PROMQL_WORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool", "offset",
    "inf", "nan", "le",
}


def metric_names(expr):
    """The metric names a PromQL expression selects: identifiers that are not functions (followed
    by a bracket), keywords, label names or durations."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    expr = re.sub(r"\{[^}]*\}", "", expr)
    expr = re.sub(r"\[[^\]]*\]", "", expr)
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)
    names = set()
    for m in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", expr):
        word, rest = m.group(0), expr[m.end():].lstrip()
        if rest.startswith("(") or word.lower() in PROMQL_WORDS:
            continue
        names.add(word)
    return names


def grafana_vars(expr):
    for var, value in (("$__rate_interval", "1m"), ("$__interval", "1m"), ("$__range", "1h")):
        expr = expr.replace(var, value)
    return expr


def query_range(url, expr, start, end):
    params = urllib.parse.urlencode({"query": expr, "start": start, "end": end, "step": 60})
    with urllib.request.urlopen(f"{url}/api/v1/query_range?{params}", timeout=30) as response:
        body = json.load(response)
    if body.get("status") != "success":
        raise RuntimeError(body.get("error", body))
    return body["data"]["result"]


def has_values(result):
    return any(v[1] not in ("NaN", "+Inf", "-Inf") for series in result for v in series["values"])


def emf_metrics(emf_rs):
    """The CloudWatch metric names the Lambdas publish: the arms of `Metric::name` in emf.rs."""
    text = Path(emf_rs).read_text()
    body = text[text.index("pub fn name(self)"):]
    body = body[: body.index("pub fn unit(self)")]
    return set(re.findall(r'=>\s*"([A-Za-z]+)"', body))


# The dimensions each metric is published with (crates/core/src/emf.rs, docs/observability.md).
EMF_DIMENSIONS = {"ScaleUpEvents": {"Reason"}, "ScaleDownEvents": {"Reason"}, "ScalingFailures": {"ErrorType"}}


def check_panels(prom_url, dashboards_dir, emf_rs, start, end):
    published = emf_metrics(emf_rs)
    for path in sorted(Path(dashboards_dir).glob("*.json")):
        dash = json.loads(path.read_text())
        for panel in dash["panels"]:
            name = f"panel {path.stem} / {panel['title']}"
            if panel["type"] == "text":
                content = panel["options"]["content"]
                report(name + " (text) says what feeds it",
                       [] if "fed by" in content.lower() else ["a placeholder must say what it will be fed by"])
                continue
            problems = []
            if not panel.get("targets"):
                problems.append("no queries")
            for target in panel.get("targets", []):
                kind = target["datasource"]["type"]
                if kind == "prometheus":
                    expr = grafana_vars(target["expr"])
                    try:
                        if not has_values(query_range(prom_url, expr, start, end)):
                            problems.append(f"{target['refId']} returned no data: {expr}")
                        for metric in sorted(metric_names(expr)):
                            if not has_values(query_range(prom_url, f'count({{__name__="{metric}"}})', start, end)):
                                problems.append(f"{target['refId']}: nothing exports {metric}")
                    except Exception as e:  # an HTTP 400 is a PromQL error: report it as such.
                        detail = e.read().decode() if hasattr(e, "read") else str(e)
                        problems.append(f"{target['refId']} failed: {detail}: {expr}")
                elif kind == "cloudwatch":
                    metric = target.get("metricName")
                    if target.get("namespace") != "SmartScale":
                        problems.append(f"{target['refId']}: namespace {target.get('namespace')!r}, want SmartScale")
                    if metric not in published:
                        problems.append(f"{target['refId']}: no Lambda publishes {metric!r} (crates/core/src/emf.rs)")
                    extra = set(target.get("dimensions", {})) - {"ClusterId"} - EMF_DIMENSIONS.get(metric, set())
                    if extra:
                        problems.append(f"{target['refId']}: {metric} has no dimension {sorted(extra)}")
                    if "ClusterId" not in target.get("dimensions", {}):
                        problems.append(f"{target['refId']}: {metric} must be filtered by ClusterId")
                else:
                    problems.append(f"{target['refId']}: unknown datasource {kind}")
            report(name, problems)


def openmetrics_range(path):
    """The first and last timestamps of the backfill."""
    stamps = [int(line.rsplit(" ", 1)[1]) for line in Path(path).read_text().splitlines() if line and not line.startswith("#")]
    print(min(stamps), max(stamps))


def main(argv):
    command, args = argv[1], argv[2:]
    if command == "openmetrics-range":
        openmetrics_range(*args)
        return 0
    if command == "promtool-copy":
        promtool_copy(*args)
        return 0
    {
        "flux": validate_flux,
        "contract": check_contract,
        "storage-parameter": check_storage_parameter,
        "alert-tests": check_alert_tests,
        "runbooks": check_runbooks,
        "panels": check_panels,
    }[command](*args)
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
