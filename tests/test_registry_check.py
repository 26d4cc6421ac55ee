"""The image check: images of a manifest looked up in a real Docker registry (Debian's
docker-registry on loopback), anonymously and with basic auth, and its effect on a deployment."""

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from clusters.models import Cluster
from clusters.registry import (
    Registry,
    RegistryError,
    images_of,
    missing_images_problem,
    split_image,
)
from deployments import runner
from deployments.models import Deployment
from tests.test_pipeline_support import free_port, htpasswd_line, push_image, running_registry


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    with running_registry(tmp_path_factory.mktemp("registry")) as url:
        push_image(url, "hello-world", "1.0.0")
        push_image(url, "team/api", "2")
        yield url


@pytest.fixture(scope="module")
def private_registry(tmp_path_factory):
    with running_registry(
        tmp_path_factory.mktemp("private"), htpasswd=htpasswd_line("ci", "s3cret")
    ) as url:
        push_image(
            url, "hello-world", "1.0.0", auth="Basic " + base64.b64encode(b"ci:s3cret").decode()
        )
        yield url


def deployment_of(*images: str, init: str | None = None) -> dict:
    spec = {"containers": [{"name": f"c{n}", "image": image} for n, image in enumerate(images)]}
    if init:
        spec["initContainers"] = [{"name": "init", "image": init}]
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"},
            "spec": {"template": {"spec": spec}}}  # fmt: skip


def test_images_of_finds_containers_and_init_containers_once_each():
    cron = {"kind": "CronJob", "spec": {"jobTemplate": {"spec": {"template": {"spec": {
        "containers": [{"name": "c", "image": "cron:1"}]}}}}}}  # fmt: skip
    objects = [
        deployment_of("app:1", "app:1", init="migrate:1"),
        {"kind": "Service", "spec": {"ports": []}},
        cron,
        {"kind": "Pod", "spec": {"containers": [{"name": "p", "image": "pod:1"}]}},
    ]
    assert images_of(objects) == ["migrate:1", "app:1", "cron:1", "pod:1"]


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("hello-world", ("hello-world", "latest")),
        ("hello-world:1.0.0", ("hello-world", "1.0.0")),
        ("127.0.0.1:5000/hello-world:1.0.0", ("hello-world", "1.0.0")),
        ("registry.example/team/api:2", ("team/api", "2")),
        ("team/api", ("team/api", "latest")),
        ("localhost/app@sha256:abc", ("app", "sha256:abc")),
    ],
)
def test_split_image_drops_the_registry_host(image, expected):
    assert split_image(image) == expected


def test_pushed_image_is_found_with_or_without_host(registry):
    checker = Registry(registry)
    assert checker.has_image("hello-world:1.0.0")
    assert checker.has_image("registry.example/team/api:2")


def test_missing_tag_and_repository_are_not_found(registry):
    checker = Registry(registry)
    assert not checker.has_image("hello-world:9.9.9")
    assert not checker.has_image("nobody/here:1")


def test_image_by_digest_is_found(tmp_path, registry):
    digest = push_image(registry, "by-digest", "1")
    assert Registry(registry).has_image(f"by-digest@{digest}")


def test_unreachable_registry_is_an_error_not_a_missing_image():
    with pytest.raises(RegistryError, match="unreachable"):
        Registry(f"http://127.0.0.1:{free_port()}", timeout=2).has_image("hello-world:1")


def test_basic_auth_is_sent_when_the_registry_asks(private_registry):
    assert Registry(private_registry, "ci", "s3cret").has_image("hello-world:1.0.0")
    assert not Registry(private_registry, "ci", "s3cret").has_image("hello-world:2")


def test_wrong_or_missing_credentials_say_so(private_registry):
    with pytest.raises(RegistryError, match="refused the credentials"):
        Registry(private_registry, "ci", "wrong").has_image("hello-world:1.0.0")
    with pytest.raises(RegistryError, match="asks for credentials"):
        Registry(private_registry).has_image("hello-world:1.0.0")


def test_problem_names_every_missing_image(registry):
    cluster = Cluster(name="c", registry_url=registry)
    objects = [deployment_of("hello-world:1.0.0", "hello-world:2", init="missing/init:1")]
    assert missing_images_problem(cluster, objects) == (
        f"image missing/init:1 not found in registry {registry}; "
        f"image hello-world:2 not found in registry {registry}"
    )
    assert missing_images_problem(cluster, [deployment_of("hello-world:1.0.0")]) is None


