"""Which registries a namespace pulls from.

An entry is a registry host (`registry.example.com`, `registry:5000`), optionally with a path
(`ghcr.io/acme`). An image matches when its repository is the entry or lies under it, compared
at `/` boundaries: unlike a plain prefix test (Gatekeeper's K8sAllowedRepos warns about this),
`ghcr.io/acme` does not admit `ghcr.io/acme-evil/x`, nor `registry.example.com` admit
`registry.example.com.attacker.net/x`.

Images are named as Docker names them: a first part with a `.` or `:`, or `localhost`, is the
registry; otherwise the image is on Docker Hub (`nginx` is `docker.io/library/nginx`).
"""

import re

from policies.kinds import describe
from policies.pods import pod_of
from policies.types import Policy, Violation

REGISTRY_PATTERN = re.compile(r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]+)?(/[a-z0-9._/-]+)?$")
REGISTRY_PATTERN_HELP = (
    "Give a registry as host[:port][/path], e.g. registry.example.com, registry:5000 or "
    "ghcr.io/acme; no https:// and no tag."
)
DOCKER_HUB = "docker.io"


def repository(image: str) -> str:
    """`host/path` of an image reference, without tag or digest, the host made explicit."""
    name = image.split("@", 1)[0]
    last_slash = name.rfind("/")
    if ":" in name[last_slash + 1 :]:
        name = name[: name.rindex(":")]
    first, slash, rest = name.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        host = first.lower()
        if host in ("index.docker.io", "registry-1.docker.io"):
            host = DOCKER_HUB
    else:
        host, rest = DOCKER_HUB, name
    if host == DOCKER_HUB and "/" not in rest:
        rest = f"library/{rest}"
    return f"{host}/{rest}"


def registry_of(image: str) -> str:
    return repository(image).split("/")[0]


def normalized_entry(entry: str) -> str:
    entry = entry.strip().rstrip("/").lower()
    return DOCKER_HUB if entry in ("index.docker.io", "registry-1.docker.io") else entry


def allowed(image: str, registries: tuple[str, ...]) -> bool:
    where = repository(image)
    for entry in map(normalized_entry, registries):
        if where == entry or where.startswith(entry + "/"):
            return True
    return False


def check_images(obj: dict, policy: Policy) -> list[Violation]:
    if not policy.allowed_registries:
        return []
    pod = pod_of(obj)
    if pod is None:
        return []
    name = describe(obj)
    violations = []
    for path, container in pod.containers():
        image = container.get("image")
        if not isinstance(image, str) or not image or allowed(image, policy.allowed_registries):
            continue
        violations.append(
            Violation(
                object=name,
                field=f"{path}.image",
                rule="allowed-registries",
                message=f"{name}: {path}.image is {image!r}, from {registry_of(image)}, "
                "which is not among the registries this namespace pulls from "
                f"({', '.join(policy.allowed_registries)}).",
            )
        )
    return violations
