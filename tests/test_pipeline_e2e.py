"""The design's pipeline, every step real except `docker build`: an image pushed to Debian's
docker-registry, the `kubernaut` console script registering the release and deploying it with
--wait against a live Kubernaut (live server + qcluster worker), and a sandbox cluster that pulls
from the same registry. These are the Jenkinsfile's steps (examples/hello-world/README.md)."""

import subprocess
import sys

import pytest

from accounts.models import ApiToken
from clusters.kube import ClusterClient
from clusters.models import Cluster, Namespace
from sandbox.testing import running_sandbox
from tests.conftest import open_to_teams
from tests.test_deployment_e2e import start_qcluster, stop
from tests.test_pipeline_support import HELLO, kubernaut, push_image, running_registry

pytestmark = pytest.mark.django_db(transaction=True)
TEMPLATE = str(HELLO / "kubernetes.yaml")


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    with running_registry(tmp_path_factory.mktemp("registry")) as url:
        yield url


@pytest.fixture
def sandbox(registry):
    # One per test, so each starts from empty `staging` and `production` namespaces.
    with running_sandbox(ready_delay=0.1, registry=registry) as running:
        yield running


def add_cluster(sandbox, name: str, registry_url: str, namespaces: list[str]) -> Cluster:
    cluster = Cluster(name=name, registry_url=registry_url, timeout_seconds=60)
    cluster.set_kubeconfig(sandbox.kubeconfig.read_text())
    cluster.save()
    client = ClusterClient.for_cluster(cluster)
    try:
        for namespace in namespaces:
            client.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
            open_to_teams(Namespace.objects.create(cluster=cluster, name=namespace))
    finally:
        client.close()
    return cluster


@pytest.fixture
def pipeline(live_server, alice, sandbox, registry):
    """Kubernaut with a worker, a cluster `sandbox` that checks images in the registry, and a
    `ci` function running the kubernaut CLI as Jenkins would (URL and token from the env)."""
    staging, production = "staging", "production"
    cluster = add_cluster(sandbox, "sandbox", registry, [staging, production])
    _, key = ApiToken.issue(alice, name="jenkins")
    worker = start_qcluster()

    def ci(*args: str):
        return kubernaut(*args, url=live_server.url, token=key)

    ci.registry_host = registry.removeprefix("http://")
    ci.staging, ci.production, ci.cluster = staging, production, cluster
    yield ci
    stop(worker)


def register(ci, version: str, template: str = TEMPLATE):
    return ci("release", "--service", "hello-world", "--version", version, "--template", template,
              "-a", f"image={ci.registry_host}/hello-world:{version}", "-a", "replicas=2",
              "--comment", "built by Jenkins")  # fmt: skip


def deploy(ci, version: str, namespace: str, *extra: str):
    return ci("deploy", "--service", "hello-world", "--version", version, "--cluster", "sandbox",
              "--namespace", namespace, "--wait", "--timeout", "60", *extra)  # fmt: skip


def test_pushed_image_goes_from_source_to_staging_and_production(pipeline, registry):
    # `docker build` + `docker push`, as the README does them without Docker.
    image = f"{pipeline.registry_host}/hello-world:1.0.0"
    pushed = subprocess.run(
        [sys.executable, str(HELLO / "push_image.py"), image],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert pushed.returncode == 0, pushed.stderr

    released = register(pipeline, "1.0.0")
    assert released.returncode == 0, released.stderr
    to_staging = deploy(pipeline, "1.0.0", pipeline.staging)
    assert to_staging.returncode == 0, to_staging.stdout + to_staging.stderr
    assert f"Images found in registry {registry}." in to_staging.stdout
    assert "deployment.apps/hello-world created" in to_staging.stdout
    assert "succeeded: Rolled out deployment/hello-world." in to_staging.stdout

    # After approval in Jenkins: production, where the template adds an Ingress.
    to_production = deploy(pipeline, "1.0.0", pipeline.production)
    assert to_production.returncode == 0, to_production.stdout + to_production.stderr
    assert "ingress.networking.k8s.io/hello-world created" in to_production.stdout

    listed = pipeline("deployments", "--service", "hello-world")
    assert listed.stdout.count("succeeded") == 2


def test_tag_never_pushed_fails_at_once_with_the_registry_message(pipeline, registry):
    assert register(pipeline, "9.9.9").returncode == 0

    result = deploy(pipeline, "9.9.9", pipeline.staging)

    assert result.returncode == 1
    image = f"{pipeline.registry_host}/hello-world:9.9.9"
    assert f"failed: image {image} not found in registry {registry}" in result.stderr
    assert "Traceback" not in result.stderr
    assert "deployment.apps/hello-world" not in result.stdout  # nothing was applied


def test_cluster_pulls_from_the_same_registry(pipeline, sandbox, registry):
    # A cluster row without registry_url skips Kubernaut's check; the sandbox's own pull from
    # the registry then fails the rollout, as ErrImagePull would on a real cluster.
    add_cluster(sandbox, "unchecked", "", ["unchecked"])
    assert register(pipeline, "8.8.8").returncode == 0

    result = pipeline("deploy", "--service", "hello-world", "--version", "8.8.8", "--cluster",
                      "unchecked", "--namespace", "unchecked", "--wait")  # fmt: skip

    assert result.returncode == 1
    # The reason says it in a sentence (deployments/live.py); the cluster's words are in the log.
    assert "2 new pods fail: image " in result.stderr
    assert "hello-world:8.8.8 not found." in result.stderr
    assert "hello-world:8.8.8: not found" in result.stdout


def test_rollout_that_cannot_finish_in_the_timeout_exits_70(pipeline, registry, tmp_path):
    push_image(registry, "hello-world", "2.0.0")
    # The sandbox keeps a container whose SANDBOX_NEVER_READY is 1 from ever getting ready.
    never_ready = (
        (HELLO / "kubernetes.yaml")
        .read_text()
        .replace(
            "            - name: VERSION\n",
            '            - name: SANDBOX_NEVER_READY\n              value: "1"\n'
            "            - name: VERSION\n",
        )
    )
    template = tmp_path / "never-ready.yaml"
    template.write_text(never_ready)
    assert register(pipeline, "2.0.0", str(template)).returncode == 0

    result = deploy(pipeline, "2.0.0", pipeline.staging, "--timeout", "10")

    assert result.returncode == 70, result.stdout + result.stderr
    assert "timed out: Not rolled out within 10 s" in result.stderr
