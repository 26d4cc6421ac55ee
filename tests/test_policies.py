"""The deploy policy checks (policies/), pure functions over rendered objects.

The Pod Security Standards cases follow what Pod Security Admission decides at its `latest`
version (k8s.io/pod-security-admission policy/check_*.go): one row per rule, with the field it
names, and the levels that refuse it.
"""

import copy
from pathlib import Path

import jinja2
import pytest
import yaml

from policies import BASELINE, PRIVILEGED, RESTRICTED, Policy, check, refusal_sentence
from policies.images import repository

ROOT = Path(__file__).resolve().parent.parent

# A pod that meets restricted, the strictest level: every case below changes one thing.
RESTRICTED_POD = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web", "namespace": "team"},
    "spec": {
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {
                "securityContext": {
                    "runAsNonRoot": True,
                    "seccompProfile": {"type": "RuntimeDefault"},
                },
                "containers": [
                    {
                        "name": "app",
                        "image": "registry.example.com/web:1",
                        "securityContext": {
                            "allowPrivilegeEscalation": False,
                            "capabilities": {"drop": ["ALL"]},
                        },
                    }
                ],
                "volumes": [
                    {"name": "cache", "emptyDir": {}},
                    {"name": "config", "configMap": {"name": "web"}},
                ],
            },
        },
    },
}  # fmt: skip
POD = "spec.template.spec"
CONTAINER = f"{POD}.containers[0]"


def changed(*edits) -> dict:
    """RESTRICTED_POD with edits applied: (path, value) pairs; value None removes the key."""
    obj = copy.deepcopy(RESTRICTED_POD)
    for path, value in edits:
        *parents, last = path.split(".")
        node = obj
        for key in parents:
            node = node[int(key)] if key.isdigit() else node.setdefault(key, {})
        if value is None:
            node.pop(last, None)
        else:
            node[last] = value
    return obj


def fields(violations, rule: str) -> list[str]:
    return [v.field for v in violations if v.rule == rule]


