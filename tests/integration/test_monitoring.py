"""The monitoring kit (monitoring/): Prometheus rules and alerts, scrape config, Grafana dashboard.

Checked with the real tools: promtool (check rules, test rules, check config) and a real
Prometheus server on loopback. Metric names used by rules and the dashboard are checked against
the service's metric contract; RECSERVE_METRICS_SOURCE swaps that source:
  unset or a file path   docs/METRICS.md (or another Markdown file with the same table)
  http://host:port/...   a live /metrics endpoint (Prometheus text format, `# TYPE` lines)
"""
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest
import urllib.parse
import urllib.request

import yaml

from recserve_testing import SOURCE_DIR, Service, free_port, temp_dir

PROM_DIR = os.path.join(SOURCE_DIR, "monitoring", "prometheus")
DASHBOARD = os.path.join(SOURCE_DIR, "monitoring", "grafana", "dashboards",
                         "recommendation-slo.json")
SOP = os.path.join(SOURCE_DIR, "docs", "OPERATIONS_SOP.md")
METRICS_MD = os.path.join(SOURCE_DIR, "docs", "METRICS.md")

REQUIRED_ALERTS = {
    "HighErrorRate": "critical",
    "HighLatency": "warning",
    "DataQualityLow": "warning",
    "CircuitBreakerOpen": "warning",
    "RecommendationDegradedSpike": "warning",
    "PipelineStale": "warning",
    "ShadowErrorRate": "warning",
}

REQUIRED_PANELS = [
    "Request success rate",
    "Latency P95 (recommendation_latency_seconds)",
    "Degraded responses per minute by reason",
    "Data-quality score and pipeline age",
    "Latest pipeline run",
    "Shadow hit ratio",
    "Circuit-breaker state",
    "Cache hit ratio",
    "Timeouts by operation",
]

PROMQL_KEYWORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or",
    "unless", "offset", "inf", "nan",
}
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")


def run_tool(*args, timeout=120):
    return subprocess.run(list(args), capture_output=True, text=True, timeout=timeout)


def load_yaml(path):
    with open(path) as f:
        return yaml.safe_load(f)


# ----------------------------------------------------------------------------- metric contract
def metric_contract():
    """{metric name: type} from RECSERVE_METRICS_SOURCE (see module docstring)."""
    source = os.environ.get("RECSERVE_METRICS_SOURCE", METRICS_MD)
    if source.startswith(("http://", "https://")):
        with urllib.request.urlopen(source, timeout=10) as resp:
            return metrics_from_exposition(resp.read().decode())
    with open(source) as f:
        return metrics_from_markdown(f.read())


def metrics_from_markdown(text):
    """Rows `| \\`name\\` | type | ...` of the metrics table, plus the textfile metrics section."""
    out = {}
    for m in re.finditer(r"^\| `([a-zA-Z_:][a-zA-Z0-9_:]*)` \| (counter|gauge|histogram|summary) \|",
                         text, re.M):
        out[m.group(1)] = m.group(2)
    textfile = text.split("## Pipeline textfile metrics", 1)
    if len(textfile) == 2:
        for name in re.findall(r"`([a-z_][a-z0-9_]*)(?:\{[a-z_]+\})?`", textfile[1]):
            if name.startswith(("data_quality", "data_pipeline")):
                out.setdefault(name, "gauge")
    return out


def metrics_from_exposition(text):
    out = {}
    for m in re.finditer(r"^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (\w+)", text, re.M):
        out[m.group(1)] = m.group(2)
    return out


def metric_known(name, contract):
    if name in contract:
        return True
    for suffix in HISTOGRAM_SUFFIXES:
        base = name[: -len(suffix)]
        if name.endswith(suffix) and contract.get(base) in ("histogram", "summary"):
            return True
    return False


