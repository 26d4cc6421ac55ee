"""Where pods hide in rendered objects: the pod spec of each kind that has one, and its containers.

The kinds are those Pod Security Admission itself looks into (its DefaultPodSpecExtractor): a Pod,
the pod template of the built-in workload kinds, and a PodTemplate.
"""

from collections.abc import Iterator
from dataclasses import dataclass

from policies.kinds import group_of

# The path to the pod template (metadata + spec), or to the pod itself, per kind.
POD_PATHS: dict[str, tuple[str, ...]] = {
    "Pod": (),
    "PodTemplate": ("template",),
    "ReplicationController": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
}
CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")


@dataclass(frozen=True)
class PodAt:
    """A pod (or pod template) inside an object, with the dotted path leading to it."""

    metadata: dict
    spec: dict
    path: str  # "" for a Pod, "spec.template." for a Deployment (ends with a dot when not empty)

    def field(self, rest: str) -> str:
        return self.path + rest

    @property
    def security_context(self) -> dict:
        return mapping(self.spec.get("securityContext"))

    def containers(self) -> Iterator[tuple[str, dict]]:
        """(path, container) for every init, regular and ephemeral container, as PSA visits them."""
        for key in CONTAINER_LISTS:
            items = self.spec.get(key)
            if not isinstance(items, list):
                continue
            for index, container in enumerate(items):
                if isinstance(container, dict):
                    yield f"{self.path}spec.{key}[{index}]", container


def mapping(value) -> dict:
    """The value if it is a mapping, else an empty one: templates can put anything anywhere."""
    return value if isinstance(value, dict) else {}


def pod_of(obj: dict) -> PodAt | None:
    """The pod an object would create, or None for kinds that create none."""
    path = POD_PATHS.get(obj.get("kind"))
    # A Deployment in a custom API group is someone else's kind: it may hold anything.
    if path is None or group_of(obj) not in ("", "apps", "batch"):
        return None
    node = obj
    for key in path:
        node = mapping(node).get(key)
    node = mapping(node)
    prefix = "".join(f"{key}." for key in path)
    return PodAt(
        metadata=mapping(node.get("metadata")), spec=mapping(node.get("spec")), path=prefix
    )