P = "spec.template.spec"
C = "spec.template.spec.containers.0"
# (case, edits, rule, field, lowest level that allows it)
CASES = [
    ("privileged container", [(f"{C}.securityContext.privileged", True)],
     "baseline/privileged", f"{CONTAINER}.securityContext.privileged", PRIVILEGED),
    ("hostPath volume", [(f"{P}.volumes", [{"name": "root", "hostPath": {"path": "/"}}])],
     "baseline/hostPathVolumes", f"{POD}.volumes[0].hostPath", PRIVILEGED),
    ("hostNetwork", [(f"{P}.hostNetwork", True)],
     "baseline/hostNamespaces", f"{POD}.hostNetwork", PRIVILEGED),
    ("hostPID", [(f"{P}.hostPID", True)], "baseline/hostNamespaces", f"{POD}.hostPID", PRIVILEGED),
    ("hostIPC", [(f"{P}.hostIPC", True)], "baseline/hostNamespaces", f"{POD}.hostIPC", PRIVILEGED),
    ("added capability",
     [(f"{C}.securityContext.capabilities", {"add": ["SYS_ADMIN"], "drop": ["ALL"]})],
     "baseline/capabilities_baseline", f"{CONTAINER}.securityContext.capabilities.add[0]",
     PRIVILEGED),
    ("host port", [(f"{C}.ports", [{"containerPort": 80, "hostPort": 80}])],
     "baseline/hostPorts", f"{CONTAINER}.ports[0].hostPort", PRIVILEGED),
    ("HostProcess", [(f"{P}.securityContext.windowsOptions", {"hostProcess": True})],
     "baseline/windowsHostProcess", f"{POD}.securityContext.windowsOptions.hostProcess",
     PRIVILEGED),
    ("AppArmor unconfined", [(f"{C}.securityContext.appArmorProfile", {"type": "Unconfined"})],
     "baseline/appArmorProfile", f"{CONTAINER}.securityContext.appArmorProfile.type", PRIVILEGED),
    ("AppArmor annotation",
     [("spec.template.metadata.annotations",
       {"container.apparmor.security.beta.kubernetes.io/app": "unconfined"})],
     "baseline/appArmorProfile",
     "spec.template.metadata.annotations['container.apparmor.security.beta.kubernetes.io/app']",
     PRIVILEGED),
    ("SELinux type", [(f"{P}.securityContext.seLinuxOptions", {"type": "spc_t"})],
     "baseline/seLinuxOptions", f"{POD}.securityContext.seLinuxOptions.type", PRIVILEGED),
    ("SELinux user", [(f"{C}.securityContext.seLinuxOptions", {"user": "system_u"})],
     "baseline/seLinuxOptions", f"{CONTAINER}.securityContext.seLinuxOptions.user", PRIVILEGED),
    ("unmasked proc", [(f"{C}.securityContext.procMount", "Unmasked")],
     "baseline/procMount", f"{CONTAINER}.securityContext.procMount", PRIVILEGED),
    ("seccomp unconfined", [(f"{P}.securityContext.seccompProfile", {"type": "Unconfined"})],
     "baseline/seccompProfile_baseline", f"{POD}.securityContext.seccompProfile.type", PRIVILEGED),
    ("unsafe sysctl", [(f"{P}.securityContext.sysctls", [{"name": "kernel.msgmax", "value": "1"}])],
     "baseline/sysctls", f"{POD}.securityContext.sysctls[0].name", PRIVILEGED),
    ("probe to another host",
     [(f"{C}.readinessProbe", {"httpGet": {"host": "10.0.0.1", "port": 80}})],
     "baseline/hostProbesAndHostLifecycle", f"{CONTAINER}.readinessProbe.httpGet.host", PRIVILEGED),
    ("hook to another host",
     [(f"{C}.lifecycle", {"preStop": {"tcpSocket": {"host": "x", "port": 1}}})],
     "baseline/hostProbesAndHostLifecycle", f"{CONTAINER}.lifecycle.preStop.tcpSocket.host",
     PRIVILEGED),
    ("nfs volume", [(f"{P}.volumes", [{"name": "data", "nfs": {"server": "nfs", "path": "/"}}])],
     "restricted/restrictedVolumes", f"{POD}.volumes[0].nfs", BASELINE),
    ("privilege escalation not set", [(f"{C}.securityContext.allowPrivilegeEscalation", None)],
     "restricted/allowPrivilegeEscalation", f"{CONTAINER}.securityContext.allowPrivilegeEscalation",
     BASELINE),
    ("runAsNonRoot missing", [(f"{P}.securityContext.runAsNonRoot", None)],
     "restricted/runAsNonRoot", f"{CONTAINER}.securityContext.runAsNonRoot", BASELINE),
    ("runAsNonRoot false in a container", [(f"{C}.securityContext.runAsNonRoot", False)],
     "restricted/runAsNonRoot", f"{CONTAINER}.securityContext.runAsNonRoot", BASELINE),
    ("runAsUser 0", [(f"{C}.securityContext.runAsUser", 0)],
     "restricted/runAsUser", f"{CONTAINER}.securityContext.runAsUser", BASELINE),
    ("seccomp missing", [(f"{P}.securityContext.seccompProfile", None)],
     "restricted/seccompProfile_restricted", f"{CONTAINER}.securityContext.seccompProfile.type",
     BASELINE),
    ("capabilities not dropped", [(f"{C}.securityContext.capabilities", None)],
     "restricted/capabilities_restricted", f"{CONTAINER}.securityContext.capabilities.drop",
     BASELINE),
    ("default capability added",
     [(f"{C}.securityContext.capabilities", {"drop": ["ALL"], "add": ["CHOWN"]})],
     "restricted/capabilities_restricted", f"{CONTAINER}.securityContext.capabilities.add[0]",
     BASELINE),
]  # fmt: skip
STRICTNESS = [PRIVILEGED, BASELINE, RESTRICTED]


def test_the_restricted_pod_meets_every_level():
    for level in STRICTNESS:
        assert check([RESTRICTED_POD], Policy(pod_security=level)) == []


