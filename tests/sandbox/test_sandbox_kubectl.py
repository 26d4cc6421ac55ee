"""Conformance: drive the sandbox with the real kubectl."""

from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

# The `kubectl` fixture (tests/sandbox/conftest.py) runs each test with kubectl 1.37 and 1.36.
Kubectl = Callable[..., subprocess.CompletedProcess[str]]

ROOT = Path(__file__).resolve().parents[2]

HELLO = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: hello
  labels: {app: hello}
spec:
  replicas: 2
  progressDeadlineSeconds: %(deadline)d
  selector:
    matchLabels: {app: hello}
  template:
    metadata:
      labels: {app: hello}
    spec:
      containers:
      - name: web
        image: %(image)s
        ports:
        - containerPort: 80
        env:
        - name: GREETING
          value: hello
%(extra_env)s---
apiVersion: v1
kind: Service
metadata:
  name: hello
spec:
  selector: {app: hello}
  ports:
  - port: 80
    targetPort: 80
"""


def hello(
    tmp_path: Path, image: str = "nginx:1.27", deadline: int = 600, extra_env: str = ""
) -> str:
    path = tmp_path / "hello.yaml"
    path.write_text(HELLO % {"image": image, "deadline": deadline, "extra_env": extra_env})
    return str(path)


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr + result.stdout
    return result.stdout


def test_command_starts_writes_kubeconfig_requires_token_and_stops_on_sigterm(
    tmp_path: Path,
) -> None:
    kubeconfig = tmp_path / "kc"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "sandbox", "--port", "0", "--kubeconfig", str(kubeconfig)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "listening on https://127.0.0.1:" in line
        url = line.split()[-1]
        config = yaml.safe_load(kubeconfig.read_text())
        assert config["current-context"] == "sandbox"
        assert config["clusters"][0]["cluster"]["server"] == url
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(f"{url}/api/v1/namespaces", context=context, timeout=5)
        assert info.value.code == 401
        body = json.loads(info.value.read())
        assert body["kind"] == "Status" and body["reason"] == "Unauthorized"
        token = config["users"][0]["user"]["token"]
        request = urllib.request.Request(
            f"{url}/api/v1/namespaces", headers={"Authorization": f"Bearer {token}"}
        )
        with urllib.request.urlopen(request, context=context, timeout=5) as response:
            names = [i["metadata"]["name"] for i in json.loads(response.read())["items"]]
        assert "default" in names
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0


def test_discovery_and_explain(kubectl: Kubectl) -> None:
    out = ok(kubectl("api-resources"))
    for name in (
        "deployments",
        "replicasets",
        "statefulsets",
        "daemonsets",
        "jobs",
        "cronjobs",
        "ingresses",
        "horizontalpodautoscalers",
        "poddisruptionbudgets",
        "configmaps",
        "secrets",
        "services",
        "serviceaccounts",
        "pods",
        "events",
        "namespaces",
    ):
        assert f"\n{name} " in out
    version = json.loads(ok(kubectl("version", "-o", "json")))
    assert version["serverVersion"]["major"] == "1"
    explain = ok(kubectl("explain", "deployment.spec.replicas"))
    assert "replicas" in explain and "integer" in explain
    result = kubectl("get", "widgets")
    assert result.returncode != 0 and "doesn't have a resource type" in result.stderr


def test_hello_world_apply_get_and_rollout_status(
    kubectl: Kubectl, namespace: str, tmp_path: Path
) -> None:
    out = ok(kubectl("apply", "--server-side", "-n", namespace, "-f", hello(tmp_path)))
    assert "deployment.apps/hello serverside-applied" in out
    assert "service/hello serverside-applied" in out
    ok(kubectl("rollout", "status", "-n", namespace, "deployment/hello", "--timeout=30s"))
    deployment = yaml.safe_load(
        ok(
            kubectl(
                "get", "-n", namespace, "deployment", "hello", "-o", "yaml", "--show-managed-fields"
            )
        )
    )
    meta = deployment["metadata"]
    assert meta["uid"] and meta["resourceVersion"] and meta["generation"] == 1
    assert meta["creationTimestamp"].endswith("Z")
    assert meta["managedFields"][0]["manager"] == "kubectl"
    assert meta["managedFields"][0]["operation"] == "Apply"
    status = deployment["status"]
    assert status["readyReplicas"] == status["availableReplicas"] == 2
    conditions = {c["type"]: c for c in status["conditions"]}
    assert conditions["Available"]["status"] == "True"
    assert conditions["Progressing"]["reason"] == "NewReplicaSetAvailable"
    service = yaml.safe_load(ok(kubectl("get", "-n", namespace, "svc", "hello", "-o", "yaml")))
    assert service["spec"]["clusterIP"].startswith("10.96.")
    rs = yaml.safe_load(ok(kubectl("get", "-n", namespace, "rs", "-o", "yaml")))["items"]
    assert len(rs) == 1
    assert rs[0]["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"
    assert rs[0]["metadata"]["ownerReferences"][0]["kind"] == "Deployment"
    assert "pod-template-hash" in rs[0]["metadata"]["labels"]
    pods = ok(kubectl("get", "pods", "-n", namespace))
    assert pods.count("Running") == 2 and "1/1" in pods


def test_rolling_update_replaces_replicaset(
    kubectl: Kubectl, namespace: str, tmp_path: Path
) -> None:
    ok(kubectl("apply", "--server-side", "-n", namespace, "-f", hello(tmp_path)))
    ok(kubectl("rollout", "status", "-n", namespace, "deploy/hello", "--timeout=30s"))
    ok(
        kubectl(
            "apply", "--server-side", "-n", namespace, "-f", hello(tmp_path, image="nginx:1.28")
        )
    )
    ok(kubectl("rollout", "status", "-n", namespace, "deploy/hello", "--timeout=30s"))
    rs = yaml.safe_load(ok(kubectl("get", "-n", namespace, "rs", "-o", "yaml")))["items"]
    by_revision = {r["metadata"]["annotations"]["deployment.kubernetes.io/revision"]: r for r in rs}
    assert by_revision["1"]["spec"]["replicas"] == 0
    assert by_revision["2"]["spec"]["replicas"] == 2
    deployment = json.loads(ok(kubectl("get", "-n", namespace, "deploy", "hello", "-o", "json")))
    assert deployment["metadata"]["generation"] == 2
    events = ok(kubectl("get", "events", "-n", namespace))
    assert "ScalingReplicaSet" in events and "Scaled down replica set" in events


def test_rollout_status_fails_for_missing_image(
    kubectl: Kubectl, namespace: str, tmp_path: Path
) -> None:
    manifest = hello(tmp_path, image="nginx:does-not-exist", deadline=2)
    ok(kubectl("apply", "--server-side", "-n", namespace, "-f", manifest))
    result = kubectl("rollout", "status", "-n", namespace, "deploy/hello", "--timeout=30s")
    assert result.returncode != 0
    assert 'deployment "hello" exceeded its progress deadline' in result.stderr
    pods = json.loads(ok(kubectl("get", "pods", "-n", namespace, "-o", "json")))
    reasons = {
        p["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] for p in pods["items"]
    }
    assert reasons <= {"ErrImagePull", "ImagePullBackOff"}
    events = ok(kubectl("get", "events", "-n", namespace))
    assert "not found" in events and "ImagePullBackOff" in events


def test_rollout_status_fails_for_crashing_container(
    kubectl: Kubectl, namespace: str, tmp_path: Path
) -> None:
    env = '        - name: SANDBOX_CRASH\n          value: "1"\n'
    ok(
        kubectl(
            "apply",
            "--server-side",
            "-n",
            namespace,
            "-f",
            hello(tmp_path, deadline=2, extra_env=env),
        )
    )
    result = kubectl("rollout", "status", "-n", namespace, "deploy/hello", "--timeout=30s")
    assert "exceeded its progress deadline" in result.stderr
    pods = json.loads(ok(kubectl("get", "pods", "-n", namespace, "-o", "json")))
    status = pods["items"][0]["status"]["containerStatuses"][0]
    assert status["restartCount"] >= 2
    assert status["lastState"]["terminated"]["exitCode"] == 1
    assert "CrashLoopBackOff" in ok(kubectl("get", "pods", "-n", namespace))
    assert "Back-off restarting failed container" in ok(kubectl("get", "events", "-n", namespace))


def test_rollout_status_fails_for_exceeded_deadline_when_never_ready(
    kubectl: Kubectl, namespace: str, tmp_path: Path
) -> None:
    env = '        - name: SANDBOX_NEVER_READY\n          value: "true"\n'
    ok(
        kubectl(
            "apply",
            "--server-side",
            "-n",
            namespace,
            "-f",
            hello(tmp_path, deadline=1, extra_env=env),
        )
    )
    result = kubectl("rollout", "status", "-n", namespace, "deploy/hello", "--timeout=30s")
    assert "exceeded its progress deadline" in result.stderr
    pods = ok(kubectl("get", "pods", "-n", namespace))
    assert "0/1" in pods and "Running" in pods
    assert "Readiness probe failed" in ok(kubectl("get", "events", "-n", namespace))


def test_diff_shows_changes_only(kubectl: Kubectl, namespace: str, tmp_path: Path) -> None:
    manifest = hello(tmp_path)
    ok(kubectl("apply", "--server-side", "-n", namespace, "-f", manifest))
    # Let the rollout settle: kubectl diff reads the live object and then dry-runs, and a status
    # change in between would show up as a difference, as on a real cluster.
    ok(kubectl("rollout", "status", "-n", namespace, "deploy/hello", "--timeout=30s"))
    for flags in ([], ["--server-side"]):
        same = kubectl("diff", *flags, "-n", namespace, "-f", manifest)
        assert same.returncode == 0, same.stdout + same.stderr
    changed = hello(tmp_path, image="nginx:1.29")
    for flags in ([], ["--server-side"]):
        result = kubectl("diff", *flags, "-n", namespace, "-f", changed)
        assert result.returncode == 1, result.stderr
        assert "-        image: nginx:1.27" in result.stdout
        assert "+        image: nginx:1.29" in result.stdout
    image = ok(
        kubectl(
            "get",
            "-n",
            namespace,
            "deploy",
            "hello",
            "-o",
            "jsonpath={.spec.template.spec.containers[0].image}",
        )
    )
    assert image == "nginx:1.27"  # diff is a dry run


def test_delete_namespace_cascades(kubectl: Kubectl, tmp_path: Path) -> None:
    ok(
        kubectl(
            "create",
            "-f",
            "-",
            input="apiVersion: v1\nkind: Namespace\nmetadata:\n  name: doomed\n",
        )
    )
    ok(kubectl("apply", "--server-side", "-n", "doomed", "-f", hello(tmp_path)))
    ok(kubectl("rollout", "status", "-n", "doomed", "deploy/hello", "--timeout=30s"))
    ok(kubectl("delete", "namespace", "doomed", "--timeout=30s"))
    result = kubectl("get", "namespace", "doomed")
    assert result.returncode != 0 and "NotFound" in result.stderr
    out = ok(kubectl("get", "pods,rs,deploy,svc", "-A"))
    assert "doomed" not in out
    result = kubectl("apply", "--server-side", "-n", "doomed", "-f", hello(tmp_path))
    assert result.returncode != 0 and 'namespaces "doomed" not found' in result.stderr


def test_delete_deployment_collects_garbage(
    kubectl: Kubectl, namespace: str, tmp_path: Path
) -> None:
    ok(kubectl("apply", "--server-side", "-n", namespace, "-f", hello(tmp_path)))
    ok(kubectl("rollout", "status", "-n", namespace, "deploy/hello", "--timeout=30s"))
    ok(kubectl("delete", "-n", namespace, "deployment", "hello"))
    assert ok(kubectl("get", "rs,pods", "-n", namespace, "-o", "name")).strip() == ""


def test_get_events_lists_pod_lifecycle(kubectl: Kubectl, namespace: str, tmp_path: Path) -> None:
    ok(kubectl("apply", "--server-side", "-n", namespace, "-f", hello(tmp_path)))
    ok(kubectl("rollout", "status", "-n", namespace, "deploy/hello", "--timeout=30s"))
    events = ok(kubectl("get", "events", "-n", namespace))
    for reason in (
        "Scheduled",
        "Pulling",
        "Pulled",
        "Created",
        "Started",
        "ScalingReplicaSet",
        "SuccessfulCreate",
    ):
        assert reason in events
    described = ok(kubectl("describe", "deployment", "hello", "-n", namespace))
    assert "Scaled up replica set" in described


def test_server_side_apply_conflicts_and_force(
    kubectl: Kubectl, namespace: str, tmp_path: Path
) -> None:
    manifest = hello(tmp_path)
    ok(kubectl("apply", "--server-side", "-n", namespace, "-f", manifest))
    changed = hello(tmp_path, image="nginx:1.29")
    result = kubectl(
        "apply", "--server-side", "--field-manager", "other", "-n", namespace, "-f", changed
    )
    assert result.returncode != 0
    assert "conflict" in result.stderr and 'conflict with "kubectl"' in result.stderr
    assert '.spec.template.spec.containers[name="web"].image' in result.stderr
    ok(
        kubectl(
            "apply",
            "--server-side",
            "--field-manager",
            "other",
            "--force-conflicts",
            "-n",
            namespace,
            "-f",
            changed,
        )
    )
    image = ok(
        kubectl(
            "get",
            "-n",
            namespace,
            "deploy",
            "hello",
            "-o",
            "jsonpath={.spec.template.spec.containers[0].image}",
        )
    )
    assert image == "nginx:1.29"


def test_rollout_status_statefulset_daemonset_and_job(
    kubectl: Kubectl, namespace: str, tmp_path: Path
) -> None:
    manifest = tmp_path / "workloads.yaml"
    template = """\
    metadata:
      labels: {app: %s}
    spec:
      containers:
      - name: main
        image: busybox:1.36
