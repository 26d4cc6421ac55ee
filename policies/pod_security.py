"""The Pod Security Standards' baseline and restricted levels, checked on rendered objects.

Written from the standard (kubernetes.io/docs/concepts/security/pod-security-standards) and from
what Pod Security Admission enforces at its `latest` version (k8s.io/pod-security-admission,
policy/check_*.go, as of Kubernetes 1.37), so a manifest refused here would be refused by a
namespace labelled `pod-security.kubernetes.io/enforce=<level>`, and the other way round:

- restricted includes baseline; some restricted checks replace a baseline one (capabilities,
  volume types, seccomp, procMount) rather than adding to it;
- containers are init, regular and ephemeral containers alike;
- a pod with `spec.os.name: windows` is exempt from allowPrivilegeEscalation, capabilities and
  seccomp (Linux-only fields); a pod with `hostUsers: false` (a user namespace) is exempt from
  runAsNonRoot, runAsUser and, at baseline, procMount;
- a volume without a source is an emptyDir (the API server defaults it so before admission).

Each finding names the exact field, so the check ids (PSA's own) are the `rule`s.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from policies.kinds import describe
from policies.pods import PodAt, mapping, pod_of
from policies.types import BASELINE, RESTRICTED, Violation

# (field, what is wrong with it)
Finding = tuple[str, str]

DEFAULT_CAPABILITIES = {
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
}
SAFE_SYSCTLS = {
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
    "net.ipv4.tcp_rmem",
    "net.ipv4.tcp_wmem",
    "net.ipv4.tcp_slow_start_after_idle",
    "net.ipv4.tcp_notsent_lowat",
}
SELINUX_TYPES = {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}
PROFILE_TYPES = {"RuntimeDefault", "Localhost"}  # for both seccomp and AppArmor
APPARMOR_ANNOTATION = "container.apparmor.security.beta.kubernetes.io/"
RESTRICTED_VOLUME_SOURCES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "image",
    "persistentVolumeClaim",
    "projected",
    "secret",
}


def security_contexts(pod: PodAt) -> Iterator[tuple[str, dict]]:
    """(path, securityContext) of the pod, then of each container."""
    yield f"{pod.path}spec.securityContext", pod.security_context
    for path, container in pod.containers():
        yield f"{path}.securityContext", mapping(container.get("securityContext"))


def container_contexts(pod: PodAt) -> Iterator[tuple[str, dict]]:
    for path, container in pod.containers():
        yield f"{path}.securityContext", mapping(container.get("securityContext"))


def is_windows(pod: PodAt) -> bool:
    return mapping(pod.spec.get("os")).get("name") == "windows"


def in_user_namespace(pod: PodAt) -> bool:
    return pod.spec.get("hostUsers") is False


def as_list(value) -> list:
    return value if isinstance(value, list) else []


# Baseline


def host_process(pod: PodAt) -> list[Finding]:
    return [
        (f"{path}.windowsOptions.hostProcess", "is true")
        for path, context in security_contexts(pod)
        if mapping(context.get("windowsOptions")).get("hostProcess") is True
    ]


def host_namespaces(pod: PodAt) -> list[Finding]:
    return [
        (pod.field(f"spec.{key}"), "is true")
        for key in ("hostNetwork", "hostPID", "hostIPC")
        if pod.spec.get(key) is True
    ]


def privileged(pod: PodAt) -> list[Finding]:
    return [
        (f"{path}.privileged", "is true")
        for path, context in container_contexts(pod)
        if context.get("privileged") is True
    ]


def capabilities_baseline(pod: PodAt) -> list[Finding]:
    findings = []
    for path, context in container_contexts(pod):
        added = as_list(mapping(context.get("capabilities")).get("add"))
        for index, capability in enumerate(added):
            if capability not in DEFAULT_CAPABILITIES:
                findings.append(
                    (
                        f"{path}.capabilities.add[{index}]",
                        f"adds {capability}",
                    )
                )
    return findings


def host_path_volumes(pod: PodAt) -> list[Finding]:
    return [
        (pod.field(f"spec.volumes[{index}].hostPath"), "mounts a directory of the node")
        for index, volume in enumerate(as_list(pod.spec.get("volumes")))
        if mapping(volume).get("hostPath") is not None
    ]


def host_ports(pod: PodAt) -> list[Finding]:
    findings = []
    for path, container in pod.containers():
        for index, port in enumerate(as_list(container.get("ports"))):
            host_port = mapping(port).get("hostPort")
            if host_port not in (None, 0):
                findings.append((f"{path}.ports[{index}].hostPort", f"is {host_port}"))
    return findings


def apparmor(pod: PodAt) -> list[Finding]:
    findings = []
    for path, context in security_contexts(pod):
        profile = context.get("appArmorProfile")
        if profile is not None and mapping(profile).get("type") not in PROFILE_TYPES:
            findings.append(
                (
                    f"{path}.appArmorProfile.type",
                    f"is {mapping(profile).get('type')!r}, not RuntimeDefault or Localhost",
                )
            )
    for key, value in mapping(pod.metadata.get("annotations")).items():
        if not str(key).startswith(APPARMOR_ANNOTATION):
            continue
        if value in ("", "runtime/default") or str(value).startswith("localhost/"):
            continue
        findings.append(
            (
                pod.field(f"metadata.annotations['{key}']"),
                f"is {value!r}, not runtime/default or localhost/*",
            )
        )
    return findings


def selinux(pod: PodAt) -> list[Finding]:
    findings = []
    for path, context in security_contexts(pod):
        options = context.get("seLinuxOptions")
        if options is None:
            continue
        options = mapping(options)
        if options.get("type", "") not in SELINUX_TYPES:
            findings.append((f"{path}.seLinuxOptions.type", f"is {options['type']!r}"))
        for key in ("user", "role"):
            if options.get(key):
                findings.append((f"{path}.seLinuxOptions.{key}", "is set"))
    return findings


def proc_mount(pod: PodAt) -> list[Finding]:
    return [
        (f"{path}.procMount", f"is {context['procMount']!r}, not Default")
        for path, context in container_contexts(pod)
        if context.get("procMount") not in (None, "Default")
    ]


def proc_mount_baseline(pod: PodAt) -> list[Finding]:
    return [] if in_user_namespace(pod) else proc_mount(pod)


def seccomp_baseline(pod: PodAt) -> list[Finding]:
    return [
        (
            f"{path}.seccompProfile.type",
            f"is {mapping(context['seccompProfile']).get('type')!r}, "
            "not RuntimeDefault or Localhost",
        )
        for path, context in security_contexts(pod)
        if context.get("seccompProfile") is not None
        and mapping(context["seccompProfile"]).get("type") not in PROFILE_TYPES
    ]


def sysctls(pod: PodAt) -> list[Finding]:
    return [
        (
            pod.field(f"spec.securityContext.sysctls[{index}].name"),
            f"is {mapping(sysctl).get('name')!r}, not one of the safe sysctls",
        )
        for index, sysctl in enumerate(as_list(pod.security_context.get("sysctls")))
        if mapping(sysctl).get("name") not in SAFE_SYSCTLS
    ]


def host_probes_and_lifecycle(pod: PodAt) -> list[Finding]:
    findings = []
    for path, container in pod.containers():
        handlers = [
            (probe, mapping(container.get(probe)))
            for probe in ("livenessProbe", "readinessProbe", "startupProbe")
        ]
        lifecycle = mapping(container.get("lifecycle"))
        handlers += [
            (f"lifecycle.{hook}", mapping(lifecycle.get(hook))) for hook in ("postStart", "preStop")
        ]
        for where, handler in handlers:
            for action in ("httpGet", "tcpSocket"):
                host = mapping(handler.get(action)).get("host")
                if host:
                    findings.append((f"{path}.{where}.{action}.host", f"is {host!r}"))
    return findings


# Restricted


def restricted_volumes(pod: PodAt) -> list[Finding]:
    findings = []
    for index, volume in enumerate(as_list(pod.spec.get("volumes"))):
        sources = [key for key in mapping(volume) if key != "name"]
        if not sources or any(key in RESTRICTED_VOLUME_SOURCES for key in sources):
            continue  # no source at all is defaulted to an emptyDir
        findings.append(
            (
                pod.field(f"spec.volumes[{index}].{sources[0]}"),
                f"is a {sources[0]} volume",
            )
        )
    return findings


def allow_privilege_escalation(pod: PodAt) -> list[Finding]:
    if is_windows(pod):
        return []
    return [
        (
            f"{path}.allowPrivilegeEscalation",
            "is not set to false" if "allowPrivilegeEscalation" not in context else "is true",
        )
        for path, context in container_contexts(pod)
        if context.get("allowPrivilegeEscalation") is not False
    ]


def run_as_non_root(pod: PodAt) -> list[Finding]:
    if in_user_namespace(pod):
        return []
    findings = []
    pod_value = pod.security_context.get("runAsNonRoot")
    if pod_value is False:
        findings.append((pod.field("spec.securityContext.runAsNonRoot"), "is false"))
    for path, context in container_contexts(pod):
        value = context.get("runAsNonRoot")
        if value is False:
            findings.append((f"{path}.runAsNonRoot", "is false"))
        elif value is None and pod_value is not True:
            findings.append(
                (
                    f"{path}.runAsNonRoot",
                    "is not set, and the pod's securityContext.runAsNonRoot is not true either",
                )
            )
    return findings


def run_as_user(pod: PodAt) -> list[Finding]:
    if in_user_namespace(pod):
        return []
    return [
        (f"{path}.runAsUser", "is 0 (root)")
        for path, context in security_contexts(pod)
        if context.get("runAsUser") == 0 and not isinstance(context.get("runAsUser"), bool)
    ]


def seccomp_restricted(pod: PodAt) -> list[Finding]:
    if is_windows(pod):
        return []
    findings = seccomp_baseline(pod)
    pod_set = mapping(pod.security_context.get("seccompProfile")).get("type") in PROFILE_TYPES
    for path, context in container_contexts(pod):
        if context.get("seccompProfile") is None and not pod_set:
            findings.append(
                (
                    f"{path}.seccompProfile.type",
                    "is not set, and the pod's securityContext.seccompProfile is not "
                    "RuntimeDefault or Localhost either",
                )
            )
    return findings


def capabilities_restricted(pod: PodAt) -> list[Finding]:
    if is_windows(pod):
        return []
    findings = []
    for path, context in container_contexts(pod):
        capabilities = mapping(context.get("capabilities"))
        if "ALL" not in as_list(capabilities.get("drop")):
            findings.append((f"{path}.capabilities.drop", 'does not include "ALL"'))
        for index, capability in enumerate(as_list(capabilities.get("add"))):
            if capability != "NET_BIND_SERVICE":
                findings.append(
                    (
                        f"{path}.capabilities.add[{index}]",
                        f"adds {capability}",
                    )
                )
    return findings


@dataclass(frozen=True)
class Check:
    id: str  # Pod Security Admission's check id
    level: str
    requirement: str  # "forbids privileged containers": what the standard says, for the sentence
    run: Callable[[PodAt], list[Finding]]
    replaces: tuple[str, ...] = ()  # baseline checks this restricted one stands in for

    @property
    def rule(self) -> str:
        return f"{self.level}/{self.id}"


CHECKS = [
    Check("windowsHostProcess", BASELINE, "forbids HostProcess containers", host_process),
    Check("hostNamespaces", BASELINE,
          "forbids sharing the node's network, PID and IPC namespaces", host_namespaces),
    Check("privileged", BASELINE, "forbids privileged containers", privileged),
    Check("capabilities_baseline", BASELINE,
          "forbids adding capabilities beyond the container runtime's default set",
          capabilities_baseline),
    Check("hostPathVolumes", BASELINE, "forbids hostPath volumes", host_path_volumes),
    Check("hostPorts", BASELINE, "forbids host ports", host_ports),
    Check("appArmorProfile", BASELINE,
          "allows only the RuntimeDefault and Localhost AppArmor profiles", apparmor),
    Check("seLinuxOptions", BASELINE, "forbids custom SELinux users, roles and types", selinux),
    Check("procMount", BASELINE, "requires the default /proc masks", proc_mount_baseline),
    Check("seccompProfile_baseline", BASELINE, "forbids the Unconfined seccomp profile",
          seccomp_baseline),
    Check("sysctls", BASELINE, "allows only the safe, namespaced sysctls", sysctls),
    Check("hostProbesAndHostLifecycle", BASELINE,
          "forbids probes and lifecycle hooks aimed at another host", host_probes_and_lifecycle),
    Check("restrictedVolumes", RESTRICTED,
          "allows only configMap, csi, downwardAPI, emptyDir, ephemeral, image, "
          "persistentVolumeClaim, projected and secret volumes",
          restricted_volumes, replaces=("hostPathVolumes",)),
    Check("allowPrivilegeEscalation", RESTRICTED,
          "requires allowPrivilegeEscalation: false on every container",
          allow_privilege_escalation),
    Check("runAsNonRoot", RESTRICTED,
          "requires runAsNonRoot: true, on the pod or on every container", run_as_non_root),
    Check("runAsUser", RESTRICTED, "forbids running as user 0 (root)", run_as_user),
    Check("seccompProfile_restricted", RESTRICTED,
          "requires a RuntimeDefault or Localhost seccomp profile, on the pod or on every "
          "container", seccomp_restricted, replaces=("seccompProfile_baseline",)),
    Check("capabilities_restricted", RESTRICTED,
          'requires every container to drop "ALL" capabilities and add none but '
          "NET_BIND_SERVICE", capabilities_restricted, replaces=("capabilities_baseline",)),
    Check("procMount_restricted", RESTRICTED, "requires the default /proc masks", proc_mount,
          replaces=("procMount",)),
]  # fmt: skip


def checks_for(level: str) -> list[Check]:
    """The checks a level runs: baseline's, or restricted's with the baseline ones it replaces
    left out; none for privileged."""
    if level == BASELINE:
        return [check for check in CHECKS if check.level == BASELINE]
    if level == RESTRICTED:
        replaced = {id_ for check in CHECKS for id_ in check.replaces}
        return [check for check in CHECKS if check.id not in replaced]
    return []


def check_pod_security(obj: dict, level: str) -> list[Violation]:
    pod = pod_of(obj)
    checks = checks_for(level)
    if pod is None or not checks:
        return []
    name = describe(obj)
    return [
        Violation(
            object=name,
            field=field,
            rule=check.rule,
            message=f"{name}: {field} {problem}; the {level} Pod Security Standard "
            f"{check.requirement}.",
        )
        for check in checks
        for field, problem in check.run(pod)
    ]