@pytest.mark.parametrize(("case", "edits", "rule", "field", "allowed_up_to"), CASES,
                         ids=[c[0] for c in CASES])  # fmt: skip
def test_each_rule_refuses_at_its_level_and_names_the_field(
    case, edits, rule, field, allowed_up_to
):
    obj = changed(*edits)
    for level in STRICTNESS:
        violations = check([obj], Policy(pod_security=level))
        if STRICTNESS.index(level) <= STRICTNESS.index(allowed_up_to):
            assert violations == [], (level, violations)
            continue
        found = [v for v in violations if v.field == field]
        assert found, (level, violations)
        if level == rule.split("/")[0]:
            assert found[0].rule == rule
        # (at restricted, a baseline rule may be refused by the restricted check replacing it)
        assert found[0].object == "deployment.apps/web"
        assert found[0].message.startswith(f"deployment.apps/web: {field} ")
        assert f"the {level} Pod Security Standard" in found[0].message


def test_restricted_replaces_baseline_checks_instead_of_repeating_them():
    obj = changed((f"{C}.securityContext.capabilities", {"add": ["SYS_ADMIN"]}))
    violations = check([obj], Policy(pod_security=RESTRICTED))
    assert [v.rule for v in violations] == ["restricted/capabilities_restricted"] * 2
    assert fields(violations, "restricted/capabilities_restricted") == [
        f"{CONTAINER}.securityContext.capabilities.drop",
        f"{CONTAINER}.securityContext.capabilities.add[0]",
    ]


def test_allowed_values_pass_baseline():
    obj = changed(
        (f"{C}.securityContext.capabilities", {"add": ["NET_BIND_SERVICE", "CHOWN"]}),
        (f"{C}.securityContext.seLinuxOptions", {"type": "container_t", "level": "s0:c1"}),
        (f"{C}.securityContext.procMount", "Default"),
        (f"{C}.securityContext.privileged", False),
        (f"{C}.ports", [{"containerPort": 80, "hostPort": 0}]),
        (f"{P}.securityContext.sysctls", [{"name": "net.ipv4.tcp_keepalive_time", "value": "1"}]),
        (f"{P}.securityContext.seccompProfile", {"type": "Localhost", "localhostProfile": "p"}),
        (f"{P}.hostNetwork", False),
        ("spec.template.metadata.annotations",
         {"container.apparmor.security.beta.kubernetes.io/app": "localhost/custom"}),
    )  # fmt: skip
    assert check([obj], Policy(pod_security=BASELINE)) == []


def test_every_container_list_is_checked_like_pod_security_admission():
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {
            "containers": [{"name": "a", "image": "a"}],
            "initContainers": [
                {"name": "i", "image": "i", "securityContext": {"privileged": True}}
            ],
            "ephemeralContainers": [
                {"name": "e", "image": "e", "securityContext": {"privileged": True}}
            ],
        },
    }
    # fmt: skip
    violations = check([pod], Policy())
    assert [(v.object, v.field) for v in violations] == [
        ("pod/p", "spec.initContainers[0].securityContext.privileged"),
        ("pod/p", "spec.ephemeralContainers[0].securityContext.privileged"),
    ]


def test_pods_of_every_workload_kind_are_checked():
    privileged = {
        "containers": [{"name": "c", "image": "i", "securityContext": {"privileged": True}}]
    }
    template = {"metadata": {}, "spec": privileged}
    objects = [
        {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "c"},
         "spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": template}}}},
        {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"},
         "spec": {"template": template}},
        {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "d"},
         "spec": {"template": template}},
        {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "s"},
         "spec": {"template": template}},
        {"apiVersion": "v1", "kind": "PodTemplate", "metadata": {"name": "t"},
         "template": template},
    ]  # fmt: skip
    assert [(v.object, v.field) for v in check(objects, Policy())] == [
        ("cronjob.batch/c",
         "spec.jobTemplate.spec.template.spec.containers[0].securityContext.privileged"),
        ("job.batch/j", "spec.template.spec.containers[0].securityContext.privileged"),
        ("daemonset.apps/d", "spec.template.spec.containers[0].securityContext.privileged"),
        ("statefulset.apps/s", "spec.template.spec.containers[0].securityContext.privileged"),
        ("podtemplate/t", "template.spec.containers[0].securityContext.privileged"),
    ]  # fmt: skip


