"""Kubernetes manifests (deploy/k8s) and the Dockerfile: parsed and cross-checked.

No cluster is available to tests, so the manifests are checked for what a cluster would reject or
what would silently break the runbook: names the runbook scales, selectors that match pods,
probes on the service's endpoints, env keys the service reads, ports that agree, a kustomization
that lists every file. When `kubectl` is on PATH, `kubectl kustomize` renders base and overlay
(offline) as well.
"""
import os
import re
import shutil
import subprocess
import unittest

import yaml

from recserve_testing import SOURCE_DIR

K8S = os.path.join(SOURCE_DIR, "deploy", "k8s")
BASE = os.path.join(K8S, "base")
OVERLAY = os.path.join(K8S, "overlays", "example")
SOP = os.path.join(SOURCE_DIR, "docs", "OPERATIONS_SOP.md")

REQUIRED_ENV = ["PORT", "MODEL_DIR", "FEATURE_STORE_PATH", "REDIS_URL", "FEATURE_REDIS_URL",
                "RANKING_TIMEOUT"]


def load_documents(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def load_dir(directory):
    """{(kind, name): object} of every manifest listed by the directory's kustomization."""
    objects = {}
    for name in kustomization(directory).get("resources", []):
        path = os.path.join(directory, name)
        if os.path.isdir(path):
            continue
        for doc in load_documents(path):
            objects[(doc["kind"], doc["metadata"]["name"])] = doc
    return objects


def kustomization(directory):
    return load_documents(os.path.join(directory, "kustomization.yaml"))[0]


def labels_match(selector, labels):
    return all(labels.get(k) == v for k, v in selector.items())


def pod_spec(obj):
    if obj["kind"] == "CronJob":
        return obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return obj["spec"]["template"]["spec"]


def containers(obj):
    return pod_spec(obj)["containers"]


class KustomizationTest(unittest.TestCase):
    def test_every_yaml_file_parses_and_is_listed(self):
        for directory in (BASE, OVERLAY):
            k = kustomization(directory)
            listed = set(k.get("resources", []))
            listed |= {p["path"] for p in k.get("patches", []) if "path" in p}
            files = {f for f in os.listdir(directory)
                     if f.endswith((".yaml", ".yml")) and f != "kustomization.yaml"}
            self.assertEqual(files, {f for f in listed if not f.startswith("..")},
                             f"{directory}: files and kustomization disagree")
            for name in files:
                for doc in load_documents(os.path.join(directory, name)):
                    self.assertIn("apiVersion", doc, name)
                    self.assertIn("kind", doc, name)
                    self.assertTrue(doc["metadata"]["name"], name)
            for name in listed:
                self.assertTrue(os.path.exists(os.path.join(directory, name)), name)

    def test_base_has_every_object_the_runbook_names(self):
        objects = load_dir(BASE)
        for key in [("Deployment", "recommendation-api"), ("Service", "recommendation-api"),
                    ("PodDisruptionBudget", "recommendation-api"),
                    ("HorizontalPodAutoscaler", "recommendation-api"),
                    ("Deployment", "redis-cache"), ("Service", "redis-cache"),
                    ("CronJob", "recserve-pipeline"), ("ConfigMap", "recommendation-api-config"),
                    ("PersistentVolumeClaim", "recserve-data")]:
            self.assertIn(key, objects)
        self.assertEqual(objects[("Deployment", "recommendation-api")]["spec"]["replicas"], 3)

    def test_runbook_scale_commands_name_existing_deployments(self):
        with open(SOP) as f:
            sop = f.read()
        deployments = {name for kind, name in load_dir(BASE) if kind == "Deployment"}
        commands = re.findall(r"kubectl scale deployment ([\w-]+) --replicas=(\d+)", sop)
        self.assertIn(("recommendation-api", "0"), commands)
        self.assertIn(("recommendation-api", "3"), commands)
        self.assertIn(("redis-cache", "0"), commands)
        for name, _ in commands:
            self.assertIn(name, deployments)
        for name in re.findall(r"kubectl (?:rollout restart|set env) deployment/?\s*([\w-]+)",
                               sop):
            self.assertIn(name, deployments)


class WorkloadTest(unittest.TestCase):
    def setUp(self):
        self.objects = load_dir(BASE)
        self.api = self.objects[("Deployment", "recommendation-api")]
        self.container = containers(self.api)[0]
        self.config = self.objects[("ConfigMap", "recommendation-api-config")]["data"]

    def test_selectors_match_pod_labels(self):
        for (kind, name), obj in self.objects.items():
            if kind != "Deployment":
                continue
            pod_labels = obj["spec"]["template"]["metadata"]["labels"]
            self.assertTrue(labels_match(obj["spec"]["selector"]["matchLabels"], pod_labels))
            service = self.objects[("Service", name)]
            self.assertTrue(labels_match(service["spec"]["selector"], pod_labels), name)
            ports = {p["name"]: p["containerPort"] for c in containers(obj) for p in c["ports"]}
            for port in service["spec"]["ports"]:
                self.assertIn(port["targetPort"], ports, f"{name}: {port}")
        api_labels = self.api["spec"]["template"]["metadata"]["labels"]
        pdb = self.objects[("PodDisruptionBudget", "recommendation-api")]
        self.assertTrue(labels_match(pdb["spec"]["selector"]["matchLabels"], api_labels))
        self.assertLess(pdb["spec"]["minAvailable"], self.api["spec"]["replicas"])
        hpa = self.objects[("HorizontalPodAutoscaler", "recommendation-api")]
        self.assertEqual(hpa["spec"]["scaleTargetRef"]["kind"], "Deployment")
        self.assertEqual(hpa["spec"]["scaleTargetRef"]["name"], "recommendation-api")
        self.assertLessEqual(hpa["spec"]["minReplicas"], self.api["spec"]["replicas"])

    def test_api_runs_serve_with_probes_on_live_and_ready(self):
        self.assertEqual(self.container["command"][-1], "serve")
        self.assertTrue(self.container["command"][0].endswith("/build/recserve"))
        port_names = {p["name"] for p in self.container["ports"]}
        for probe, path in [("livenessProbe", "/live"), ("readinessProbe", "/ready"),
                            ("startupProbe", "/live")]:
            get = self.container[probe]["httpGet"]
            self.assertEqual(get["path"], path, probe)
            self.assertIn(get["port"], port_names, probe)

    def test_graceful_termination_outlasts_the_drain(self):
        spec = pod_spec(self.api)
        pre_stop = self.container["lifecycle"]["preStop"]["exec"]["command"]
        self.assertEqual(pre_stop[0], "sleep")
        self.assertGreater(spec["terminationGracePeriodSeconds"], int(pre_stop[1]) + 10)

    def test_resources_and_non_root(self):
        for (kind, name), obj in self.objects.items():
            if kind not in ("Deployment", "CronJob"):
                continue
            self.assertTrue(pod_spec(obj)["securityContext"]["runAsNonRoot"], name)
            for c in containers(obj):
                self.assertIn("cpu", c["resources"]["requests"], name)
                self.assertIn("memory", c["resources"]["requests"], name)
                self.assertIn("memory", c["resources"]["limits"], name)
                self.assertFalse(c["securityContext"]["allowPrivilegeEscalation"], name)

    def test_env_comes_from_the_configmap_and_ports_agree(self):
        refs = [e["configMapRef"]["name"] for e in self.container["envFrom"]]
        self.assertIn("recommendation-api-config", refs)
        for key in REQUIRED_ENV:
            self.assertIn(key, self.config)
            self.assertIsInstance(self.config[key], str, f"{key} must be a string")
        self.assertEqual(int(self.config["PORT"]), self.container["ports"][0]["containerPort"])
        float(self.config["RANKING_TIMEOUT"])  # seconds, float
        redis_service = self.objects[("Service", "redis-cache")]
        redis_port = redis_service["spec"]["ports"][0]["port"]
        for key in ("REDIS_URL", "FEATURE_REDIS_URL"):
            self.assertRegex(self.config[key], rf"^redis://redis-cache:{redis_port}(/\d+)?$")

    def test_admin_token_secret_is_required(self):
        # Beyond loopback the service refuses admin calls without ADMIN_TOKEN (403), so a pod that
        # started without the Secret could not be reloaded or rolled back: the reference must be
        # required (absent `optional` means false), so such a pod does not start at all.
        admin = [e for e in self.container.get("env", []) if e["name"] == "ADMIN_TOKEN"]
        self.assertEqual(len(admin), 1, "the API container must take ADMIN_TOKEN")
        ref = admin[0]["valueFrom"]["secretKeyRef"]
        self.assertEqual(ref["name"], "recommendation-api-admin")
        self.assertEqual(ref["key"], "ADMIN_TOKEN")
        self.assertIs(ref.get("optional", False), False, "the ADMIN_TOKEN Secret must be required")
        self.assertNotIn("ADMIN_ALLOW_UNAUTHENTICATED", self.config)
        self.assertNotIn("ADMIN_ALLOW_UNAUTHENTICATED",
                         {e["name"] for e in self.container.get("env", [])})
        self.assertNotIn("BIND_ADDRESS", self.config)  # probes and the Service need 0.0.0.0
        # The runbook says how to create it.
        with open(SOP) as f:
            self.assertIn("create secret generic recommendation-api-admin", f.read())

    def test_model_volume_is_mounted_where_the_config_points(self):
        claims = {name for kind, name in self.objects if kind == "PersistentVolumeClaim"}
        for obj in (self.api, self.objects[("CronJob", "recserve-pipeline")]):
            volumes = {v["name"]: v for v in pod_spec(obj)["volumes"]}
            mounts = [m["mountPath"] for c in containers(obj) for m in c["volumeMounts"]]
            for volume in volumes.values():
                if "persistentVolumeClaim" in volume:
                    self.assertIn(volume["persistentVolumeClaim"]["claimName"], claims)
            self.assertIn(self.config["MODEL_DIR"], mounts)
            self.assertTrue(any(self.config["FEATURE_STORE_PATH"].startswith(m + "/")
                                for m in mounts))

    def test_the_fleets_shared_state_survives_restarts(self):
        # Each API pod spools events on a volume of its own that outlives a container restart.
        env = {e["name"]: e.get("value") for e in self.container.get("env", [])}
        spool = env.get("EVENT_SPOOL_DIR") or self.config.get("EVENT_SPOOL_DIR")
        self.assertTrue(spool)
        volumes = {v["name"]: v for v in pod_spec(self.api)["volumes"]}
        mounted = {m["mountPath"]: m["name"] for m in self.container["volumeMounts"]}
        self.assertIn(spool, mounted)
        self.assertIn("emptyDir", volumes[mounted[spool]])
        # Redis keeps the event log and the desired models in an append-only file on a claim,
        # and never evicts them (only keys with a TTL).
        redis = self.objects[("Deployment", "redis-cache")]
        args = containers(redis)[0]["args"]
        self.assertEqual(args[args.index("--appendonly") + 1], "yes")
        self.assertEqual(args[args.index("--maxmemory-policy") + 1], "volatile-lru")
        claims = {name for kind, name in self.objects if kind == "PersistentVolumeClaim"}
        redis_volumes = pod_spec(redis)["volumes"]
        self.assertTrue(any(v.get("persistentVolumeClaim", {}).get("claimName") in claims
                            for v in redis_volumes))
        data_dir = args[args.index("--dir") + 1]
        self.assertIn(data_dir, [m["mountPath"] for m in containers(redis)[0]["volumeMounts"]])

    def test_pipeline_cronjob_runs_the_pipeline_script_from_the_api_image(self):
        job = self.objects[("CronJob", "recserve-pipeline")]
        self.assertEqual(job["spec"]["concurrencyPolicy"], "Forbid")
        container = containers(job)[0]
        self.assertEqual(container["command"], ["scripts/run_pipeline.sh"])
        self.assertEqual(container["image"], self.container["image"])
        self.assertEqual(container["workingDir"], self.container["workingDir"])
        self.assertEqual(len(job["spec"]["schedule"].split()), 5)


@unittest.skipUnless(shutil.which("kubectl"), "kubectl not installed")
class KustomizeRenderTest(unittest.TestCase):
    def render(self, directory):
        proc = subprocess.run(["kubectl", "kustomize", directory], capture_output=True,
                              text=True, timeout=120)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        return [d for d in yaml.safe_load_all(proc.stdout) if d]

    def test_base_and_overlay_render(self):
        base = self.render(BASE)
        overlay = self.render(OVERLAY)
        self.assertEqual(len(overlay), len(base) + 1)  # plus the Namespace
        overlay_name = kustomization(OVERLAY)["namespace"]
        for obj in overlay:
            if obj["kind"] != "Namespace":
                self.assertEqual(obj["metadata"].get("namespace"), overlay_name, obj["kind"])
                self.assertEqual(obj["metadata"]["labels"]["app.kubernetes.io/part-of"],
                                 "recserve")
        image = kustomization(OVERLAY)["images"][0]
        expected = f"{image['newName']}:{image['newTag']}"
        rendered = {(o["kind"], o["metadata"]["name"]): o for o in overlay}
        for key in [("Deployment", "recommendation-api"), ("CronJob", "recserve-pipeline")]:
            self.assertEqual(containers(rendered[key])[0]["image"], expected)
        config = rendered[("ConfigMap", "recommendation-api-config")]["data"]
        self.assertEqual(config["RANKING_TIMEOUT"], "0.04")
        for key in REQUIRED_ENV:
            self.assertIn(key, config)  # the patch merges, it does not replace


class DockerfileTest(unittest.TestCase):
    def setUp(self):
        with open(os.path.join(SOURCE_DIR, "Dockerfile")) as f:
            text = f.read()
        # Join continuation lines, drop comments.
        text = re.sub(r"\\\n", " ", text)
        self.lines = [ln.strip() for ln in text.splitlines()
                      if ln.strip() and not ln.strip().startswith("#")]
        self.stages = []
        for line in self.lines:
            if line.upper().startswith("FROM "):
                self.stages.append([line])
            elif self.stages:
                self.stages[-1].append(line)

    def test_multi_stage_on_bookworm_slim_reusing_install_deps(self):
        self.assertGreaterEqual(len(self.stages), 2)
        for stage in self.stages:
            self.assertRegex(stage[0], r"^FROM debian:bookworm-slim AS \w+$")
        build = " ".join(self.stages[0])
        self.assertIn("scripts/install-deps.sh", build)
        self.assertIn("make build", build)
        runtime = " ".join(self.stages[-1])
        self.assertNotIn("install-deps.sh", runtime)
        self.assertNotIn("build-essential", runtime)
        self.assertIn("COPY --from=", runtime)

    def test_runtime_is_non_root_exposes_8080_and_checks_live(self):
        runtime = self.stages[-1]
        users = [ln.split()[1] for ln in runtime if ln.upper().startswith("USER ")]
        self.assertTrue(users)
        user = users[-1].split(":")[0]
        self.assertNotIn(user, ("root", "0"))
        self.assertIn("EXPOSE 8080", runtime)
        health = [ln for ln in runtime if ln.upper().startswith("HEALTHCHECK ")]
        self.assertTrue(health and "/live" in health[0])
        # The Deployment runs as the image's user and the binary the image installs.
        api = load_dir(BASE)[("Deployment", "recommendation-api")]
        self.assertEqual(str(pod_spec(api)["securityContext"]["runAsUser"]), user)
        entry = [ln for ln in runtime if ln.upper().startswith("ENTRYPOINT ")][0]
        self.assertIn(containers(api)[0]["command"][0], entry)

    def test_dockerignore_keeps_build_trees_and_data_out(self):
        with open(os.path.join(SOURCE_DIR, ".dockerignore")) as f:
            entries = {ln.strip() for ln in f if ln.strip() and not ln.startswith("#")}
        for entry in ("build", ".git", "data", "models"):
            self.assertIn(entry, entries)


if __name__ == "__main__":
    unittest.main()