def metric_names(expr):
    """Metric names a PromQL expression selects (functions, keywords, labels, literals removed)."""
    s = re.sub(r'"(?:\\.|[^"\\])*"', '""', expr)  # string literals
    s = re.sub(r"\{[^}]*\}", " ", s)  # label matchers
    s = re.sub(r"\[[^\]]*\]", " ", s)  # range / subquery windows
    s = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", s)
    names = set()
    for m in re.finditer(r"[a-zA-Z_:][a-zA-Z0-9_:]*", s):
        token = m.group(0)
        rest = s[m.end():].lstrip()
        if rest.startswith("("):
            continue  # a function or aggregation
        if token.lower() in PROMQL_KEYWORDS:
            continue
        prev = s[: m.start()].rstrip()
        if prev and (prev[-1].isdigit() or prev[-1] == "."):
            continue  # exponent or unit of a number literal
        names.add(token)
    return names


def recorded_names():
    out = set()
    for path in ("recording_rules.yml", "alerts.yml"):
        for group in load_yaml(os.path.join(PROM_DIR, path))["groups"]:
            out.update(r["record"] for r in group["rules"] if "record" in r)
    return out


# ----------------------------------------------------------------------------- dashboard
GRAFANA_VARIABLES = {
    "$__rate_interval": "5m",
    "${__rate_interval}": "5m",
    "$__interval": "1m",
    "${__interval}": "1m",
    "$__range": "1h",
    "${__range}": "1h",
    "$job": ".*",
    "${job}": ".*",
    "$datasource": "prometheus",
    "${datasource}": "prometheus",
}


def substitute_grafana_variables(expr):
    for name in sorted(GRAFANA_VARIABLES, key=len, reverse=True):
        expr = expr.replace(name, GRAFANA_VARIABLES[name])
    return expr


def dashboard_panels(dashboard):
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])  # panels inside collapsed rows


def dashboard_expressions(dashboard):
    """[(panel title, expr)] of every Prometheus query, variables substituted."""
    out = []
    for panel in dashboard_panels(dashboard):
        for target in panel.get("targets", []):
            if target.get("expr"):
                out.append((panel["title"], substitute_grafana_variables(target["expr"])))
    for var in dashboard.get("templating", {}).get("list", []):
        query = var.get("query")
        if var.get("type") == "query":
            text = query["query"] if isinstance(query, dict) else query
            m = re.fullmatch(r"label_values\((.*),\s*\w+\)", text.strip())
            out.append((f"variable {var['name']}", m.group(1) if m else text))
    return out


def promtool_check_expressions(exprs):
    """Runs `promtool check rules` over exprs written as recording rules; returns the result."""
    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard:expr_{i}", "expr": expr} for i, expr in enumerate(exprs)]}]}
    with temp_dir() as d:
        path = os.path.join(d, "dashboard_rules.yml")
        with open(path, "w") as f:
            yaml.safe_dump(rules, f)
        return run_tool("promtool", "check", "rules", path)