def test_windows_pods_and_user_namespaces_are_exempt_where_psa_exempts_them():
    windows = changed((f"{P}.os", {"name": "windows"}), (f"{C}.securityContext", {}),
                      (f"{P}.securityContext", {"runAsNonRoot": True}))  # fmt: skip
    assert check([windows], Policy(pod_security=RESTRICTED)) == []

    user_namespace = changed((f"{P}.hostUsers", False), (f"{P}.securityContext.runAsNonRoot", None),
                             (f"{C}.securityContext.runAsUser", 0))  # fmt: skip
    assert check([user_namespace], Policy(pod_security=RESTRICTED)) == []
    unmasked = changed((f"{P}.hostUsers", False), (f"{C}.securityContext.procMount", "Unmasked"))
    assert check([unmasked], Policy(pod_security=BASELINE)) == []
    assert fields(check([unmasked], Policy(pod_security=RESTRICTED)),
                  "restricted/procMount_restricted") == [
        f"{CONTAINER}.securityContext.procMount"]  # fmt: skip


def test_a_volume_without_a_source_is_an_empty_dir():
    obj = changed((f"{P}.volumes", [{"name": "scratch"}]))
    assert check([obj], Policy(pod_security=RESTRICTED)) == []


def test_a_custom_kind_called_deployment_is_not_read_as_a_pod():
    obj = changed((f"{C}.securityContext.privileged", True), ("apiVersion", "example.com/v1"))
    assert check([obj], Policy(pod_security=BASELINE)) == []


def render_example(namespace: str) -> list[dict]:
    template = (ROOT / "examples" / "hello-world" / "kubernetes.yaml").read_text()
    text = jinja2.Template(template, undefined=jinja2.StrictUndefined).render(
        service="hello-world", version="1.0.0", namespace=namespace, cluster="sandbox",
        image="hello-world:1.0.0", replicas="2",
    )  # fmt: skip
    return [doc for doc in yaml.safe_load_all(text) if doc]


@pytest.mark.parametrize("level", STRICTNESS)
@pytest.mark.parametrize("namespace", ["staging", "production"])
def test_the_hello_world_example_meets_every_level(level, namespace):
    objects = render_example(namespace)
    assert {o["kind"] for o in objects} >= {"Deployment", "Service"}
    assert check(objects, Policy(pod_security=level)) == []


# Kinds


NAMESPACE = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "other"}}
CLUSTER_ROLE = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                "metadata": {"name": "root"}, "rules": []}  # fmt: skip
CONFIG_MAP = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}
CERTIFICATE = {"apiVersion": "cert-manager.io/v1", "kind": "Certificate", "metadata": {"name": "t"}}


@pytest.mark.parametrize(
    ("obj", "name"),
    [(NAMESPACE, "namespace/other"), (CLUSTER_ROLE, "clusterrole.rbac.authorization.k8s.io/root")],
)
def test_cluster_scoped_objects_are_refused_unless_allowed(obj, name):
    [violation] = check([obj], Policy())
    assert (violation.object, violation.field, violation.rule) == (name, "kind", "cluster-scoped")
    assert "does not allow cluster-scoped objects" in violation.message
    assert check([obj], Policy(allow_cluster_scoped=True)) == []


def test_a_custom_resource_counts_as_namespaced_unless_its_cluster_says_otherwise():
    issuer = {
        "apiVersion": "cert-manager.io/v1",
        "kind": "ClusterIssuer",
        "metadata": {"name": "i"},
    }
    assert check([issuer], Policy()) == []
    asked = []

    def scope_of(obj):
        asked.append(obj["kind"])
        return obj["kind"] == "ClusterIssuer"

    assert [v.rule for v in check([issuer, CERTIFICATE, CONFIG_MAP], Policy(),
                                  scope_of=scope_of)] == ["cluster-scoped"]  # fmt: skip
    assert asked == ["ClusterIssuer", "Certificate"]  # built-in kinds are known offline