"""
    manifest.write_text(f"""\
apiVersion: apps/v1
kind: StatefulSet
metadata: {{name: db}}
spec:
  serviceName: db
  replicas: 3
  selector: {{matchLabels: {{app: db}}}}
  template:
{template % "db"}---
apiVersion: apps/v1
kind: DaemonSet
metadata: {{name: agent}}
spec:
  selector: {{matchLabels: {{app: agent}}}}
  template:
{template % "agent"}---
apiVersion: batch/v1
kind: Job
metadata: {{name: migrate}}
spec:
  template:
{template % "migrate"}""")
    ok(kubectl("apply", "--server-side", "-n", namespace, "-f", str(manifest)))
    ok(kubectl("rollout", "status", "-n", namespace, "statefulset/db", "--timeout=30s"))
    ok(kubectl("rollout", "status", "-n", namespace, "daemonset/agent", "--timeout=30s"))
    ok(kubectl("wait", "-n", namespace, "--for=condition=complete", "job/migrate", "--timeout=30s"))
    pods = ok(kubectl("get", "pods", "-n", namespace, "-o", "name"))
    for name in ("pod/db-0", "pod/db-1", "pod/db-2", "pod/agent-", "pod/migrate-"):
        assert name in pods
    # A rolling update of the StatefulSet replaces every pod with the new revision.
    ok(kubectl("set", "image", "-n", namespace, "statefulset/db", "main=busybox:1.37"))
    ok(kubectl("rollout", "status", "-n", namespace, "statefulset/db", "--timeout=30s"))
    images = ok(
        kubectl(
            "get",
            "pods",
            "-n",
            namespace,
            "-l",
            "app=db",
            "-o",
            "jsonpath={.items[*].spec.containers[0].image}",
        )
    ).split()
    assert images == ["busybox:1.37"] * 3


def test_apply_twenty_documents_at_once(kubectl: Kubectl, namespace: str, tmp_path: Path) -> None:
    # How fast is measured by bench/ (figures, not timed assertions); this checks that one apply
    # of many documents works.
    docs = []
    for i in range(10):
        docs.append(
            HELLO.split("---\n")[0]
            .replace("name: hello", f"name: app{i}")
            .replace("app: hello", f"app: app{i}")
            % {"image": "nginx:1.27", "deadline": 600, "extra_env": ""}
        )
        docs.append(
            f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg{i}\ndata:\n  key: value{i}\n"
        )
    manifest = tmp_path / "twenty.yaml"
    manifest.write_text("---\n".join(docs))
    out = ok(kubectl("apply", "--server-side", "-n", namespace, "-f", str(manifest)))
    assert out.count("serverside-applied") == 20
    listed = ok(kubectl("get", "deployments,configmaps", "-n", namespace, "-o", "name"))
    assert all(f"deployment.apps/app{i}" in listed for i in range(10))
    assert all(f"configmap/cfg{i}" in listed for i in range(10))


def test_generator_commands_scale_and_logs(kubectl: Kubectl) -> None:
    """kubectl create/expose send protobuf bodies; scale uses /scale; logs uses pods/log."""
    ok(kubectl("create", "namespace", "generated"))
    ns = ["-n", "generated"]
    ok(kubectl("create", *ns, "configmap", "settings", "--from-literal=mode=fast"))
    ok(kubectl("create", *ns, "secret", "generic", "creds", "--from-literal=pw=s3cret"))
    ok(kubectl("create", *ns, "deployment", "web", "--image=nginx:1.27", "--port=80"))
    ok(kubectl("expose", *ns, "deployment", "web", "--port=8080", "--target-port=80"))
    data = ok(kubectl("get", *ns, "cm", "settings", "-o", "jsonpath={.data.mode}"))
    assert data == "fast"
    secret = ok(kubectl("get", *ns, "secret", "creds", "-o", "jsonpath={.data.pw}"))
    assert secret == "czNjcmV0"
    service = json.loads(ok(kubectl("get", *ns, "svc", "web", "-o", "json")))
    assert service["spec"]["ports"][0]["port"] == 8080
    assert service["spec"]["ports"][0]["targetPort"] == 80
    ok(kubectl("scale", *ns, "deployment/web", "--replicas=3"))
    ok(kubectl("rollout", "status", *ns, "deployment/web", "--timeout=30s"))
    replicas = ok(kubectl("get", *ns, "deploy", "web", "-o", "jsonpath={.status.replicas}"))
    assert replicas == "3"
    logs = ok(kubectl("logs", *ns, "deployment/web"))
    assert "started from image nginx:1.27" in logs
    ok(kubectl("delete", "namespace", "generated"))
