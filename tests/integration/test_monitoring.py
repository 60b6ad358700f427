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

# The runbook's alert matrix (docs/OPERATIONS_SOP.md, section 8; the SLO of the seed SOP):
# alert -> (severity, expr in alerts.yml, for, what the matrix's "Fires when" column says).
RUNBOOK_ALERTS = {
    "HighErrorRate": ("critical", "recserve:request_error_ratio:rate5m > 0.005", "5m",
                      "user-facing 5xx share > 0.5 % for 5 min"),
    "HighLatency": ("warning", "recserve:latency_seconds:p95_5m > 0.080", "10m",
                    "P95 > 80 ms for 10 min"),
    "DataQualityLow": ("warning", "max(data_quality_score) < 70", "5m",
                       "`data_quality_score` < 70 for 5 min"),
    "CircuitBreakerOpen": ("warning", "circuit_breaker_state == 1", "2m",
                           "`circuit_breaker_state == 1` for 2 min"),
    "RecommendationDegradedSpike": ("warning", "recserve:degraded_per_minute:rate5m > 5", "5m",
                                    "> 5 degraded responses a minute for 5 min"),
    "PipelineStale": ("warning", "time() - max(data_pipeline_last_success_timestamp_seconds) > "
                      "scalar(recserve:pipeline_max_age_seconds)", "10m",
                      "no successful pipeline for > 26 h (configurable) for 10 min"),
    "PipelineMetricsMissing": ("warning", "absent(data_pipeline_last_success_timestamp_seconds)",
                               "30m", "no target exports the pipeline timestamp for 30 min"),
    "ShadowErrorRate": ("warning", "recserve:shadow_error_ratio:rate5m > 0.01", "10m",
                        "shadow 5xx share > 1 % for 10 min"),
}
PIPELINE_MAX_AGE_SECONDS = 26 * 3600  # "> 26 h" above

# User traffic: the recommendation routes (route templates of src/http/api_service.cpp). Every
# other route the service registers is a probe, scrape, health, admin or event call.
USER_ROUTES = ["/recommendations/{user_id}", "/recommend/detail/{item_id}", "/similar/{item_id}",
               "/popular", "/hot/trending"]
NON_USER_ROUTES = ["/events", "/health", "/live", "/ready", "/metrics", "/models/reload",
                   "/admin/faults"]
ENDPOINT_MATCHER = 'endpoint=~"' + "|".join(USER_ROUTES) + '"'
SLO_RULES = ["recserve:request_success_ratio:rate5m", "recserve:request_error_ratio:rate5m",
             "recserve:latency_seconds:p95_5m"]
API_SERVICE = os.path.join(SOURCE_DIR, "src", "http", "api_service.cpp")
MONITORING_MD = os.path.join(SOURCE_DIR, "docs", "MONITORING.md")

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


# (panel id, refId of an overridden series or None, [(value, colour Grafana must draw)])
THRESHOLD_COLOURS = [
    (1, None, [(0.9949, "red"), (0.995, "green"), (1.0, "green")]),
    (6, None, [(0.9949, "red"), (0.995, "green"), (1.0, "green")]),
    (2, None, [(0.075, "green"), (0.0799, "green"), (0.08, "red"), (0.085, "red")]),
    (7, None, [(0.075, "green"), (0.0799, "green"), (0.08, "red"), (0.085, "red")]),
    (3, None, [(0, "green"), (4, "green"), (6, "red")]),
    (8, None, [(0, "green"), (4, "green"), (6, "red")]),
    (4, None, [(0, "red"), (69, "red"), (70, "green"), (100, "green")]),
    (14, None, [(0, "red"), (69, "red"), (69.9, "red"), (70, "green"), (100, "green")]),
    (14, "B", [(0, "green"), (90000, "green"), (PIPELINE_MAX_AGE_SECONDS + 60, "red")]),
    (13, None, [(0, "green"), (0.008, "green"), (0.012, "red")]),
]


def table_rows(markdown):
    """{name: row} of the Markdown table rows that start with a `name` in backticks."""
    return {m.group(1): m.group(0) for m in re.finditer(r"^\| `(\w+)` \|.*$", markdown, re.M)}


def panel_thresholds(panel, ref_id=None):
    """The thresholds a panel draws: its defaults, or those of its override for series ref_id."""
    if ref_id is None:
        return panel["fieldConfig"]["defaults"]["thresholds"]
    for override in panel["fieldConfig"].get("overrides", []):
        if override["matcher"] == {"id": "byFrameRefID", "options": ref_id}:
            for prop in override["properties"]:
                if prop["id"] == "thresholds":
                    return prop["value"]
    raise AssertionError(f"panel {panel['id']}: no thresholds override for series {ref_id}")


