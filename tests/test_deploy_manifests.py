"""Kubernaut's own manifests (deploy/) and container entrypoints (docker-entrypoint.sh): valid
Kubernetes objects, applied to the sandbox with every pod ready, and the `web`, `migrate` and
`worker` roles working outside Docker against a real database."""

import contextlib
import http.client
import os
import signal
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from django.conf import settings
from django.db import connection

from sandbox.testing import wait_for
from tests.test_pipeline_support import free_port

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
ENTRYPOINT = ROOT / "docker-entrypoint.sh"


@pytest.fixture(scope="module")
def objects() -> list[dict]:
    """What `kubectl apply -k deploy/` sends, as kustomize renders it."""
    rendered = subprocess.run(
        ["kubectl", "kustomize", str(DEPLOY)], capture_output=True, text=True, check=True
    ).stdout
    return [doc for doc in yaml.safe_load_all(rendered) if doc]


def by_name(objects: list[dict], kind: str, name: str) -> dict:
    return next(o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name)


def test_every_object_passes_strict_schema_validation(objects):
    secret = yaml.safe_load((DEPLOY / "secret.example.yaml").read_text())
    for obj in [*objects, secret]:
        kubernetes_validate.validate(obj, settings.KUBERNAUT_SCHEMA_VERSION, strict=True)
    kinds = sorted(o["kind"] for o in objects)
    assert kinds == ["ConfigMap", "Deployment", "Deployment", "Ingress", "Job", "Namespace",
                     "Service", "ServiceAccount"]  # fmt: skip


