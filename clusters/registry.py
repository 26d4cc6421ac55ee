"""Does every container image of a manifest exist in the cluster's Docker registry?

Asked before anything is applied, so a deployment of a tag CI never pushed fails at once with
"image ... not found in registry ..." instead of waiting for ImagePullBackOff. It speaks the
registry v2 API: HEAD on the manifest, with an Accept header naming the OCI and Docker manifest
and index types (without it a registry answers 404 for an OCI image), and basic or token auth
when the registry asks for it.

A cluster names the one registry its images come from (its own registry or a pull-through
mirror), so an image's registry host, if it has one, is dropped and the rest is looked up there.
"""

from __future__ import annotations

import base64
import json
import re
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field

TIMEOUT_SECONDS = 5
MANIFEST_TYPES = ", ".join(
    [
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
    ]
)
# Where a pod spec sits in each kind that has one.
POD_SPEC_PATHS = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "ReplicationController": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
CHALLENGE_PARAMETER = re.compile(r'(\w+)="([^"]*)"')


class RegistryError(Exception):
    """The registry could not say whether an image exists (unreachable, refused, odd answer)."""


def images_of(objects: list[dict]) -> list[str]:
    """Every container image the objects would run, once each, in the order they appear."""
    images: list[str] = []
    for obj in objects:
        spec = obj
        for key in POD_SPEC_PATHS.get(obj.get("kind"), ()):
            spec = spec.get(key) if isinstance(spec, dict) else None
        if spec is obj or not isinstance(spec, dict):
            continue
        for kind in ("initContainers", "containers"):
            for container in spec.get(kind) or []:
                image = container.get("image")
                if image and image not in images:
                    images.append(image)
    return images


def split_image(image: str) -> tuple[str, str]:
    """`[host[:port]/]name[:tag][@digest]` -> (repository name, tag or digest); host dropped."""
    if "@" in image:
        name, reference = image.split("@", 1)
    else:
        last = image.rsplit("/", 1)[-1]
        name, reference = image.rsplit(":", 1) if ":" in last else (image, "latest")
    parts = name.split("/")
    # The first part is a host when it looks like one (docker's own rule).
    if len(parts) > 1 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"):
        parts = parts[1:]
    return "/".join(parts), reference


@dataclass
class Registry:
    """A Docker registry (v2 API), with the credentials it may ask for."""

    url: str
    username: str = ""
    password: str = ""
    timeout: float = TIMEOUT_SECONDS
    _bearer: dict[str, str] = field(default_factory=dict)  # scope -> token

    def __post_init__(self):
        if not self.url.startswith(("http://", "https://")):
            raise RegistryError(f"the registry address {self.url!r} is not an http(s) URL")
        self.url = self.url.rstrip("/")

    def has_image(self, image: str) -> bool:
        """True if the registry has the image's manifest; raises RegistryError if it cannot say."""
        name, reference = split_image(image)
        address = f"{self.url}/v2/{name}/manifests/{urllib.parse.quote(reference, safe=':')}"
        scope = f"repository:{name}:pull"
        status, challenge = self._head(address, self._authorization(scope))
        if status == 401 and challenge:
            status, challenge = self._head(address, self._answer(challenge, scope))
        if status == 200:
            return True
        if status == 404:
            return False
        if status == 401 and not self.username:
            raise RegistryError(f"registry {self.url} asks for credentials; the cluster has none")
        if status in (401, 403):
            raise RegistryError(f"registry {self.url} refused the credentials ({status})")
        raise RegistryError(f"registry {self.url} answered {status} for {image}")

    def _authorization(self, scope: str) -> str | None:
        if scope in self._bearer:
            return f"Bearer {self._bearer[scope]}"
        return None

    def _basic(self) -> str | None:
        if not self.username:
            return None
        pair = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(pair).decode()

    def _answer(self, challenge: str, scope: str) -> str | None:
        """The Authorization header that answers a WWW-Authenticate challenge."""
        scheme, _, rest = challenge.partition(" ")
        if scheme.lower() == "basic":
            return self._basic()
        if scheme.lower() != "bearer":
            raise RegistryError(f"registry {self.url} asks for unknown auth {scheme!r}")
        parameters = dict(CHALLENGE_PARAMETER.findall(rest))
        realm = parameters.pop("realm", "")
        if not realm.startswith(("http://", "https://")):
            raise RegistryError(f"registry {self.url} gave no usable token realm")
        query = {"service": parameters.get("service", ""), "scope": parameters.get("scope", scope)}
        request = urllib.request.Request(  # noqa: S310 - the scheme is checked above
            f"{realm}?{urllib.parse.urlencode(query)}", headers={"Accept": "application/json"}
        )
        basic = self._basic()
        if basic:
            request.add_header("Authorization", basic)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                body = json.loads(response.read())
        except urllib.error.HTTPError as error:
            raise RegistryError(
                f"the token service of registry {self.url} refused Kubernaut ({error.code})"
            ) from None
        except (OSError, ValueError) as error:
            raise RegistryError(f"cannot get a token for registry {self.url}: {error}") from None
        token = body.get("token") or body.get("access_token") if isinstance(body, dict) else None
        if not token:
            raise RegistryError(f"the token service of registry {self.url} sent no token")
        self._bearer[scope] = token
        return f"Bearer {token}"

    def _head(self, address: str, authorization: str | None) -> tuple[int, str]:
        request = urllib.request.Request(  # noqa: S310 - the scheme is checked in __post_init__
            address, method="HEAD", headers={"Accept": MANIFEST_TYPES}
        )
        if authorization:
            request.add_header("Authorization", authorization)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                return response.status, ""
        except urllib.error.HTTPError as error:
            return error.code, error.headers.get("WWW-Authenticate", "")
        except OSError as error:
            reason = getattr(error, "reason", None) or error
            raise RegistryError(f"registry {self.url} is unreachable: {reason}") from None


def missing_images_problem(cluster, objects: list[dict]) -> str | None:
    """None if the cluster names no registry or every image is there; else why not, one line."""
    if not cluster.registry_url:
        return None
    try:
        registry = Registry(
            cluster.registry_url, cluster.registry_username, cluster.registry_password
        )
    except RegistryError as error:
        return f"could not check images: {error}"
    missing = []
    for image in images_of(objects):
        try:
            if not registry.has_image(image):
                missing.append(image)
        except RegistryError as error:
            return f"could not check image {image}: {error}"
    if not missing:
        return None
    return "; ".join(f"image {image} not found in registry {registry.url}" for image in missing)
