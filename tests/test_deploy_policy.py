"""A namespace's deploy policy, enforced where the rendered manifest for a target is known: the
API (400 naming object, field and rule, nothing queued), the deploy preview (the violations instead
of a Deploy button), redeploy and roll back, and the worker before anything is applied."""

from pathlib import Path

import pytest
from django_q.models import OrmQ

from clusters.kube import ClusterClient
from clusters.models import Cluster, Namespace
from deployments import runner, services
from deployments.models import Deployment
from releases import services as release_services
from tests.conftest import open_to_teams

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parent.parent
Status = Deployment.Status

# One workload whose pod spec and container fields each case fills in.
WORKLOAD = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ service }}
spec:
  replicas: 1
  selector:
    matchLabels: {app: "{{ service }}"}
  template:
    metadata:
      labels: {app: "{{ service }}"}
    spec:
%(pod)s
      containers:
        - name: app
          image: %(image)s
%(container)s
"""
CONTAINER = "spec.template.spec.containers[0]"


def template(pod: str = "", container: str = "", image: str = "registry.example/web:1") -> str:
    return WORKLOAD % {"pod": pod, "container": container, "image": image}


NAMESPACE_OBJECT = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: elsewhere\n"
CLUSTER_ROLE = (
    "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: everything\n"
    "rules:\n  - {apiGroups: ['*'], resources: ['*'], verbs: ['*']}\n"
)

# (case, template, object, field, rule)
REFUSED = [
    ("privileged container",
     template(container="          securityContext: {privileged: true}"),
     "deployment.apps/web", f"{CONTAINER}.securityContext.privileged", "baseline/privileged"),
    ("hostPath volume",
     template(pod="      volumes: [{name: root, hostPath: {path: /}}]"),
     "deployment.apps/web", "spec.template.spec.volumes[0].hostPath",
     "baseline/hostPathVolumes"),
    ("hostNetwork",
     template(pod="      hostNetwork: true"),
     "deployment.apps/web", "spec.template.spec.hostNetwork", "baseline/hostNamespaces"),
    ("added capability",
     template(container="          securityContext: {capabilities: {add: [NET_ADMIN]}}"),
     "deployment.apps/web", f"{CONTAINER}.securityContext.capabilities.add[0]",
     "baseline/capabilities_baseline"),
    ("a Namespace", template() + "---\n" + NAMESPACE_OBJECT,
     "namespace/elsewhere", "kind", "cluster-scoped"),
    ("a ClusterRole", template() + "---\n" + CLUSTER_ROLE,
     "clusterrole.rbac.authorization.k8s.io/everything", "kind", "cluster-scoped"),
]  # fmt: skip


@pytest.fixture
def place(db) -> Namespace:
    """A namespace with the default policy, on a cluster the API never has to reach."""
    cluster = Cluster(name="prod-eu")
    cluster.set_kubeconfig("apiVersion: v1\nclusters: []\ncontexts: []\n")
    cluster.save()
    return open_to_teams(Namespace.objects.create(cluster=cluster, name="staging"))


def release(user, text: str, version: str = "1"):
    return release_services.create_release(
        service="web", version=version, template=text, attributes={}, comment="", user=user
    )


def deploy(api, version: str = "1", cluster: str = "prod-eu", namespace: str = "staging"):
    body = {"service": "web", "version": version, "cluster": cluster, "namespace": namespace}
    return api.post("/api/deployments", body, format="json")


def test_new_namespaces_get_baseline_and_no_cluster_scoped_objects(place):
    assert (place.pod_security, place.allow_cluster_scoped) == ("baseline", False)
    assert (place.allowed_kinds, place.denied_kinds, place.allowed_registries) == ([], [], [])


@pytest.mark.parametrize(("case", "text", "obj", "field", "rule"), REFUSED,
                         ids=[c[0] for c in REFUSED])  # fmt: skip
def test_api_refuses_with_400_naming_object_field_and_rule(
    alice_api, alice, place, case, text, obj, field, rule
):
    release(alice, text)

    response = deploy(alice_api)

    assert response.status_code == 400, response.json()
    error = response.json()
    assert {"object": obj, "field": field, "rule": rule} == {
        key: error["violations"][0][key] for key in ("object", "field", "rule")
    }
    assert error["detail"].startswith("The namespace's deploy policy refuses this manifest: ")
    assert f"{obj}: {field}" in error["detail"]
    assert error["errors"]["manifest"] == [v["message"] for v in error["violations"]]
    assert not Deployment.all_objects.exists()
    assert not OrmQ.objects.exists()


def test_api_refuses_an_image_from_a_registry_not_allowed(alice_api, alice, place):
    place.allowed_registries = ["registry.example.com"]
    place.save()
    release(alice, template(image="registry.example.com.evil.net/web:1"))

    response = deploy(alice_api)

    assert response.status_code == 400
    [violation] = response.json()["violations"]
    assert violation["field"] == f"{CONTAINER}.image"
    assert violation["rule"] == "allowed-registries"
    assert "'registry.example.com.evil.net/web:1'" in violation["message"]


@pytest.mark.parametrize(("case", "text", "obj", "field", "rule"), REFUSED[:4],
                         ids=[c[0] for c in REFUSED[:4]])  # fmt: skip
def test_the_same_manifest_is_accepted_under_privileged(
    alice_api, alice, place, case, text, obj, field, rule
):
    place.pod_security = Namespace.PodSecurity.PRIVILEGED
    place.save()
    release(alice, text)
    assert deploy(alice_api).status_code == 202


def test_cluster_scoped_objects_are_accepted_where_allowed(alice_api, alice, place):
    place.allow_cluster_scoped = True
    place.save()
    release(alice, template() + "---\n" + CLUSTER_ROLE)
    assert deploy(alice_api).status_code == 202


def test_denied_kinds_are_refused(alice_api, alice, place):
    place.denied_kinds = ["Deployment.apps"]
    place.save()
    release(alice, template())
    response = deploy(alice_api)
    assert response.status_code == 400
    assert response.json()["violations"][0]["rule"] == "denied-kinds"


def test_restricted_refuses_a_pod_that_may_run_as_root(alice_api, alice, place):
    place.pod_security = Namespace.PodSecurity.RESTRICTED
    place.save()
    release(alice, template())

    response = deploy(alice_api)

    assert response.status_code == 400
    by_rule = {v["rule"]: v["field"] for v in response.json()["violations"]}
    assert by_rule["restricted/runAsNonRoot"] == f"{CONTAINER}.securityContext.runAsNonRoot"
    assert by_rule["restricted/allowPrivilegeEscalation"] == (
        f"{CONTAINER}.securityContext.allowPrivilegeEscalation"
    )
    assert by_rule["restricted/seccompProfile_restricted"] == (
        f"{CONTAINER}.securityContext.seccompProfile.type"
    )
    assert by_rule["restricted/capabilities_restricted"] == (
        f"{CONTAINER}.securityContext.capabilities.drop"
    )


def test_redeploy_is_checked_against_the_policy_as_it_is_now(alice_api, alice, place):
    place.pod_security = Namespace.PodSecurity.PRIVILEGED
    place.save()
    release(alice, template(pod="      hostPID: true"))
    first = deploy(alice_api).json()["id"]
    place.pod_security = Namespace.PodSecurity.BASELINE
    place.save()

    response = alice_api.post(f"/api/deployments/{first}/redeploy", {}, format="json")

    assert response.status_code == 400
    assert response.json()["violations"][0]["field"] == "spec.template.spec.hostPID"
    assert Deployment.objects.count() == 1


def test_the_400_is_in_the_openapi_schema(bob_api):
    schema = bob_api.get("/api/schema/?format=json").json()
    for path in ("/api/deployments", "/api/deployments/{id}/redeploy"):
        response = schema["paths"][path]["post"]["responses"]["400"]
        ref = response["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
        error = schema["components"]["schemas"][ref]
        assert {"detail", "errors", "violations"} <= set(error["properties"])
    violation = schema["components"]["schemas"]["Violation"]
    assert set(violation["properties"]) == {"object", "field", "rule", "message"}


# Pages, against the sandbox cluster


def form(target, action: str) -> dict:
    return {"namespace": target.pk, "attributes": "", "action": action}


def live(target, kind: str, name: str, api_version: str = "apps/v1") -> dict | None:
    client = ClusterClient.for_cluster(target.cluster)
    try:
        return client.get(api_version, kind, name, target.name)
    finally:
        client.close()


def test_preview_shows_the_violations_instead_of_a_deploy_button(client, alice, target):
    made = release(alice, template(pod="      hostNetwork: true"))
    client.force_login(alice)

    for action in ("preview", "deploy"):
        page = client.post(f"/releases/{made.pk}/deploy", form(target, action)).content.decode()

        assert "refuses this manifest" in page
        assert "<code>spec.template.spec.hostNetwork</code>" in page
        assert "<code>baseline/hostNamespaces</code>" in page
        assert 'value="deploy"' not in page
        assert "Rendered manifest" in page  # what was refused can be read
    assert not Deployment.all_objects.exists()
    assert live(target, "Deployment", "web") is None  # not even a dry run was sent


def test_roll_back_to_a_release_the_policy_now_refuses_is_refused(client, alice, target):
    target.pod_security = Namespace.PodSecurity.PRIVILEGED
    target.save()
    old = release(alice, template(pod="      hostIPC: true"), version="1")
    new = release(alice, template(), version="2")
    first = services.create_deployment(release=old, namespace=target, attributes={}, user=alice)
    Deployment.objects.filter(pk=first.pk).update(status=Status.SUCCEEDED)
    second = services.create_deployment(release=new, namespace=target, attributes={}, user=alice)
    target.pod_security = Namespace.PodSecurity.BASELINE
    target.save()
    client.force_login(alice)

    response = client.post(f"/deployments/{second.pk}/rollback", follow=True)

    page = response.content.decode()  # the preview of the roll back, which the policy refuses
    assert "Roll back web to 1" in page and "Cannot deploy" in page
    assert "spec.template.spec.hostIPC is true" in page
    assert 'value="deploy"' not in page  # no confirm button
    assert Deployment.objects.count() == 2


# The worker


@pytest.mark.django_db(transaction=True)
def test_worker_fails_a_deployment_the_policy_now_refuses_and_applies_nothing(alice, target):
    target.pod_security = Namespace.PodSecurity.PRIVILEGED
    target.save()
    config_map = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-config\n"
    privileged = template(container="          securityContext: {privileged: true}")
    made = release(alice, privileged + "---\n" + config_map)
    deployment = services.create_deployment(
        release=made, namespace=target, attributes={}, user=alice
    )
    # An admin tightens the namespace while the deployment waits for a worker.
    Namespace.objects.filter(pk=target.pk).update(pod_security=Namespace.PodSecurity.BASELINE)

    runner.run(deployment.pk)

    deployment.refresh_from_db()
    assert deployment.status == Status.FAILED
    assert deployment.reason.startswith("The namespace's deploy policy refuses this manifest: ")
    assert f"{CONTAINER}.securityContext.privileged is true" in deployment.reason
    log = [entry.message for entry in deployment.log_entries.all()]
    assert any(line.startswith("Refused by policy (baseline/privileged)") for line in log)
    assert deployment.applied_objects == []
    assert live(target, "Deployment", "web") is None
    assert live(target, "ConfigMap", "web-config", "v1") is None


@pytest.mark.django_db(transaction=True)
def test_the_hello_world_example_rolls_out_under_restricted(alice, target):
    target.pod_security = Namespace.PodSecurity.RESTRICTED
    target.save()
    made = release_services.create_release(
        service="hello-world", version="1.0.0",
        template=(ROOT / "examples" / "hello-world" / "kubernetes.yaml").read_text(),
        attributes={"image": "hello-world:1.0.0", "replicas": "1"}, comment="", user=alice,
    )  # fmt: skip
    deployment = services.create_deployment(
        release=made, namespace=target, attributes={}, user=alice
    )

    runner.run(deployment.pk)

    deployment.refresh_from_db()
    assert deployment.status == Status.SUCCEEDED, deployment.reason


class FakeResource:
    def __init__(self, namespaced: bool):
        self.namespaced = namespaced


class FakeClient:
    """The one seam (clusters.kube.ClusterClient), answering discovery only."""

    def __init__(self, cluster_scoped_kinds: set[str]):
        self.cluster_scoped_kinds = cluster_scoped_kinds

    def resource(self, api_version: str, kind: str) -> FakeResource:
        return FakeResource(namespaced=kind not in self.cluster_scoped_kinds)


def test_the_cluster_says_whether_a_custom_resource_is_cluster_scoped(place):
    issuer = {"apiVersion": "cert-manager.io/v1", "kind": "ClusterIssuer",
              "metadata": {"name": "letsencrypt"}}  # fmt: skip
    assert services.policy_violations(place, [issuer]) == []  # offline: counts as namespaced

    [violation] = services.policy_violations(place, [issuer], FakeClient({"ClusterIssuer"}))

    assert (violation.object, violation.rule) == (
        "clusterissuer.cert-manager.io/letsencrypt", "cluster-scoped",
    )  # fmt: skip


# The admin


def namespace_form(place, **fields) -> dict:
    data = {"cluster": place.cluster.pk, "name": place.name, "attributes": "{}",
            "pod_security": "baseline", "allowed_kinds": "", "denied_kinds": "",
            "allowed_registries": "", "required_approvals": "0"}  # fmt: skip
    return {**data, **fields}


def test_admin_edits_the_policy_one_entry_per_line(client, admin_user, place):
    client.force_login(admin_user)
    page = client.get(f"/admin/clusters/namespace/{place.pk}/change/").content.decode()
    assert "Deploy policy" in page and "Pod Security Standards level" in page

    response = client.post(
        f"/admin/clusters/namespace/{place.pk}/change/",
        namespace_form(place, pod_security="restricted", allow_cluster_scoped="on",
                       allowed_kinds="Deployment.apps\nService\n*.cert-manager.io",
                       allowed_registries="registry.example.com\nghcr.io/acme"),
    )  # fmt: skip

    assert response.status_code == 302
    place.refresh_from_db()
    assert (place.pod_security, place.allow_cluster_scoped) == ("restricted", True)
    assert place.allowed_kinds == ["Deployment.apps", "Service", "*.cert-manager.io"]
    assert place.allowed_registries == ["registry.example.com", "ghcr.io/acme"]


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("allowed_registries", "https://registry.example.com", "no https://"),
        ("allowed_kinds", "apps/Deployment", "Kind or Kind.group"),
        ("pod_security", "lenient", "Select a valid choice"),
    ],
)
def test_admin_refuses_malformed_entries_saying_how_to_write_them(
    client, admin_user, place, field, value, expected
):
    client.force_login(admin_user)
    response = client.post(
        f"/admin/clusters/namespace/{place.pk}/change/", namespace_form(place, **{field: value})
    )
    assert response.status_code == 200
    assert expected in response.content.decode()
    place.refresh_from_db()
    assert place.pod_security == "baseline" and place.allowed_registries == []