def threshold_colour(steps, value):
    """Grafana's absolute thresholds: the colour of the last step whose value `value` reaches
    (the first step, value null, is the base)."""
    colour = steps[0]["color"]
    for step in steps[1:]:
        if value >= step["value"]:
            colour = step["color"]
    return colour


def slo_selectors(expr):
    """The selectors `{...}` of recommendation_requests_total and the latency histogram that
    select user-facing traffic (variant!="shadow") in a PromQL expression; quoted strings may
    hold braces."""
    out = []
    for m in re.finditer(r"\b(recommendation_requests_total|recommendation_latency_seconds_bucket)"
                         r"\{", expr):
        i, quoted = m.end(), False
        while quoted or expr[i] != "}":
            if expr[i] == "\\" and quoted:
                i += 1
            elif expr[i] == '"':
                quoted = not quoted
            i += 1
        selector = expr[m.start():i + 1]
        if 'variant!="shadow"' in selector:
            out.append(selector)
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

    # The unit tests can fail: tests/integration/test_monitoring_mutations.py loosens every
    # threshold and changes every `for:` in copies of the rules and expects alerts_test.yml to fail.

    def alerts(self):
        return {r["alert"]: r for g in load_yaml(os.path.join(PROM_DIR, "alerts.yml"))["groups"]
                for r in g["rules"]}

    def test_alerts_fire_when_the_runbook_says(self):
        with open(SOP) as f:
            sop = f.read()
        matrix = table_rows(sop)
        with open(MONITORING_MD) as f:
            doc_table = table_rows(f.read().split("\n## Alerts\n", 1)[1].split("\n### ", 1)[0])
        alerts = self.alerts()
        self.assertEqual(set(alerts), set(RUNBOOK_ALERTS))
        for name, (severity, expr, held, fires_when) in RUNBOOK_ALERTS.items():
            with self.subTest(alert=name):
                self.assertEqual(alerts[name]["labels"]["severity"], severity)
                self.assertEqual(alerts[name]["expr"].strip(), expr)
                self.assertEqual(alerts[name]["for"], held)
                self.assertIn(name, matrix, "missing from the runbook's alert response matrix")
                self.assertIn(f"| {severity} | {fires_when} |", matrix[name])
                self.assertIn(name, doc_table, "missing from docs/MONITORING.md's alert table")
                self.assertTrue(doc_table[name].startswith(f"| `{name}` | `{expr}` "),
                                doc_table[name])
                self.assertTrue(doc_table[name].endswith(f" | {held} | {severity} |"),
                                doc_table[name])
        period = [r for g in load_yaml(os.path.join(PROM_DIR, "recording_rules.yml"))["groups"]
                  for r in g["rules"] if r.get("record") == "recserve:pipeline_max_age_seconds"]
        self.assertEqual(period[0]["expr"].strip(), f"vector({PIPELINE_MAX_AGE_SECONDS})")

    def test_every_alert_has_annotations_and_an_absolute_runbook_link(self):
        with open(SOP) as f:
            anchors = set(re.findall(r'<a id="([^"]+)"></a>', f.read()))
        # Absolute links on one base, the repository's runbook (docs/MONITORING.md, "Runbook
        # links", names the base).
        bases = set()
        for name, rule in self.alerts().items():
            with self.subTest(alert=name):
                self.assertRegex(rule.get("for", ""), r"^\d+[smh]$")
                self.assertIn(rule["labels"]["severity"], ("critical", "warning"))
                for key in ("summary", "description", "runbook_url"):
                    self.assertTrue(rule["annotations"].get(key), key)
                url = urllib.parse.urlsplit(rule["annotations"]["runbook_url"])
                self.assertEqual(url.scheme, "https", "runbook_url must be an absolute link")
                self.assertTrue(url.netloc)
                self.assertTrue(url.path.endswith("/docs/OPERATIONS_SOP.md"), url.path)
                self.assertFalse(url.query)
                self.assertIn(url.fragment, anchors,
                              f'{name}: no <a id="{url.fragment}"> in docs/OPERATIONS_SOP.md')
                bases.add(f"{url.scheme}://{url.netloc}{url.path}")
        self.assertEqual(len(bases), 1, bases)
        with open(MONITORING_MD) as f:
            self.assertTrue(f"{bases.pop()}#alert-<name>" in f.read(),
                            "docs/MONITORING.md must name the runbook links' base")

    def test_every_alert_has_a_firing_and_a_quiet_unit_test(self):
        # And the quiet check one minute before the firing one in the same case, which pins `for:`
        # (the mutation test proves these cases catch a changed threshold or `for:`).
        firing, quiet, pinned = set(), set(), set()
        for case in load_yaml(os.path.join(PROM_DIR, "alerts_test.yml"))["tests"]:
            quiet_at = set()
            for check in case.get("alert_rule_test", []):
                if not check.get("exp_alerts"):
                    quiet.add(check["alertname"])
                    quiet_at.add((check["alertname"], self.minutes(check["eval_time"])))
            for check in case.get("alert_rule_test", []):
                if check.get("exp_alerts"):
                    firing.add(check["alertname"])
                    if (check["alertname"], self.minutes(check["eval_time"]) - 1) in quiet_at:
                        pinned.add(check["alertname"])
        for name in self.alerts():
            self.assertIn(name, firing, f"{name} has no firing case")
            self.assertIn(name, quiet, f"{name} has no quiet case")
            self.assertIn(name, pinned, f"{name}: no quiet check a minute before it fires")

    @staticmethod
    def minutes(duration):
        total = 0
        for value, unit in re.findall(r"(\d+)([hms])", duration):
            total += int(value) * {"h": 60, "m": 1, "s": 1 / 60}[unit]
        return total

    def test_slo_rules_count_the_recommendation_routes_only(self):
        with open(API_SERVICE) as f:
            routes = set(re.findall(r'router_\.Add\("[A-Z]+", "([^"]+)"', f.read()))
        self.assertEqual(routes - set(NON_USER_ROUTES), set(USER_ROUTES),
                         "a route was added or renamed: is it user traffic?")
        self.assertTrue(set(NON_USER_ROUTES) <= routes)
        rules = {r["record"]: r["expr"] for g in load_yaml(os.path.join(
            PROM_DIR, "recording_rules.yml"))["groups"] for r in g["rules"] if "record" in r}
        for name in SLO_RULES:
            with self.subTest(rule=name):
                matchers = re.findall(r'endpoint=~?"[^"]*"', rules[name])
                self.assertTrue(matchers)
                self.assertEqual(set(matchers), {ENDPOINT_MATCHER})
                # Every selector of the rule carries the filter.
                self.assertEqual(len(matchers), len(re.findall(r"\w+\{", rules[name])))

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
        hit = panels["Shadow hit ratio"]["targets"][0]["expr"]
        self.assertIn("recommendation_variant_hits_total", hit)
        self.assertIn("recommendation_variant_lists_total", hit)
        self.assertIn("by (variant)", hit)

    def test_threshold_colours_match_the_alerts(self):
        # Grafana colours a value with the last step whose value it reaches: red on the wrong
        # side of each alert threshold, green on the right side.
        panels = {p["id"]: p for p in dashboard_panels(self.dashboard)}
        for panel_id, ref_id, cases in THRESHOLD_COLOURS:
            steps = panel_thresholds(panels[panel_id], ref_id)["steps"]
            for value, colour in cases:
                with self.subTest(panel=panel_id, series=ref_id, value=value):
                    self.assertEqual(threshold_colour(steps, value), colour)

    def test_a_threshold_colour_check_can_fail(self):
        inverted = [{"color": "green", "value": None}, {"color": "red", "value": 70}]
        self.assertEqual(threshold_colour(inverted, 69), "green")  # panel 14 before the fix
        self.assertEqual(threshold_colour(inverted, 70), "red")

    def test_slo_queries_count_the_recommendation_routes_only(self):
        # Every user-facing (variant!="shadow") selector of the request counter or the latency
        # histogram carries the recording rules' endpoint matcher, letter for letter.
        checked = set()
        for panel in dashboard_panels(self.dashboard):
            for target in panel.get("targets", []):
                for selector in slo_selectors(target["expr"]):
                    with self.subTest(panel=panel["id"], selector=selector):
                        self.assertIn(ENDPOINT_MATCHER, selector)
                        checked.add(panel["id"])
        self.assertEqual(checked, {1, 2, 6, 7, 15})

    def test_slo_queries_give_the_rules_values(self):
        # The dashboard's success-rate and P95 queries on the unit tests' input series: the same
        # values as the recording rules (probes, scrapes and admin calls excluded).
        panels = {p["id"]: p for p in dashboard_panels(self.dashboard)}

        def query(panel_id):
            return substitute_grafana_variables(panels[panel_id]["targets"][0]["expr"])

        expected = {
            "the success and error ratios count each of the five recommendation routes and "
            "nothing else": [(query(1), "0.97"), (query(6), "0.97")],
            "the P95 covers each of the five recommendation routes and nothing else":
                [(query(2), "0.095"), (query(7), "0.095")],
            "HighErrorRate stays quiet on a pod without a model whose /ready answers 503":
                [(query(1), None), (query(6), None)],
        }
        unit_tests = load_yaml(os.path.join(PROM_DIR, "alerts_test.yml"))
        cases = []
        for case in unit_tests["tests"]:
            if case["name"] in expected:
                case = {"name": case["name"], "interval": case["interval"],
                        "input_series": case["input_series"], "promql_expr_test": [
                            {"expr": f"round({expr}, 0.0001)" if value else expr,
                             "eval_time": "10m",
                             "exp_samples": [{"labels": "{}", "value": float(value)}]
                             if value else []}
                            for expr, value in expected[case["name"]]]}
                cases.append(case)
        self.assertEqual(len(cases), len(expected), "a unit test case was renamed")
        with temp_dir() as d:
            path = os.path.join(d, "dashboard_test.yml")
            with open(path, "w") as f:
                yaml.safe_dump({"evaluation_interval": "1m", "tests": cases}, f)
            proc = run_tool("promtool", "test", "rules", path)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)

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
            self.assertTrue(set(RUNBOOK_ALERTS) <= names)
            self.assertIn("recserve:request_success_ratio:rate5m", names)
            for rule in rules:
                self.assertEqual(rule["health"], "ok", rule)
            # The constant threshold rule evaluates even without any target.
            value = prom.query("recserve:pipeline_max_age_seconds")
            self.assertEqual(float(value[0]["value"][1]), 93600)

    def test_slo_rules_count_user_traffic_only_on_a_running_service(self):
        # A service without a model, as a pod before its first bundle: /ready answers 503 to every
        # probe, the recommendation routes answer 200 (popular fallback) or 404 (unknown item).
        # The SLO rules must see no error at all (an error ratio of 0, or none: without any 5xx
        # series the numerator is empty); the same ratio over every endpoint sees the 503s.
        user_paths = ["/recommendations/1?k=5", "/recommend/detail/1", "/similar/1", "/popular",
                      "/hot/trending"]
        other_paths = ["/ready", "/live", "/health"]
        unfiltered = ('sum(rate(recommendation_requests_total{variant!="shadow", status=~"5.."}'
                      '[5m])) / sum(rate(recommendation_requests_total{variant!="shadow"}[5m]))')
        with temp_dir() as work, Service(
                env={"MODEL_DIR": os.path.join(work, "models")}, wait_ready=False) as service, \
                PrometheusServer(scrape_target=f"127.0.0.1:{service.port}") as prom:
            statuses = {}

            def recorded():
                for path in user_paths + other_paths:
                    statuses[path] = service.request("GET", path)[0]
                success = prom.query("recserve:request_success_ratio:rate5m")
                everything = prom.query(unfiltered)
                p95 = prom.query("recserve:latency_seconds:p95_5m")
                if success and everything and p95 and float(everything[0]["value"][1]) > 0:
                    return success, everything, p95
                return None

            result = wait_for(recorded, timeout=40)
            self.assertTrue(result, f"no SLO ratios recorded\n{prom.log_text()}")
            self.assertEqual(statuses["/ready"], 503)
            for path in user_paths:
                self.assertLess(statuses[path], 500, path)
            success, everything, p95 = result
            self.assertEqual(float(success[0]["value"][1]), 1.0)
            self.assertGreater(float(everything[0]["value"][1]), 0.0)
            errors = prom.query("recserve:request_error_ratio:rate5m")
            self.assertEqual([float(e["value"][1]) for e in errors], [0.0] if errors else [])
            self.assertGreater(float(p95[0]["value"][1]), 0.0)
            up = prom.query('up{job="recommendation-api-static"}')
            self.assertEqual(float(up[0]["value"][1]), 1.0)
            # The matcher, run by Prometheus on the labels the service really exports, selects the
            # five recommendation routes and nothing else.
            exported = {r["metric"]["endpoint"] for r in prom.query(
                "count by (endpoint) (recommendation_requests_total)")}
            selected = {r["metric"]["endpoint"] for r in prom.query(
                f"count by (endpoint) (recommendation_requests_total{{{ENDPOINT_MATCHER}}})")}
            self.assertEqual(selected, set(USER_ROUTES))
            self.assertTrue({"/ready", "/live", "/health"} <= exported - selected, exported)


if __name__ == "__main__":
    unittest.main()
