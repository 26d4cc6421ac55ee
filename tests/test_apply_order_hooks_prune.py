"""Apply order, pre-deploy hooks, prune and readiness beyond workloads (deployments/apply.py),
through the worker's job run inline against the sandbox cluster over HTTP.

Sandbox conventions (docs/sandbox.md): a container with env SANDBOX_CRASH=1 exits with code 1
(a Job pod with restartPolicy Never then fails); a PersistentVolumeClaim binds at once to a
provisioned volume; Services get EndpointSlices for their ready pods but never a load balancer.
"""

import itertools
import threading
import time

import kubernetes
import pytest
import yaml

from clusters.kube import ClusterClient
from deployments import apply, runner, services
from deployments.models import Deployment
from releases import services as release_services

pytestmark = pytest.mark.django_db(transaction=True)
Status = Deployment.Status
versions = itertools.count(1)

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: shop}
spec:
  replicas: 1
  selector: {matchLabels: {app: shop}}
  template:
    metadata: {labels: {app: shop}}
    spec:
      serviceAccountName: shop
      containers:
        - name: app
          image: registry.example/shop:1
          envFrom: [{configMapRef: {name: shop-settings}}, {secretRef: {name: shop-secrets}}]
"""
SERVICE = """\
apiVersion: v1
kind: Service
metadata: {name: shop}
spec: {selector: {app: shop}, ports: [{port: 80}]}
"""
CONFIG = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: shop-settings}
data: {mode: fast}
"""
SECRET = """\
apiVersion: v1
kind: Secret
metadata: {name: shop-secrets}
stringData: {token: hunter2}
"""
ACCOUNT = """\
apiVersion: v1
kind: ServiceAccount
metadata: {name: shop}
"""
ROLE = """\
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: shop}
rules: [{apiGroups: [""], resources: [configmaps], verbs: [get]}]
"""
BINDING = """\
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: shop}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: shop}
subjects: [{kind: ServiceAccount, name: shop}]
"""
EXTRA = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: shop-extra}
"""
CLAIM = """\
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: shop-data}
spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
"""


def hook_job(name: str = "migrate", crash: str = "0") -> str:
    return f"""\
apiVersion: batch/v1
kind: Job
metadata:
  name: {name}
  annotations: {{kubernaut.io/hook: pre-deploy}}
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: migrate
          image: registry.example/shop:1
          envFrom: [{{configMapRef: {{name: migrate-settings}}}}]
          env: [{{name: SANDBOX_CRASH, value: "{crash}"}}]
"""


HOOK_CONFIG = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: migrate-settings
  annotations: {kubernaut.io/hook: pre-deploy}
data: {target: latest}
"""


def deploy(target, user, *documents: str, timeout: int = 30) -> Deployment:
    """Register a release of `shop` whose template is these documents, deploy it, wait."""
    release = release_services.create_release(
        service="shop", version=f"1.0.{next(versions)}", template="---\n".join(documents),
        attributes={}, comment="", user=user,
    )  # fmt: skip
    deployment = services.create_deployment(
        release=release, namespace=target, attributes={}, user=user, timeout_seconds=timeout
    )
    runner.run(deployment.pk)
    deployment.refresh_from_db()
    return deployment


def placed(document: str, target) -> dict:
    obj = yaml.safe_load(document)
    obj["metadata"]["namespace"] = target.name
    return obj


def log_of(deployment) -> list[str]:
    return [entry.message for entry in deployment.log_entries.all()]


def first_line(log: list[str], start: str) -> int:
    return next(i for i, line in enumerate(log) if line.startswith(start))


@pytest.fixture
def cluster(target):
    client = ClusterClient.for_cluster(target.cluster)
    yield client
    client.close()


def live(cluster, target, api_version, kind, name):
    return cluster.get(api_version, kind, name, target.name)


# --- order ----------------------------------------------------------------------------------


def test_objects_are_applied_in_dependency_order_and_labelled(target, alice, cluster):
    # Written the wrong way round on purpose.
    deployment = deploy(
        target, alice, DEPLOYMENT, SERVICE, CLAIM, SECRET, CONFIG, BINDING, ROLE, ACCOUNT
    )

    assert deployment.status == Status.SUCCEEDED, log_of(deployment)
    log = log_of(deployment)
    order = [
        "serviceaccount/shop", "role.rbac.authorization.k8s.io/shop",
        "rolebinding.rbac.authorization.k8s.io/shop", "configmap/shop-settings",
        "secret/shop-secrets", "persistentvolumeclaim/shop-data", "service/shop",
        "deployment.apps/shop",
    ]  # fmt: skip
    assert [first_line(log, f"{name} created") for name in order] == sorted(
        first_line(log, f"{name} created") for name in order
    )
    labels = live(cluster, target, "v1", "ConfigMap", "shop-settings")["metadata"]["labels"]
    assert labels == {
        "app.kubernetes.io/managed-by": "kubernaut",
        "kubernaut.io/service": "shop",
        "kubernaut.io/namespace": target.name,
    }
    # The pod template is left alone: labelling it would restart pods on a label change.
    template = live(cluster, target, "apps/v1", "Deployment", "shop")["spec"]["template"]
    assert template["metadata"]["labels"] == {"app": "shop"}
    # Readiness beyond workloads: the claim was bound, the Service had a ready endpoint.
    assert deployment.reason == (
        "Rolled out deployment/shop. Ready: persistentvolumeclaim/shop-data, service/shop."
    )


