"""Conformance: server-side tables (what `kubectl get` prints) and Job defaulting/status."""

from __future__ import annotations

import json
import os
import queue
import re
import ssl
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable
from typing import Any

from sandbox import tables
from sandbox.resources import BY_PLURAL, Resource
from sandbox.testing import RunningSandbox

Kubectl = Callable[..., subprocess.CompletedProcess[str]]

TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"
AGO = re.compile(r"^\d+s$")


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr + result.stdout
    return result.stdout


def parse(output: str) -> tuple[list[str], list[dict[str, str]]]:
    """Headers and rows of kubectl's column output, cut at the header's column starts."""
    lines = [line for line in output.splitlines() if line.strip()]
    spans = [(m.start(), m.group()) for m in re.finditer(r"\S+(?: \S+)*", lines[0])]
    rows = []
    for line in lines[1:]:
        cells = {}
        for i, (start, name) in enumerate(spans):
            end = spans[i + 1][0] if i + 1 < len(spans) else len(line)
            cells[name] = line[start:end].strip()
        rows.append(cells)
    return [name for _, name in spans], rows


def poll(fn: Callable[[], Any], timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value or time.monotonic() > deadline:
            assert value, "condition not met in time"
            return value
        time.sleep(0.1)


def get_rows(kubectl: Kubectl, *args: str) -> tuple[list[str], list[dict[str, str]]]:
    return parse(ok(kubectl("get", *args)))


def raw_get(sandbox: RunningSandbox, path: str, accept: str = TABLE) -> dict[str, Any]:
    ctx = ssl.create_default_context(cafile=str(sandbox.ca_file))
    request = urllib.request.Request(
        sandbox.url + path, headers={"Authorization": f"Bearer {sandbox.token}", "Accept": accept}
    )
    with urllib.request.urlopen(request, context=ctx, timeout=10) as response:
        return json.loads(response.read())


WORKLOADS = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: web, image: "nginx:1.27"}
      - {name: sidecar, image: "busybox:1.36"}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  type: NodePort
  selector: {app: web, tier: front}
  ports: [{port: 80, targetPort: 80}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  serviceName: db
  replicas: 1
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers: [{name: db, image: "postgres:17"}]
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      nodeSelector: {kubernetes.io/os: linux}
      containers: [{name: agent, image: "busybox:1.36"}]
---
apiVersion: batch/v1
kind: Job
metadata: {name: migrate}
spec:
  template:
    metadata: {labels: {app: migrate}}
    spec:
      containers: [{name: migrate, image: "busybox:1.36"}]
"""


def test_workload_tables_have_real_columns_and_wide_columns(
    kubectl: Kubectl, namespace: str
) -> None:
    ns = ("-n", namespace)
    ok(kubectl("apply", *ns, "-f", "-", input=WORKLOADS))
    ok(kubectl("rollout", "status", *ns, "deployment/web", "--timeout=30s"))
    ok(kubectl("rollout", "status", *ns, "statefulset/db", "--timeout=30s"))
    ok(kubectl("rollout", "status", *ns, "daemonset/agent", "--timeout=30s"))
    ok(kubectl("wait", *ns, "--for=condition=complete", "job/migrate", "--timeout=30s"))

    headers, rows = get_rows(kubectl, *ns, "deployments")
    assert headers == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert rows[0] | {"AGE": ""} == {
        "NAME": "web",
        "READY": "2/2",
        "UP-TO-DATE": "2",
        "AVAILABLE": "2",
        "AGE": "",
    }
    assert AGO.match(rows[0]["AGE"])

    headers, rows = get_rows(kubectl, *ns, "deployments", "-o", "wide")
    assert headers == [
        "NAME",
        "READY",
        "UP-TO-DATE",
        "AVAILABLE",
        "AGE",
        "CONTAINERS",
        "IMAGES",
        "SELECTOR",
    ]
    assert (rows[0]["CONTAINERS"], rows[0]["IMAGES"], rows[0]["SELECTOR"]) == (
        "web,sidecar",
        "nginx:1.27,busybox:1.36",
        "app=web",
    )

    headers, rows = get_rows(kubectl, *ns, "replicasets", "-o", "wide")
    assert headers == [
        "NAME",
        "DESIRED",
        "CURRENT",
        "READY",
        "AGE",
        "CONTAINERS",
        "IMAGES",
        "SELECTOR",
    ]
    assert [rows[0][h] for h in ("DESIRED", "CURRENT", "READY")] == ["2", "2", "2"]
    assert re.fullmatch(r"app=web,pod-template-hash=\w+", rows[0]["SELECTOR"])

    headers, rows = get_rows(kubectl, *ns, "statefulsets", "-o", "wide")
    assert headers == ["NAME", "READY", "AGE", "CONTAINERS", "IMAGES"]
    assert [rows[0][h] for h in ("NAME", "READY", "IMAGES")] == ["db", "1/1", "postgres:17"]

    headers, rows = get_rows(kubectl, *ns, "daemonsets", "-o", "wide")
    assert headers == [
        "NAME",
        "DESIRED",
        "CURRENT",
        "READY",
        "UP-TO-DATE",
        "AVAILABLE",
        "NODE SELECTOR",
        "AGE",
        "CONTAINERS",
        "IMAGES",
        "SELECTOR",
    ]
    assert rows[0]["NODE SELECTOR"] == "kubernetes.io/os=linux"
    assert rows[0]["SELECTOR"] == "app=agent"
    assert [rows[0][h] for h in ("DESIRED", "CURRENT", "READY", "AVAILABLE")] == ["1"] * 4

    headers, rows = get_rows(kubectl, *ns, "services", "-o", "wide")
    assert headers == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE", "SELECTOR"]
    assert rows[0]["TYPE"] == "NodePort" and rows[0]["EXTERNAL-IP"] == "<none>"
    assert re.fullmatch(r"10\.\d+\.\d+\.\d+", rows[0]["CLUSTER-IP"])
    assert re.fullmatch(r"80:3\d{4}/TCP", rows[0]["PORT(S)"])
    assert rows[0]["SELECTOR"] == "app=web,tier=front"

    uid = ok(kubectl("get", *ns, "job", "migrate", "-o", "jsonpath={.metadata.uid}"))
    headers, rows = get_rows(kubectl, *ns, "jobs")
    assert headers == ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"]
    assert [rows[0][h] for h in ("NAME", "STATUS", "COMPLETIONS")] == [
        "migrate",
        "Complete",
        "1/1",
    ]
    assert AGO.match(rows[0]["DURATION"])
    headers, rows = get_rows(kubectl, *ns, "jobs", "-o", "wide")
    assert headers[5:] == ["CONTAINERS", "IMAGES", "SELECTOR"]
    assert rows[0]["SELECTOR"] == f"batch.kubernetes.io/controller-uid={uid}"

    headers, rows = get_rows(kubectl, *ns, "pods", "-o", "wide")
    assert headers == [
        "NAME",
        "READY",
        "STATUS",
        "RESTARTS",
        "AGE",
        "IP",
        "NODE",
        "NOMINATED NODE",
        "READINESS GATES",
    ]
    by_name = {r["NAME"].rsplit("-", 1)[0] if "-" in r["NAME"] else r["NAME"]: r for r in rows}
    job_pod = next(r for r in rows if r["NAME"].startswith("migrate-"))
    assert [job_pod[h] for h in ("READY", "STATUS", "RESTARTS")] == ["0/1", "Completed", "0"]
    web = [r for r in rows if r["NAME"].startswith("web-")]
    assert len(web) == 2 and len(by_name) >= 4
    for row in web:
        assert [row[h] for h in ("READY", "STATUS", "RESTARTS")] == ["2/2", "Running", "0"]
        assert (row["NODE"], row["NOMINATED NODE"], row["READINESS GATES"]) == (
            "sandbox-node",
            "<none>",
            "<none>",
        )
        assert re.fullmatch(r"10\.244\.\d+\.\d+", row["IP"])

    headers, rows = get_rows(kubectl, *ns, "events")
    assert headers == ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    assert {"type": "Normal", "object": "job/migrate", "message": "Job completed"} in [
        {"type": r["TYPE"], "object": r["OBJECT"], "message": r["MESSAGE"]} for r in rows
    ]
    headers, rows = get_rows(kubectl, *ns, "events", "-o", "wide")
    assert headers == [
        "LAST SEEN",
        "TYPE",
        "REASON",
        "OBJECT",
        "SUBOBJECT",
        "SOURCE",
        "MESSAGE",
        "FIRST SEEN",
        "COUNT",
        "NAME",
    ]
    created = next(r for r in rows if r["REASON"] == "Completed")
    assert (created["SOURCE"], created["COUNT"]) == ("job-controller", "1")
    assert created["NAME"].startswith("migrate.")


OTHERS = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {a: "1", b: "2"}
binaryData: {c: AA==}
---
apiVersion: v1
kind: Secret
metadata: {name: creds}
stringData: {password: x}
data: {user: YWRtaW4=}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: robot}
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly}
spec:
  schedule: "*/5 * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers: [{name: run, image: "busybox:1.36"}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web}
spec:
  ingressClassName: nginx
  tls: [{hosts: [a.example.com]}]
  rules:
  - host: a.example.com
  - host: b.example.com
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 1
  maxReplicas: 5
  metrics:
  - type: Resource
    resource: {name: cpu, target: {type: Utilization, averageUtilization: 80}}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: web}
spec:
  minAvailable: 1
  selector: {matchLabels: {app: web}}
"""


def test_config_network_and_policy_tables(kubectl: Kubectl, namespace: str) -> None:
    ns = ("-n", namespace)
    ok(kubectl("apply", *ns, "-f", "-", input=OTHERS))

    headers, rows = get_rows(kubectl, *ns, "configmaps", "settings")
    assert headers == ["NAME", "DATA", "AGE"] and rows[0]["DATA"] == "3"
    headers, rows = get_rows(kubectl, *ns, "secrets", "creds")
    assert headers == ["NAME", "TYPE", "DATA", "AGE"]
    assert (rows[0]["TYPE"], rows[0]["DATA"]) == ("Opaque", "2")
    headers, rows = get_rows(kubectl, *ns, "serviceaccounts", "robot")
    assert headers == ["NAME", "SECRETS", "AGE"] and rows[0]["SECRETS"] == "0"
    headers, rows = get_rows(kubectl, "namespaces", namespace)
    assert headers == ["NAME", "STATUS", "AGE"] and rows[0]["STATUS"] == "Active"

    headers, rows = get_rows(kubectl, *ns, "cronjobs", "-o", "wide")
    assert headers == [
        "NAME",
        "SCHEDULE",
        "TIMEZONE",
        "SUSPEND",
        "ACTIVE",
        "LAST SCHEDULE",
        "AGE",
        "CONTAINERS",
        "IMAGES",
        "SELECTOR",
    ]
    assert [rows[0][h] for h in headers if h != "AGE"] == [
        "nightly",
        "*/5 * * * *",
        "<none>",
        "False",
        "0",
        "<none>",
        "run",
        "busybox:1.36",
        "<none>",
    ]

    headers, rows = get_rows(kubectl, *ns, "ingresses")
    assert headers == ["NAME", "CLASS", "HOSTS", "ADDRESS", "PORTS", "AGE"]
    assert [rows[0][h] for h in ("CLASS", "HOSTS", "ADDRESS", "PORTS")] == [
        "nginx",
        "a.example.com,b.example.com",
        "",
        "80, 443",
    ]

    headers, rows = get_rows(kubectl, *ns, "hpa")
    assert headers == ["NAME", "REFERENCE", "TARGETS", "MINPODS", "MAXPODS", "REPLICAS", "AGE"]
    assert [rows[0][h] for h in headers[1:6]] == [
        "Deployment/web",
        "cpu: <unknown>/80%",
        "1",
        "5",
        "0",
    ]

    headers, rows = get_rows(kubectl, *ns, "pdb")
    assert headers == ["NAME", "MIN AVAILABLE", "MAX UNAVAILABLE", "ALLOWED DISRUPTIONS", "AGE"]
    assert [rows[0][h] for h in headers[1:4]] == ["1", "N/A", "0"]


def test_pod_status_column_follows_kubectl_rules(kubectl: Kubectl, namespace: str) -> None:
    pods = """\
apiVersion: v1
kind: Pod
metadata: {name: %(name)s}
spec:
  restartPolicy: Always
  containers:
  - name: main
    image: "%(image)s"
    env: [{name: %(env)s, value: "1"}]
"""
    for name, image, env in (
        ("crash", "busybox:1.36", "SANDBOX_CRASH"),
        ("pull", "nginx:does-not-exist", "X"),
        ("unready", "nginx:1.27", "SANDBOX_NEVER_READY"),
    ):
        spec = pods % {"name": name, "image": image, "env": env}
        ok(kubectl("apply", "-n", namespace, "-f", "-", input=spec))

    def settled() -> dict[str, dict[str, str]] | None:
        rows = {r["NAME"]: r for r in get_rows(kubectl, "-n", namespace, "pods")[1]}
        crash, pull, unready = rows["crash"], rows["pull"], rows["unready"]
        if (
            crash["STATUS"] == "CrashLoopBackOff"
            and crash["RESTARTS"] != "0"
            and pull["STATUS"] in ("ErrImagePull", "ImagePullBackOff")
            and unready["STATUS"] == "Running"
        ):
            return rows
        return None

    rows = poll(settled)
    assert re.fullmatch(r"\d+ \(\d+s ago\)", rows["crash"]["RESTARTS"])
    assert rows["crash"]["READY"] == "0/1"
    assert (rows["pull"]["READY"], rows["pull"]["RESTARTS"]) == ("0/1", "0")
    assert (rows["unready"]["READY"], rows["unready"]["RESTARTS"]) == ("0/1", "0")


def _pod(
    phase: str = "Running",
    statuses: list[dict[str, Any]] | None = None,
    init: list[dict[str, Any]] | None = None,
    init_statuses: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "metadata": {"name": "p", "creationTimestamp": "2020-01-01T00:00:00Z", **extra},
        "spec": {
            "containers": [{"name": "main"}],
            "initContainers": init or [],
            "readinessGates": [{"conditionType": "example.com/gate"}, {"conditionType": "other"}],
        },
        "status": {
            "phase": phase,
            "containerStatuses": statuses or [],
            "initContainerStatuses": init_statuses or [],
            "conditions": [{"type": "example.com/gate", "status": "True"}],
        },
    }


def test_pod_status_cells_cover_init_terminating_and_exit_codes() -> None:
    pods = BY_PLURAL["pods"]

    def status(pod: dict[str, Any]) -> list[Any]:
        return tables.table(pods, [pod], {})["rows"][0]["cells"]

    waiting = {"waiting": {"reason": "PodInitializing"}}
    init = [{"name": "setup"}, {"name": "more"}]
    cells = status(_pod("Pending", init=init, init_statuses=[{"name": "setup", "state": waiting}]))
    assert cells[1:4] == ["0/1", "Init:0/2", "0"]
    assert cells[8] == "1/2"  # readiness gates: one of two conditions is True
    pulling = {"waiting": {"reason": "ErrImagePull"}}
    done = {"terminated": {"exitCode": 0, "reason": "Completed"}}
    cells = status(
        _pod(
            "Pending",
            init=init,
            init_statuses=[{"name": "setup", "state": done}, {"name": "more", "state": pulling}],
        )
    )
    assert cells[2] == "Init:ErrImagePull"
    failed = {"terminated": {"exitCode": 3}}
    cells = status(_pod("Pending", init=init, init_statuses=[{"name": "setup", "state": failed}]))
    assert cells[2] == "Init:ExitCode:3"
    # A running sidecar (restartPolicy Always init container) counts as a container.
    sidecar = [{"name": "proxy", "restartPolicy": "Always"}]
    running = {"running": {"startedAt": "2020-01-01T00:00:00Z"}}
    cells = status(
        _pod(
            statuses=[{"name": "main", "ready": True, "state": running}],
            init=sidecar,
            init_statuses=[{"name": "proxy", "ready": True, "started": True, "state": running}],
        )
    )
    assert cells[1:4] == ["2/2", "Running", "0"]
    cells = status(
        _pod(
            statuses=[{"name": "main", "ready": True, "state": running}],
            deletionTimestamp="2020-01-01T00:00:00Z",
        )
    )
    assert cells[2] == "Terminating"
    killed = {"terminated": {"exitCode": 137, "signal": 9}}
    assert status(_pod("Failed", statuses=[{"name": "main", "state": killed}]))[2] == "Signal:9"
    table = tables.table(pods, [_pod("Succeeded", statuses=[{"name": "main", "state": done}])], {})
    assert table["rows"][0]["cells"][2] == "Completed"
    assert table["rows"][0]["conditions"] == [
        {
            "type": "Completed",
            "status": "True",
            "reason": "Succeeded",
            "message": "The pod has completed successfully.",
        }
    ]
    gated = _pod("Pending")
    gated["status"]["conditions"] = [
        {"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}
    ]
    assert status(gated)[2] == "SchedulingGated"


def test_table_api_definitions_include_object_and_single_get(
    sandbox: RunningSandbox, namespace: str
) -> None:
    ok(sandbox.kubectl("create", "-n", namespace, "configmap", "cfg", "--from-literal=a=b"))
    base = f"/api/v1/namespaces/{namespace}"
    table = raw_get(sandbox, f"{base}/configmaps")
    assert table["kind"] == "Table" and table["apiVersion"] == "meta.k8s.io/v1"
    assert table["metadata"]["resourceVersion"]
    assert [
        (c["name"], c["type"], c["format"], c["priority"]) for c in table["columnDefinitions"]
    ] == [
        ("Name", "string", "name", 0),
        ("Data", "string", "", 0),
        ("Age", "string", "", 0),
    ]
    described = {c["name"]: c["description"] for c in table["columnDefinitions"]}
    assert described["Name"].startswith("Name must be unique within a namespace.")
    assert described["Age"].startswith("CreationTimestamp is a timestamp")
    assert described["Data"].startswith("Data contains the configuration data.")
    row = table["rows"][0]  # "cfg" sorts before the namespace's kube-root-ca.crt
    assert row["cells"][:2] == ["cfg", 1]
    assert row["object"]["kind"] == "PartialObjectMetadata"
    assert row["object"]["metadata"]["name"] == "cfg" and "data" not in row["object"]

    full = raw_get(sandbox, f"{base}/configmaps?includeObject=Object")["rows"][0]["object"]
    assert (full["kind"], full["data"]) == ("ConfigMap", {"a": "b"})
    assert raw_get(sandbox, f"{base}/configmaps?includeObject=None")["rows"][0]["object"] is None

    single = raw_get(sandbox, f"{base}/configmaps/cfg")
    assert single["kind"] == "Table" and [r["cells"][0] for r in single["rows"]] == ["cfg"]
    plain = raw_get(sandbox, f"{base}/configmaps/cfg", "application/json")
    assert plain["kind"] == "ConfigMap"

    pods = raw_get(sandbox, f"{base}/pods")["columnDefinitions"]
    assert [(c["name"], c["type"], c["priority"]) for c in pods] == [
        ("Name", "string", 0),
        ("Ready", "string", 0),
        ("Status", "string", 0),
        ("Restarts", "string", 0),
        ("Age", "string", 0),
        ("IP", "string", 1),
        ("Node", "string", 1),
        ("Nominated Node", "string", 1),
        ("Readiness Gates", "string", 1),
    ]
    assert pods[5]["description"].startswith("podIP address allocated to the pod.")


def test_get_watch_prints_table_rows(
    kubectl: Kubectl, sandbox: RunningSandbox, namespace: str
) -> None:
    binary = kubectl.keywords["binary"]  # type: ignore[attr-defined]
    env = {
        **os.environ,
        "KUBECONFIG": str(sandbox.kubeconfig),
        "KUBECACHEDIR": str(sandbox.workdir / "kube-cache"),
        "HOME": str(sandbox.workdir),
    }
    # A pod there first: its row says the watch is up before "solo" is created, so solo's
    # Pending and ContainerCreating rows are seen however slowly kubectl starts.
    ok(kubectl("run", "-n", namespace, "marker", "--image=nginx:1.27"))
    proc = subprocess.Popen(
        [binary, "get", "pods", "-n", namespace, "-w", "--output-watch-events"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    assert proc.stdout is not None
    reader = threading.Thread(target=lambda: [lines.put(x) for x in proc.stdout or []])
    reader.start()
    seen: list[str] = []
    try:
        deadline = time.monotonic() + 20
        while not any("marker" in line for line in seen):
            seen.append(lines.get(timeout=max(deadline - time.monotonic(), 0.1)))
        ok(kubectl("run", "-n", namespace, "solo", "--image=nginx:1.27"))
        while not ("solo" in seen[-1] and "1/1" in seen[-1]):
            seen.append(lines.get(timeout=max(deadline - time.monotonic(), 0.1)))
    finally:
        proc.kill()
        proc.wait()
        reader.join()
    headers, rows = parse("".join(seen))
    assert headers == ["EVENT", "NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    rows = [row for row in rows if row["NAME"] == "solo"]
    assert rows[0]["EVENT"] == "ADDED" and rows[-1]["EVENT"] == "MODIFIED"
    assert [rows[-1][h] for h in ("NAME", "READY", "STATUS", "RESTARTS")] == [
        "solo",
        "1/1",
        "Running",
        "0",
    ]
    assert {"Pending", "ContainerCreating"} & {r["STATUS"] for r in rows}


def test_job_defaults_match_a_real_server(kubectl: Kubectl, namespace: str) -> None:
    ns = ("-n", namespace)
    ok(kubectl("create", *ns, "job", "once", "--image=busybox:1.36"))
    ok(kubectl("wait", *ns, "--for=condition=complete", "job/once", "--timeout=30s"))
    job = json.loads(ok(kubectl("get", *ns, "job", "once", "-o", "json")))
    uid = job["metadata"]["uid"]
    generated = {
        "batch.kubernetes.io/controller-uid": uid,
        "batch.kubernetes.io/job-name": "once",
        "controller-uid": uid,
        "job-name": "once",
    }
    spec = job["spec"]
    assert spec["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
    assert "manualSelector" not in spec
    assert spec["template"]["metadata"]["labels"] == generated
    assert job["metadata"]["labels"] == generated  # no labels of its own: the template's
    assert (spec["suspend"], spec["podReplacementPolicy"], spec["backoffLimit"]) == (
        False,
        "TerminatingOrFailed",
        6,
    )
    assert (spec["completions"], spec["parallelism"], spec["completionMode"]) == (
        1,
        1,
        "NonIndexed",
    )
    status = job["status"]
    assert [(c["type"], c["status"], c["reason"]) for c in status["conditions"]] == [
        ("SuccessCriteriaMet", "True", "CompletionsReached"),
        ("Complete", "True", "CompletionsReached"),
    ]
    assert status["succeeded"] == 1 and status["ready"] == 0 and status["terminating"] == 0
    assert status["uncountedTerminatedPods"] == {} and "active" not in status
    assert status["startTime"] <= status["completionTime"]
    pods = json.loads(ok(kubectl("get", *ns, "pods", "-l", f"controller-uid={uid}", "-o", "json")))
    assert len(pods["items"]) == 1
    assert pods["items"][0]["metadata"]["labels"] == generated

    manifest = """\
apiVersion: batch/v1
kind: Job
metadata: {name: labelled}
spec:
  parallelism: 2
  template:
    metadata: {labels: {app: batch}}
    spec:
      restartPolicy: OnFailure
      containers: [{name: run, image: "busybox:1.36"}]
"""
    ok(kubectl("apply", *ns, "--server-side", "-f", "-", input=manifest))
    job = json.loads(ok(kubectl("get", *ns, "job", "labelled", "-o", "json")))
    assert job["metadata"]["labels"] == {"app": "batch"}
    assert job["spec"]["template"]["metadata"]["labels"]["app"] == "batch"
    assert job["spec"]["template"]["metadata"]["labels"]["job-name"] == "labelled"
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "OnFailure"
    assert "completions" not in job["spec"] and job["spec"]["parallelism"] == 2
    ok(kubectl("wait", *ns, "--for=condition=complete", "job/labelled", "--timeout=30s"))
    assert get_rows(kubectl, *ns, "job", "labelled")[1][0]["COMPLETIONS"] == "1/1 of 2"


def test_job_status_column_suspended_resumed_and_failed(kubectl: Kubectl, namespace: str) -> None:
    ns = ("-n", namespace)
    manifest = """\
apiVersion: batch/v1
kind: Job
metadata: {name: %(name)s}
spec:
  suspend: %(suspend)s
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
      - {name: run, image: "busybox:1.36", env: [{name: SANDBOX_CRASH, value: "%(crash)s"}]}
"""
    ok(
        kubectl(
            "apply",
            *ns,
            "-f",
            "-",
            input=manifest % {"name": "later", "suspend": "true", "crash": "0"},
        )
    )
    ok(
        kubectl(
            "apply",
            *ns,
            "-f",
            "-",
            input=manifest % {"name": "broken", "suspend": "false", "crash": "1"},
        )
    )
    ok(kubectl("wait", *ns, "--for=condition=suspended", "job/later", "--timeout=30s"))
    ok(kubectl("wait", *ns, "--for=condition=failed", "job/broken", "--timeout=30s"))
    rows = {r["NAME"]: r for r in get_rows(kubectl, *ns, "jobs")[1]}
    assert [rows["later"][h] for h in ("STATUS", "COMPLETIONS", "DURATION")] == [
        "Suspended",
        "0/1",
        "",
    ]
    assert [rows["broken"][h] for h in ("STATUS", "COMPLETIONS")] == ["Failed", "0/1"]
    assert "pod/later-" not in ok(kubectl("get", *ns, "pods", "-o", "name"))
    broken = json.loads(ok(kubectl("get", *ns, "job", "broken", "-o", "json")))["status"]
    assert [(c["type"], c["reason"]) for c in broken["conditions"]] == [
        ("FailureTarget", "BackoffLimitExceeded"),
        ("Failed", "BackoffLimitExceeded"),
    ]

    ok(kubectl("patch", *ns, "job", "later", "--type=merge", "-p", '{"spec":{"suspend":false}}'))
    ok(kubectl("wait", *ns, "--for=condition=complete", "job/later", "--timeout=30s"))
    later = json.loads(ok(kubectl("get", *ns, "job", "later", "-o", "json")))["status"]
    assert [(c["type"], c["status"], c["reason"]) for c in later["conditions"]] == [
        ("Suspended", "False", "JobResumed"),
        ("SuccessCriteriaMet", "True", "CompletionsReached"),
        ("Complete", "True", "CompletionsReached"),
    ]
    assert get_rows(kubectl, *ns, "job", "later")[1][0]["STATUS"] == "Complete"


def _cells(plural: str, obj: dict[str, Any], resource: Resource | None = None) -> dict[str, Any]:
    """Column name -> cell of one object's row, for kinds other branches add to the sandbox."""
    resource = resource or Resource("x", "v1", plural, plural.title(), True)
    table = tables.table(resource, [obj], {})
    names = [c["name"] for c in table["columnDefinitions"]]
    assert len(names) == len(table["rows"][0]["cells"])
    return dict(zip(names, table["rows"][0]["cells"], strict=True))


def _wide(plural: str) -> list[str]:
    resource = Resource("x", "v1", plural, plural.title(), True)
    return [c["name"] for c in tables.table(resource, [], {})["columnDefinitions"] if c["priority"]]


def test_printers_for_cluster_storage_rbac_and_discovery_kinds() -> None:
    created = {"name": "n1", "creationTimestamp": "2020-01-01T00:00:00Z"}
    node = {
        "metadata": {**created, "labels": {"node-role.kubernetes.io/control-plane": ""}},
        "spec": {"unschedulable": True},
        "status": {
            "conditions": [{"type": "Ready", "status": "True"}],
            "addresses": [{"type": "InternalIP", "address": "10.0.0.10"}],
            "nodeInfo": {"kubeletVersion": "v1.33.1", "osImage": "Debian GNU/Linux 12"},
        },
    }
    cells = _cells("nodes", node)
    assert cells == {
        "Name": "n1",
        "Status": "Ready,SchedulingDisabled",
        "Roles": "control-plane",
        "Age": cells["Age"],
        "Version": "v1.33.1",
        "Internal-IP": "10.0.0.10",
        "External-IP": "<none>",
        "OS-Image": "Debian GNU/Linux 12",
        "Kernel-Version": "<unknown>",
        "Container-Runtime": "<unknown>",
    }
    assert re.fullmatch(r"\d+y(\d+d)?", cells["Age"])
    assert _wide("nodes") == [
        "Internal-IP",
        "External-IP",
        "OS-Image",
        "Kernel-Version",
        "Container-Runtime",
    ]

    binding = {
        "metadata": created,
        "roleRef": {"kind": "ClusterRole", "name": "view"},
        "subjects": [
            {"kind": "User", "name": "ann"},
            {"kind": "Group", "name": "devs"},
            {"kind": "ServiceAccount", "namespace": "ci", "name": "bot"},
            {"kind": "ServiceAccount", "namespace": "ci", "name": "bot2"},
        ],
    }
    cells = _cells("rolebindings", binding)
    assert [cells[k] for k in ("Role", "Users", "Groups", "ServiceAccounts")] == [
        "ClusterRole/view",
        "ann",
        "devs",
        "ci/bot, ci/bot2",
    ]
    assert (
        _wide("rolebindings")
        == _wide("clusterrolebindings")
        == [
            "Users",
            "Groups",
            "ServiceAccounts",
        ]
    )
    role = _cells("roles", {"metadata": created, "rules": []})
    assert role == {"Name": "n1", "Created At": "2020-01-01T00:00:00Z"}
    assert _cells("widgets", {"metadata": created}).keys() == {"Name", "Age"}

    pvc = {
        "metadata": created,
        "spec": {"volumeName": "pv-1", "storageClassName": "standard"},
        "status": {
            "phase": "Bound",
            "capacity": {"storage": "1Gi"},
            "accessModes": ["ReadWriteMany", "ReadWriteOnce"],
        },
    }
    cells = _cells("persistentvolumeclaims", pvc)
    assert [cells[k] for k in ("Status", "Volume", "Capacity", "Access Modes", "StorageClass")] == [
        "Bound",
        "pv-1",
        "1Gi",
        "RWO,RWX",
        "standard",
    ]
    assert (cells["VolumeAttributesClass"], cells["VolumeMode"]) == ("<unset>", "<unset>")
    pv = {
        "metadata": created,
        "spec": {
            "capacity": {"storage": "5Gi"},
            "accessModes": ["ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": "Retain",
            "claimRef": {"namespace": "app", "name": "data"},
            "volumeMode": "Filesystem",
        },
        "status": {"phase": "Bound"},
    }
    cells = _cells("persistentvolumes", pv)
    assert [
        cells[k] for k in ("Capacity", "Access Modes", "Reclaim Policy", "Status", "Claim")
    ] == [
        "5Gi",
        "RWO",
        "Retain",
        "Bound",
        "app/data",
    ]
    assert cells["VolumeMode"] == "Filesystem" and _wide("persistentvolumes") == ["VolumeMode"]
    storage_class = {
        "metadata": {
            **created,
            "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
        },
        "provisioner": "rancher.io/local-path",
        "volumeBindingMode": "WaitForFirstConsumer",
    }
    cells = _cells("storageclasses", storage_class)
    assert [cells[k] for k in list(cells)[:5]] == [
        "n1 (default)",
        "rancher.io/local-path",
        "Delete",
        "WaitForFirstConsumer",
        False,
    ]

    endpoints = {
        "metadata": created,
        "subsets": [
            {
                "addresses": [{"ip": f"10.244.0.{i}"} for i in range(1, 5)],
                "ports": [{"port": 80}],
            }
        ],
    }
    assert _cells("endpoints", endpoints)["Endpoints"] == (
        "10.244.0.1:80,10.244.0.2:80,10.244.0.3:80 + 1 more..."
    )
    assert _cells("endpoints", {"metadata": created})["Endpoints"] == "<none>"
    slice_ = {
        "metadata": created,
        "addressType": "IPv4",
        "ports": [{"port": 80}, {"name": "metrics"}],
        "endpoints": [{"addresses": ["10.244.0.5"]}],
    }
    cells = _cells("endpointslices", slice_)
    assert [cells[k] for k in ("AddressType", "Ports", "Endpoints")] == [
        "IPv4",
        "80,metrics",
        "10.244.0.5",
    ]
    assert _cells("endpointslices", {"metadata": created})["Endpoints"] == "<unset>"

    revision = {
        "metadata": {
            **created,
            "ownerReferences": [
                {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "db", "controller": True}
            ],
        },
        "revision": 3,
    }
    cells = _cells("controllerrevisions", revision)
    assert (cells["Controller"], cells["Revision"]) == ("statefulset.apps/db", 3)
    quota = {
        "metadata": created,
        "status": {
            "hard": {"requests.cpu": "2", "pods": "10", "limits.memory": "2Gi"},
            "used": {"requests.cpu": "500m", "pods": "3"},
        },
    }
    cells = _cells("resourcequotas", quota)
    assert list(cells) == ["Name", "Age", "Request", "Limit"]
    assert (cells["Request"], cells["Limit"]) == (
        "pods: 3/10, requests.cpu: 500m/2",
        "limits.memory: 0/2Gi",
    )
    priority = {
        "metadata": created,
        "value": 1000,
        "globalDefault": False,
        "preemptionPolicy": "PreemptLowerPriority",
    }
    cells = _cells("priorityclasses", priority)
    assert [cells[k] for k in ("Value", "Global-Default", "PreemptionPolicy")] == [
        1000,
        False,
        "PreemptLowerPriority",
    ]


def test_human_durations_match_apimachinery() -> None:
    cases = {
        -5: "<invalid>",
        -1: "0s",
        0: "0s",
        119: "119s",
        120: "2m",
        150: "2m30s",
        600: "10m",
        179 * 60: "179m",
        3 * 3600 + 60: "3h1m",
        8 * 3600: "8h",
        47 * 3600: "47h",
        50 * 3600: "2d2h",
        8 * 86400: "8d",
        800 * 86400: "2y70d",
        9 * 365 * 86400: "9y",
    }
    assert {s: tables.human_duration(s) for s in cases} == cases