class PrometheusRulesTest(unittest.TestCase):
    def test_rule_files_pass_promtool_check(self):
        proc = run_tool("promtool", "check", "rules",
                        os.path.join(PROM_DIR, "recording_rules.yml"),
                        os.path.join(PROM_DIR, "alerts.yml"))
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)

    def test_alert_unit_tests_pass(self):
        proc = run_tool("promtool", "test", "rules", os.path.join(PROM_DIR, "alerts_test.yml"))
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertIn("SUCCESS", proc.stdout + proc.stderr)

    def test_a_broken_alert_fails_the_unit_tests(self):
        # The unit tests must be able to fail: raise the HighErrorRate threshold above the test's
        # 10 % error share and the firing case has to fail.
        with temp_dir() as d:
            shutil.copy(os.path.join(PROM_DIR, "recording_rules.yml"), d)
            unit_tests = load_yaml(os.path.join(PROM_DIR, "alerts_test.yml"))
            unit_tests["tests"] = [t for t in unit_tests["tests"]
                                   if t["name"].startswith("HighErrorRate")]
            with open(os.path.join(d, "alerts_test.yml"), "w") as f:
                yaml.safe_dump(unit_tests, f)
            with open(os.path.join(PROM_DIR, "alerts.yml")) as f:
                alerts = f.read()
            broken = alerts.replace("recserve:request_error_ratio:rate5m > 0.005",
                                    "recserve:request_error_ratio:rate5m > 0.5")
            self.assertNotEqual(broken, alerts)
            with open(os.path.join(d, "alerts.yml"), "w") as f:
                f.write(broken)
            proc = run_tool("promtool", "test", "rules", os.path.join(d, "alerts_test.yml"))
            self.assertNotEqual(proc.returncode, 0, proc.stdout)
            self.assertIn("HighErrorRate", proc.stdout + proc.stderr)

    def test_every_alert_has_severity_for_annotations_and_a_runbook_anchor(self):
        with open(SOP) as f:
            sop = f.read()
        anchors = set(re.findall(r'<a id="([^"]+)"></a>', sop))
        alerts = {}
        for group in load_yaml(os.path.join(PROM_DIR, "alerts.yml"))["groups"]:
            for rule in group["rules"]:
                alerts[rule["alert"]] = rule
        for name, severity in REQUIRED_ALERTS.items():
            self.assertIn(name, alerts)
            self.assertEqual(alerts[name]["labels"]["severity"], severity, name)
        for name, rule in alerts.items():
            with self.subTest(alert=name):
                self.assertRegex(rule.get("for", ""), r"^\d+[smh]$")
                self.assertIn(rule["labels"]["severity"], ("critical", "warning"))
                for key in ("summary", "description", "runbook_url"):
                    self.assertTrue(rule["annotations"].get(key), key)
                url = rule["annotations"]["runbook_url"]
                path, _, anchor = url.partition("#")
                self.assertEqual(path, "docs/OPERATIONS_SOP.md")
                self.assertIn(anchor, anchors, f"{name}: no <a id=\"{anchor}\"> in the runbook")
                self.assertIn(f"`{name}`", sop, f"{name} missing from the alert response matrix")

    def test_every_alert_has_a_firing_and_a_quiet_unit_test(self):
        firing, quiet = set(), set()
        for case in load_yaml(os.path.join(PROM_DIR, "alerts_test.yml"))["tests"]:
            for check in case.get("alert_rule_test", []):
                (firing if check.get("exp_alerts") else quiet).add(check["alertname"])
        alerts = [r["alert"] for g in load_yaml(os.path.join(PROM_DIR, "alerts.yml"))["groups"]
                  for r in g["rules"]]
        for name in alerts:
            self.assertIn(name, firing, f"{name} has no firing case")
            self.assertIn(name, quiet, f"{name} has no quiet case")

    def test_rules_use_only_exported_metrics(self):
        contract = metric_contract()
        recorded = recorded_names()
        for path in ("recording_rules.yml", "alerts.yml"):
            for group in load_yaml(os.path.join(PROM_DIR, path))["groups"]:
                for rule in group["rules"]:
                    for name in metric_names(rule["expr"]):
                        with self.subTest(rule=rule.get("record") or rule.get("alert")):
                            self.assertTrue(metric_known(name, contract) or name in recorded,
                                            f"{name} is neither exported nor recorded")

    def test_metric_name_extraction(self):
        # The checker above is only as good as this parser.
        self.assertEqual(
            metric_names('histogram_quantile(0.95, sum by (le) (rate(a_bucket{x="y{}", '
                         'z=~"5.."}[5m]))) / on() group_left scalar(b:c:d) > 1e3'),
            {"a_bucket", "b:c:d"})
        self.assertEqual(metric_names("time() - max(ts_seconds offset 5m) > bool 3"),
                         {"ts_seconds"})