def test_web_has_two_replicas_and_probes_on_the_health_endpoints(objects):
    web = by_name(objects, "Deployment", "kubernaut-web")
    container = web["spec"]["template"]["spec"]["containers"][0]
    assert web["spec"]["replicas"] == 2
    assert container["args"] == ["web"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["image"] == "registry.example.com/kubernaut:0.1.0"


def test_probes_send_a_host_that_django_allows(objects):
    # The kubelet calls the pod's IP; without an allowed Host header Django answers 400.
    config = by_name(objects, "ConfigMap", "kubernaut")["data"]
    allowed = config["ALLOWED_HOSTS"].split(",")
    container = by_name(objects, "Deployment", "kubernaut-web")["spec"]["template"]["spec"]
    for probe in ("livenessProbe", "readinessProbe"):
        headers = container["containers"][0][probe]["httpGet"]["httpHeaders"]
        assert {"name": "Host", "value": "localhost"} in headers
    assert "localhost" in allowed


def test_dockerfile_runs_the_entrypoint_as_a_non_root_user():
    dockerfile = (ROOT / "Dockerfile").read_text()
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert 'ENTRYPOINT ["/app/docker-entrypoint.sh"]' in dockerfile
    assert "USER 10001" in dockerfile
    assert "collectstatic" in dockerfile
    assert os.access(ENTRYPOINT, os.X_OK)
    # What the image needs is not ignored; local state and secrets are.
    for needed in ("manage.py", "templates", "static", "examples", "kubernaut"):
        assert needed not in ignored
    assert {".env", ".venv", "var", ".git"} <= set(ignored)


def test_every_pod_runs_as_non_root_with_configuration_from_the_secret(objects):
    workloads = [o for o in objects if o["kind"] in ("Deployment", "Job")]
    roles = set()
    for workload in workloads:
        pod = workload["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        container = pod["containers"][0]
        assert {"secretRef": {"name": "kubernaut"}} in container["envFrom"]
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        roles.add(container["args"][0])
    assert roles == {"web", "worker", "migrate"}


def test_manifests_deploy_to_the_sandbox_and_become_ready(sandbox_cluster):
    def kubectl(*args: str) -> str:
        result = sandbox_cluster.kubectl(*args, timeout=90)
        assert result.returncode == 0, f"kubectl {' '.join(args)}: {result.stderr}"
        return result.stdout

    # The Secret is created by hand on a real cluster (secret.example.yaml says how).
    kubectl("apply", "--server-side", "-f", str(DEPLOY / "namespace.yaml"))
    kubectl("apply", "--server-side", "-n", "kubernaut", "-f", str(DEPLOY / "secret.example.yaml"))
    kubectl("apply", "--server-side", "-k", str(DEPLOY))

    kubectl("-n", "kubernaut", "wait", "--for=condition=complete", "job/kubernaut-migrate",
            "--timeout=60s")  # fmt: skip
    for name in ("kubernaut-web", "kubernaut-worker"):
        kubectl("-n", "kubernaut", "rollout", "status", f"deployment/{name}", "--timeout=60s")
    ready = kubectl("-n", "kubernaut", "get", "deployment/kubernaut-web",
                    "-o", "jsonpath={.status.readyReplicas}")  # fmt: skip
    assert ready == "2"


def database_url(name: str) -> str:
    database = connection.settings_dict
    return (
        f"postgresql://{database['USER']}:{database['PASSWORD']}@{database['HOST']}:"
        f"{database['PORT']}/{name}"
    )


def get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.fixture
def empty_database(django_db_blocker):
    """A new, empty database on the test server, as a first install meets it."""
    name = f"entrypoint_{os.getpid()}"
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    yield database_url(name)
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def entrypoint_env(url: str, **extra: str) -> dict[str, str]:
    return {**os.environ, "KUBERNAUT_ENV_FILE": "", "DATABASE_URL": url, "SECRET_KEY": "t",
            "ALLOWED_HOSTS": "127.0.0.1", **extra}  # fmt: skip


def test_web_is_unready_until_migrate_has_run(empty_database):
    port = free_port()
    env = entrypoint_env(empty_database, KUBERNAUT_BIND=f"127.0.0.1:{port}", WEB_CONCURRENCY="1")
    base = f"http://127.0.0.1:{port}"
    with running_web(env, port):
        assert get(f"{base}/readyz") == 503

        migrate = subprocess.run([str(ENTRYPOINT), "migrate"], env=env, capture_output=True,
                                 text=True, timeout=180)  # fmt: skip
        assert migrate.returncode == 0, migrate.stderr
        assert "Applying deployments.0001_initial... OK" in migrate.stdout

        assert get(f"{base}/readyz") == 200


@contextlib.contextmanager
def running_web(env: dict[str, str], port: int) -> Iterator[subprocess.Popen]:
    """`docker-entrypoint.sh web` once it answers /healthz; stopped with SIGTERM afterwards."""
    web = subprocess.Popen([str(ENTRYPOINT), "web"], env=env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip

    def answers() -> bool:
        assert web.poll() is None, "gunicorn exited"
        try:
            return get(f"http://127.0.0.1:{port}/healthz") == 200
        except OSError:
            return False

    try:
        wait_for(answers, 30)
        yield web
    finally:
        os.killpg(web.pid, signal.SIGTERM)
        web.wait(timeout=30)


def test_web_keeps_the_connection_alive_between_requests(empty_database):
    # gunicorn's sync workers close the connection after every response; gthread keeps it.
    port = free_port()
    env = entrypoint_env(empty_database, KUBERNAUT_BIND=f"127.0.0.1:{port}", WEB_CONCURRENCY="1")
    with running_web(env, port):
        client = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        client.request("GET", "/healthz")
        first = client.getresponse()
        first.read()
        assert first.getheader("Connection", "").lower() != "close"
        socket_of_first = client.sock
        assert socket_of_first is not None, "the server closed the connection"

        client.request("GET", "/healthz")
        second = client.getresponse()
        second.read()
        assert second.status == 200
        assert client.sock is socket_of_first, "the second request needed a new connection"
        client.close()


def test_web_keep_alive_can_be_turned_off(empty_database):
    port = free_port()
    env = entrypoint_env(empty_database, KUBERNAUT_BIND=f"127.0.0.1:{port}", WEB_CONCURRENCY="1",
                         GUNICORN_KEEPALIVE="0")  # fmt: skip
    with running_web(env, port):
        client = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        client.request("GET", "/healthz")
        response = client.getresponse()
        response.read()
        assert response.getheader("Connection", "").lower() == "close"
        client.close()


def test_worker_starts_and_stops_on_sigterm(db, tmp_path):
    log = tmp_path / "worker.log"
    with log.open("wb") as output:
        worker = subprocess.Popen(
            [str(ENTRYPOINT), "worker"],
            env=entrypoint_env(database_url(connection.settings_dict["NAME"])),
            stdout=subprocess.DEVNULL, stderr=output, start_new_session=True,
        )  # fmt: skip
    try:
        # Until the cluster says it runs (its signal handlers are in place by then): a SIGTERM
        # sent while it was still starting, on a loaded machine, killed it outright.
        wait_for(lambda: worker.poll() is not None or " running." in log.read_text(), 60)
        assert worker.poll() is None, log.read_text()
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=30) == 0, log.read_text()
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