@pytest.mark.parametrize(
    ("allowed", "denied", "refused"),
    [
        ((), (), []),
        (("Deployment.apps", "ConfigMap"), (), ["cert-manager.io/Certificate"]),
        (("*.cert-manager.io", "ConfigMap"), (), []),
        ((), ("Certificate",), ["cert-manager.io/Certificate"]),
        ((), ("ConfigMap.apps",), []),  # a ConfigMap is in the core group, not apps
        (("*",), ("ConfigMap",), ["/ConfigMap"]),
    ],
)
def test_allowed_and_denied_kinds(allowed, denied, refused):
    policy = Policy(allowed_kinds=allowed, denied_kinds=denied)
    violations = check([CONFIG_MAP, CERTIFICATE], policy)
    kinds = {
        "configmap/c": "/ConfigMap",
        "certificate.cert-manager.io/t": "cert-manager.io/Certificate",
    }
    assert [kinds[v.object] for v in violations] == refused
    assert all(
        v.rule in ("allowed-kinds", "denied-kinds") and v.field == "kind" for v in violations
    )


def test_a_list_is_checked_item_by_item():
    listed = {"apiVersion": "v1", "kind": "List", "items": [CONFIG_MAP, NAMESPACE]}
    assert [v.object for v in check([listed], Policy())] == ["namespace/other"]


# Registries


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("nginx", "docker.io/library/nginx"),
        ("nginx:1.27", "docker.io/library/nginx"),
        ("acme/web:1", "docker.io/acme/web"),
        ("index.docker.io/acme/web", "docker.io/acme/web"),
        ("registry:5000/web:1", "registry:5000/web"),
        ("localhost/web", "localhost/web"),
        ("Registry.Example.com/team/web@sha256:" + "0" * 64, "registry.example.com/team/web"),
        ("ghcr.io/acme/web:1.2@sha256:" + "a" * 64, "ghcr.io/acme/web"),
    ],
)
def test_image_repositories_are_named_as_docker_names_them(image, expected):
    assert repository(image) == expected


@pytest.mark.parametrize(
    ("image", "allowed"),
    [
        ("registry.example.com/web:1", True),
        ("ghcr.io/acme/web:1", True),
        ("ghcr.io/acme-evil/web:1", False),
        ("registry.example.com.attacker.net/web:1", False),
        ("evil.example/registry.example.com/web:1", False),
        ("nginx:1.27", False),
        ("docker.io/library/nginx", False),
    ],
)
def test_images_from_other_registries_are_refused(image, allowed):
    obj = changed((f"{C}.image", image))
    policy = Policy(allowed_registries=("registry.example.com", "ghcr.io/acme"))
    violations = check([obj], policy)
    if allowed:
        assert violations == []
        return
    [violation] = violations
    assert (violation.field, violation.rule) == (f"{CONTAINER}.image", "allowed-registries")
    assert repr(image) in violation.message
    assert "registry.example.com, ghcr.io/acme" in violation.message


def test_docker_hub_is_allowed_by_name():
    obj = changed((f"{C}.image", "nginx:1.27"))
    assert check([obj], Policy(allowed_registries=("docker.io",))) == []
    assert check([obj], Policy(allowed_registries=("docker.io/library",))) == []


def test_the_refusal_reads_as_one_sentence_per_violation():
    obj = changed((f"{P}.hostNetwork", True), (f"{C}.securityContext.privileged", True))
    violations = check([obj, NAMESPACE], Policy())
    assert len(violations) == 3
    text = refusal_sentence(violations)
    assert text.startswith("The namespace's deploy policy refuses this manifest: ")
    assert f"deployment.apps/web: {CONTAINER}.securityContext.privileged is true;" in text
    assert text.endswith("or ask an admin to relax the namespace's policy.")