class ScrapeConfigTest(unittest.TestCase):
    def setUp(self):
        self.config = load_yaml(os.path.join(PROM_DIR, "prometheus.yml"))
        self.jobs = {j["job_name"]: j for j in self.config["scrape_configs"]}

    def test_config_passes_promtool_check(self):
        # Debian's prometheus is built without Kubernetes service discovery, so promtool rejects
        # kubernetes_sd_configs; the rest of the file (rule files included) is checked for real,
        # the Kubernetes job structurally in the next test.
        config = dict(self.config)
        config["scrape_configs"] = [j for j in self.config["scrape_configs"]
                                    if "kubernetes_sd_configs" not in j]
        config["rule_files"] = [os.path.join(PROM_DIR, p) for p in self.config["rule_files"]]
        with temp_dir() as d:
            path = os.path.join(d, "prometheus.yml")
            with open(path, "w") as f:
                yaml.safe_dump(config, f)
            proc = run_tool("promtool", "check", "config", path)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertIn("recommendation-api-static", self.jobs)
        self.assertIn("recserve-pipeline", self.jobs)

    def test_kubernetes_job_selects_the_deployment_pods(self):
        deployment = load_yaml(os.path.join(SOURCE_DIR, "deploy", "k8s", "base",
                                            "deployment.yaml"))
        pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
        ports = [p["name"] for c in deployment["spec"]["template"]["spec"]["containers"]
                 for p in c.get("ports", [])]
        job = self.jobs["recommendation-api"]
        self.assertEqual(job["kubernetes_sd_configs"][0]["role"], "pod")
        keeps = {tuple(r["source_labels"]): r["regex"] for r in job["relabel_configs"]
                 if r.get("action") == "keep"}
        label_rule = keeps[("__meta_kubernetes_pod_label_app_kubernetes_io_name",)]
        self.assertRegex(pod_labels["app.kubernetes.io/name"], f"^(?:{label_rule})$")
        port_rule = keeps[("__meta_kubernetes_pod_container_port_name",)]
        self.assertTrue(any(re.fullmatch(port_rule, p) for p in ports), ports)
        self.assertEqual(job.get("metrics_path", "/metrics"), "/metrics")

    def test_pipeline_job_keeps_the_textfile_metrics(self):
        keep = self.jobs["recserve-pipeline"]["metric_relabel_configs"][0]
        self.assertEqual(keep["action"], "keep")
        for name in ("data_quality_score", "data_quality_check_status",
                     "data_pipeline_last_success_timestamp_seconds"):
            self.assertRegex(name, f"^(?:{keep['regex']})$")
        self.assertNotRegex("node_cpu_seconds_total", f"^(?:{keep['regex']})$")


class DashboardTest(unittest.TestCase):
    def setUp(self):
        with open(DASHBOARD) as f:
            self.dashboard = json.load(f)

    def test_title_and_required_panels(self):
        self.assertEqual(self.dashboard["title"], "Recommendation SLO")
        titles = [p["title"] for p in dashboard_panels(self.dashboard)]
        for title in REQUIRED_PANELS:
            self.assertIn(title, titles)
        ids = [p["id"] for p in dashboard_panels(self.dashboard)]
        self.assertEqual(len(ids), len(set(ids)), "panel ids must be unique (runbook links)")

    def test_slo_targets_are_drawn(self):
        panels = {p["title"]: p for p in dashboard_panels(self.dashboard)}

        def threshold_values(title):
            steps = panels[title]["fieldConfig"]["defaults"]["thresholds"]["steps"]
            return [s["value"] for s in steps]

        self.assertIn(0.995, threshold_values("Request success rate"))
        self.assertIn(0.08, threshold_values("Latency P95 (recommendation_latency_seconds)"))
        self.assertIn(5, threshold_values("Degraded responses per minute by reason"))
        hit = panels["Shadow hit ratio"]["targets"][0]["expr"]
        self.assertIn("recommendation_variant_hits_total", hit)
        self.assertIn("recommendation_variant_lists_total", hit)
        self.assertIn("by (variant)", hit)

    def test_every_expression_parses_with_promtool(self):
        exprs = dashboard_expressions(self.dashboard)
        self.assertGreaterEqual(len(exprs), len(REQUIRED_PANELS))
        for title, expr in exprs:
            self.assertNotIn("$", expr, f"{title}: unsubstituted Grafana variable")
        proc = promtool_check_expressions([e for _, e in exprs])
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)

    def test_a_broken_expression_is_caught(self):
        proc = promtool_check_expressions(["sum(rate(recommendation_requests_total[5m])"])
        self.assertNotEqual(proc.returncode, 0)

    def test_expressions_use_only_exported_metrics(self):
        contract = metric_contract()
        self.assertIn("recommendation_latency_seconds", contract)
        for title, expr in dashboard_expressions(self.dashboard):
            for name in metric_names(expr):
                with self.subTest(panel=title, metric=name):
                    self.assertTrue(metric_known(name, contract),
                                    f"{name} is not exported by the service")