# --- hooks ----------------------------------------------------------------------------------


def test_pre_deploy_hook_completes_before_anything_else_is_applied(target, alice, cluster):
    deployment = deploy(target, alice, CONFIG, SECRET, ACCOUNT, DEPLOYMENT, hook_job(), HOOK_CONFIG)

    assert deployment.status == Status.SUCCEEDED, log_of(deployment)
    log = log_of(deployment)
    completed = first_line(log, "job.batch/migrate: completed")
    assert first_line(log, "configmap/migrate-settings created") < first_line(
        log, "job.batch/migrate created"
    )
    assert completed < first_line(log, "configmap/shop-settings created")
    assert completed < first_line(log, "deployment.apps/shop created")
    job = live(cluster, target, "batch/v1", "Job", "migrate")
    assert job["status"]["succeeded"] == 1
    assert [o["name"] for o in deployment.applied_objects][:2] == ["migrate-settings", "migrate"]


def test_failing_hook_applies_nothing_else_and_its_reason_quotes_the_pod(target, alice, cluster):
    started = time.monotonic()
    deployment = deploy(target, alice, CONFIG, DEPLOYMENT, hook_job(crash="1"), HOOK_CONFIG)

    assert deployment.status == Status.FAILED, log_of(deployment)
    assert time.monotonic() - started < 10
    reason = deployment.reason
    assert reason.startswith(
        "Pre-deploy hook job.batch/migrate failed, so nothing else was applied: "
        "job.batch/migrate failed: BackoffLimitExceeded"
    ), reason
    assert "pod migrate-" in reason and "terminated: Error (exit code 1)" in reason, reason
    assert "events: " in reason, reason
    assert live(cluster, target, "apps/v1", "Deployment", "shop") is None
    assert live(cluster, target, "v1", "ConfigMap", "shop-settings") is None
    assert [o["name"] for o in deployment.applied_objects] == ["migrate-settings", "migrate"]


def test_a_hook_job_runs_again_on_the_next_deployment(target, alice, cluster):
    first = deploy(target, alice, CONFIG, hook_job(), HOOK_CONFIG)
    first_uid = live(cluster, target, "batch/v1", "Job", "migrate")["metadata"]["uid"]

    second = deploy(target, alice, CONFIG, hook_job(), HOOK_CONFIG)

    assert first.status == second.status == Status.SUCCEEDED, log_of(second)
    assert any("job.batch/migrate deleted: the pre-deploy hook of an earlier" in line
               for line in log_of(second))  # fmt: skip
    job = live(cluster, target, "batch/v1", "Job", "migrate")
    assert job["metadata"]["uid"] != first_uid
    assert job["metadata"]["annotations"]["kubernaut.io/deployment-id"] == str(second.pk)
    assert job["status"]["succeeded"] == 1


# --- prune ----------------------------------------------------------------------------------


def test_objects_dropped_from_the_manifest_are_pruned_after_the_rollout(target, alice, cluster):
    deploy(target, alice, CONFIG, SECRET, ACCOUNT, SERVICE, CLAIM, DEPLOYMENT, ROLE, BINDING)
    # Someone's own ConfigMap in the same namespace, without Kubernaut's labels.
    cluster.apply({"apiVersion": "v1", "kind": "ConfigMap",
                   "metadata": {"name": "by-hand", "namespace": target.name}})  # fmt: skip

    second = deploy(target, alice, CONFIG, SECRET, ACCOUNT, DEPLOYMENT)

    assert second.status == Status.SUCCEEDED, log_of(second)
    log = log_of(second)
    for name in ("service/shop", "role.rbac.authorization.k8s.io/shop",
                 "rolebinding.rbac.authorization.k8s.io/shop"):  # fmt: skip
        assert f"{name} deleted (pruned: no longer in the manifest)" in log
    assert first_line(log, "deployment.apps/shop: successfully rolled out") < first_line(
        log, "service/shop deleted"
    )
    assert second.reason.endswith("Pruned 3 objects no longer in the manifest.")
    assert live(cluster, target, "v1", "Service", "shop") is None
    assert live(cluster, target, "v1", "PersistentVolumeClaim", "shop-data") is not None
    assert live(cluster, target, "v1", "ConfigMap", "by-hand") is not None
    assert live(cluster, target, "v1", "ConfigMap", "shop-settings") is not None


def test_a_failed_rollout_prunes_nothing(target, alice, cluster):
    deploy(target, alice, CONFIG, SECRET, ACCOUNT, DEPLOYMENT)
    crashing = DEPLOYMENT.replace("image: registry.example/shop:1", "image: x/shop:does-not-exist")

    second = deploy(target, alice, SECRET, ACCOUNT, crashing)

    assert second.status == Status.FAILED, log_of(second)
    assert live(cluster, target, "v1", "ConfigMap", "shop-settings") is not None
    assert not any("pruned" in line for line in log_of(second))