def test_cluster_without_registry_checks_nothing():
    assert missing_images_problem(Cluster(name="c"), [deployment_of("anything:1")]) is None


def test_cluster_password_is_used(db, private_registry):
    cluster = Cluster(name="c", registry_url=private_registry, registry_username="ci")
    cluster.set_registry_password("s3cret")
    assert missing_images_problem(cluster, [deployment_of("hello-world:1.0.0")]) is None


def test_deployment_of_a_missing_image_fails_before_anything_is_applied(target, alice, registry):
    from tests.test_deployment_runner import make

    Cluster.objects.filter(pk=target.cluster_id).update(registry_url=registry)
    deployment = make(target, alice, image="127.0.0.1:1/hello-world:never-pushed")

    runner.run(deployment.pk)
    deployment.refresh_from_db()

    assert deployment.status == Deployment.Status.FAILED
    assert deployment.reason == (
        f"image 127.0.0.1:1/hello-world:never-pushed not found in registry {registry}"
    )
    assert deployment.applied_objects == []


def test_admin_registry_password_is_write_only(admin_user, client):
    from tests.test_clusters import KUBECONFIG

    client.force_login(admin_user)
    fields = {"name": "eu", "context": "", "timeout_seconds": 600, "kubeconfig": KUBECONFIG,
              "registry_url": "https://registry.example", "registry_username": "ci"}  # fmt: skip
    response = client.post(
        "/admin/clusters/cluster/add/", {**fields, "registry_password": "pull-secret"}
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    cluster = Cluster.objects.get()
    assert cluster.registry_password == "pull-secret"
    assert "pull-secret" not in cluster.registry_password_encrypted

    page = client.get(f"/admin/clusters/cluster/{cluster.pk}/change/").content.decode()
    assert "pull-secret" not in page
    assert "https://registry.example" in page

    # Saving with the password left empty keeps it; the checkbox removes it.
    change = f"/admin/clusters/cluster/{cluster.pk}/change/"
    client.post(change, {**fields, "kubeconfig": "", "registry_password": ""})
    cluster.refresh_from_db()
    assert cluster.registry_password == "pull-secret"
    client.post(change, {**fields, "kubeconfig": "", "clear_registry_password": "on"})
    cluster.refresh_from_db()
    assert cluster.registry_password == ""


class TokenRegistry(BaseHTTPRequestHandler):
    """A registry that wants a bearer token from its token service, as Docker Hub and GHCR do.
    (docker-registry's own token auth needs a separate token server, so this stands in.)"""

    def log_message(self, *args):
        pass

    def do_GET(self):  # the token service
        query = parse_qs(urlsplit(self.path).query)
        good = "Basic " + base64.b64encode(b"ci:s3cret").decode()
        if self.headers.get("Authorization") != good or query.get("scope") != [
            "repository:team/app:pull"
        ]:
            self.send_response(401)
            self.end_headers()
            return
        body = json.dumps({"token": "good-token"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_HEAD(self):  # the registry
        if self.headers.get("Authorization") != "Bearer good-token":
            host = f"http://127.0.0.1:{self.server.server_port}"
            self.send_response(401)
            self.send_header(
                "WWW-Authenticate",
                f'Bearer realm="{host}/token",service="test",scope="repository:team/app:pull"',
            )
            self.end_headers()
            return
        self.send_response(200 if self.path == "/v2/team/app/manifests/1" else 404)
        self.end_headers()


@pytest.fixture
def token_registry():
    server = ThreadingHTTPServer(("127.0.0.1", 0), TokenRegistry)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_bearer_token_is_fetched_from_the_realm_with_the_credentials(token_registry):
    registry = Registry(token_registry, "ci", "s3cret")
    assert registry.has_image("registry.example/team/app:1")
    assert not registry.has_image("registry.example/team/app:2")  # the token is reused


def test_token_service_refusing_the_credentials_says_so(token_registry):
    with pytest.raises(RegistryError, match=r"token service .* refused Kubernaut \(401\)"):
        Registry(token_registry, "ci", "wrong").has_image("team/app:1")