class PrometheusServer:
    """A real Prometheus on a free loopback port with its own temporary directory."""

    def __init__(self, scrape_target=None):
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="recserve-prometheus-")
        # Fast intervals for the test; the group-level 30 s interval is dropped so that the
        # global 1 s evaluation interval applies.
        for name in ("recording_rules.yml", "alerts.yml"):
            rules = load_yaml(os.path.join(PROM_DIR, name))
            for group in rules["groups"]:
                group.pop("interval", None)
            with open(os.path.join(self.dir, name), "w") as f:
                yaml.safe_dump(rules, f)
        config = {"global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                  "rule_files": ["recording_rules.yml", "alerts.yml"], "scrape_configs": []}
        if scrape_target:
            config["scrape_configs"].append({"job_name": "recommendation-api-static",
                                             "static_configs": [{"targets": [scrape_target]}]})
        with open(os.path.join(self.dir, "prometheus.yml"), "w") as f:
            yaml.safe_dump(config, f)
        self.proc = None

    def start(self, timeout=60):
        self.log = open(os.path.join(self.dir, "prometheus.log"), "w")
        self.proc = subprocess.Popen(
            ["prometheus", f"--config.file={self.dir}/prometheus.yml",
             f"--storage.tsdb.path={self.dir}/data", f"--web.listen-address=127.0.0.1:{self.port}",
             "--storage.tsdb.retention.time=1h"],
            stdout=self.log, stderr=subprocess.STDOUT, cwd=self.dir)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"prometheus exited {self.proc.returncode}:\n{self.log_text()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/-/ready", timeout=1):
                    return self
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"prometheus not ready in {timeout}s:\n{self.log_text()}")

    def log_text(self):
        with open(os.path.join(self.dir, "prometheus.log")) as f:
            return f.read()

    def api(self, path, **params):
        url = f"http://127.0.0.1:{self.port}/api/v1/{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        with urllib.request.urlopen(url, timeout=10) as resp:
            body = json.load(resp)
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr):
        return self.api("query", query=expr)["result"]

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def wait_for(predicate, timeout, interval=0.5):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()


class LivePrometheusTest(unittest.TestCase):
    def test_prometheus_server_loads_every_rule_healthy(self):
        with PrometheusServer() as prom:
            def all_evaluated():
                groups = prom.api("rules")["groups"]
                rules = [r for g in groups for r in g["rules"]]
                done = rules and all(r.get("lastEvaluation", "").startswith("2") and
                                     not r["lastEvaluation"].startswith("0001") for r in rules)
                return rules if done else None

            rules = wait_for(all_evaluated, timeout=30)
            self.assertTrue(rules, prom.log_text())
            names = {r["name"] for r in rules}
            self.assertTrue(set(REQUIRED_ALERTS) <= names)
            self.assertIn("recserve:request_success_ratio:rate5m", names)
            for rule in rules:
                self.assertEqual(rule["health"], "ok", rule)
            # The constant threshold rule evaluates even without any target.
            value = prom.query("recserve:pipeline_max_age_seconds")
            self.assertEqual(float(value[0]["value"][1]), 93600)

    def test_recording_rules_produce_values_from_a_running_service(self):
        with temp_dir() as work, Service(
                env={"MODEL_DIR": os.path.join(work, "models")}, wait_ready=False) as service, \
                PrometheusServer(scrape_target=f"127.0.0.1:{service.port}") as prom:
            deadline = time.time() + 30

            def ratios():
                # Traffic while Prometheus scrapes; any status counts for the ratio.
                for user in range(1, 20):
                    service.request("GET", f"/recommendations/{user}?k=5")
                result = prom.query("recserve:request_success_ratio:rate5m")
                return result or time.time() > deadline

            result = wait_for(ratios, timeout=40)
            self.assertTrue(result and result is not True,
                            f"no success ratio recorded\n{prom.log_text()}")
            ratio = float(result[0]["value"][1])
            self.assertGreaterEqual(ratio, 0.0)
            self.assertLessEqual(ratio, 1.0)
            up = prom.query('up{job="recommendation-api-static"}')
            self.assertEqual(float(up[0]["value"][1]), 1.0)
            p95 = prom.query("recserve:latency_seconds:p95_5m")
            self.assertTrue(p95, "no P95 recorded")

if __name__ == "__main__":
    unittest.main()