def test_a_namespace_with_prune_off_keeps_dropped_objects(target, alice, cluster):
    target.prune = False
    target.save()
    deploy(target, alice, CONFIG, EXTRA)

    second = deploy(target, alice, CONFIG)

    assert second.status == Status.SUCCEEDED, log_of(second)
    assert live(cluster, target, "v1", "ConfigMap", "shop-extra") is not None
    assert not any("pruned" in line for line in log_of(second))


def test_the_preview_lists_what_would_be_deleted(client, target, alice):
    deploy(target, alice, CONFIG, EXTRA)
    release = release_services.create_release(
        service="shop", version="2.0.0", template=CONFIG, attributes={}, comment="", user=alice
    )
    client.force_login(alice)
    form = {"namespace": target.pk, "attributes": "", "action": "preview"}

    page = client.post(f"/releases/{release.pk}/deploy", form).content.decode()

    assert '<code>configmap/shop-extra</code> <span class="tag tag-deleted">will be deleted' in page
    assert "configmap/shop-settings</code> <span" not in page.split("Will be deleted")[1]
    target.prune = False
    target.save()
    page = client.post(f"/releases/{release.pk}/deploy", form).content.decode()
    assert "will be deleted" not in page and "Pruning is off for this namespace" in page


def test_prune_candidates_come_from_the_kinds_applied_before(target, alice, cluster):
    deploy(target, alice, CONFIG, ROLE)
    kinds = apply.applied_kinds(
        service_id=Deployment.objects.latest("id").service_id, namespace_id=target.pk
    )
    assert kinds == {("v1", "ConfigMap"), ("rbac.authorization.k8s.io/v1", "Role")}
    # A manifest without the Role: only a kind recorded earlier lets prune find it.
    found = apply.prune_candidates(cluster, service="shop", namespace=target.name,
                                   keep=[placed(CONFIG, target)], kinds=kinds)  # fmt: skip
    assert [(o["kind"], o["metadata"]["name"]) for o in found] == [("Role", "shop")]


# --- readiness of Services ------------------------------------------------------------------


def short_timeout(deployment: Deployment, seconds: int) -> None:
    # Test-only: below the 10 s the API allows, so a wait that cannot succeed ends quickly.
    Deployment.objects.filter(pk=deployment.pk).update(timeout_seconds=seconds)


def test_a_service_whose_selector_matches_no_pod_times_out_saying_so(target, alice):
    release = release_services.create_release(
        service="shop", version="3.0.0", template=SERVICE.replace("app: shop", "app: shpo"),
        attributes={}, comment="", user=alice,
    )  # fmt: skip
    deployment = services.create_deployment(
        release=release, namespace=target, attributes={}, user=alice, timeout_seconds=10
    )
    short_timeout(deployment, 2)
    runner.run(deployment.pk)
    deployment.refresh_from_db()

    assert deployment.status == Status.TIMED_OUT
    assert deployment.reason == (
        "Not rolled out within 2 s: service/shop: no ready endpoint yet: no ready pod matches "
        "its selector app=shpo"
    )


def test_a_load_balancer_is_ready_once_it_has_an_address(target, alice, cluster):
    balancer = SERVICE.replace("spec: {", "spec: {type: LoadBalancer, ")

    def publish():
        # What a cloud's service controller does once the load balancer exists.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if live(cluster, target, "v1", "Service", "shop") is not None:
                kubernetes.client.CoreV1Api(cluster.api).patch_namespaced_service_status(
                    "shop", target.name,
                    {"status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.7"}]}}},
                )  # fmt: skip
                return
            time.sleep(0.05)

    publisher = threading.Thread(target=publish, daemon=True)
    publisher.start()
    deployment = deploy(target, alice, balancer, DEPLOYMENT, CONFIG, SECRET, ACCOUNT)
    publisher.join(5)

    assert deployment.status == Status.SUCCEEDED, log_of(deployment)
    assert "service/shop: load balancer at 203.0.113.7" in log_of(deployment)


def test_the_admin_turns_pruning_off_with_its_help_text(client, admin_user, target):
    client.force_login(admin_user)
    url = f"/admin/clusters/namespace/{target.pk}/change/"
    page = client.get(url).content.decode()
    assert 'name="prune"' in page and "checked" in page.split('name="prune"')[1].split(">")[0]
    assert "delete the objects Kubernaut applied for that service here" in page

    form = {
        "cluster": target.cluster.pk,
        "name": target.name,
        "attributes": "{}",
        "pod_security": "baseline",
        "allowed_kinds": "",
        "denied_kinds": "",
        "allowed_registries": "",
        "required_approvals": "0",
    }  # fmt: skip (a cleared checkbox is not sent)
    assert client.post(url, form).status_code == 302

    target.refresh_from_db()
    assert target.prune is False
