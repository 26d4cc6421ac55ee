"""The one place Kubernaut talks to Kubernetes clusters.

Every call has a timeout, and every failure becomes a ClusterError whose message is the cluster's
own sentence and whose `retryable` says whether trying again can help. Tests and the sandbox
cluster meet the rest of the code here.
"""

import contextlib
import json
import threading
from collections.abc import Iterator
from functools import partial

import urllib3
import yaml
from kubernetes import client as kube_client
from kubernetes import config as kube_config
from kubernetes import watch as kube_watch
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.discovery import CacheDecoder, CacheEncoder, LazyDiscoverer
from kubernetes.dynamic.exceptions import DynamicApiError, ResourceNotFoundError

from kubernaut import safe_yaml

FIELD_MANAGER = "kubernaut"
CONNECT_TIMEOUT = 5
READ_TIMEOUT = 30
# Watches are closed by the server after this, and opened again where they stopped.
WATCH_SECONDS = 20


class ClusterError(Exception):
    """A cluster could not do what was asked; the message says why in a person's words."""

    def __init__(self, message: str, *, retryable: bool = False, status: int | None = None):
        super().__init__(message)
        self.retryable = retryable
        self.status = status


def _server_message(error: ApiException) -> str:
    body = getattr(error, "body", None)
    if body:
        with contextlib.suppress(yaml.YAMLError):
            status = safe_yaml.load(body)
            if isinstance(status, dict) and status.get("message"):
                return str(status["message"])
        return str(body)[:500]
    return f"{error.status} {error.reason}"


@contextlib.contextmanager
def translated_errors(where: str) -> Iterator[None]:
    """`where` names the cluster in messages: "sandbox at https://..." or "at https://..."."""
    try:
        yield
    except ApiException as error:  # DynamicApiError is a subclass
        message = _server_message(error)
        if error.status in (401, 403):
            raise ClusterError(
                f"The cluster {where} refused Kubernaut's credentials ({error.status}): {message}",
                status=error.status,
            ) from None
        retryable = error.status in (429, 500, 502, 503, 504)
        raise ClusterError(message, retryable=retryable, status=error.status) from None
    except ResourceNotFoundError as error:
        raise ClusterError(f"The cluster does not serve this kind of object: {error}") from None
    except (urllib3.exceptions.HTTPError, OSError) as error:
        reason = getattr(error, "reason", None) or error
        raise ClusterError(
            f"The cluster {where} is unreachable: {reason}", retryable=True
        ) from None


# What each server offers (its discovery documents), per process, in memory: the kubernetes
# library's default is a file per cache name in the temp folder, which piled up (one per process
# and cluster) and was never removed. Kept as JSON because the library's resources hold the client
# that discovered them; each new client decodes its own.
_discovery: dict[str, str] = {}
_discovery_lock = threading.Lock()


class MemoryDiscoverer(LazyDiscoverer):
    """The kubernetes library's lazy discovery, its cache in this process's memory."""

    def _Discoverer__init_cache(self, refresh: bool = False) -> None:  # the library's private hook
        with _discovery_lock:
            cached = None if refresh else _discovery.get(self._server)
        if cached is None:
            self._cache = {}
            refresh = True
        else:
            self._cache = json.loads(cached, cls=partial(CacheDecoder, self.client))
        self._load_server_info()
        self.discover()
        if refresh:
            self._write_cache()

    @property
    def _server(self) -> str:
        return self.client.configuration.host

    def _write_cache(self) -> None:
        text = json.dumps(self._cache, cls=CacheEncoder)
        with _discovery_lock:
            _discovery[self._server] = text


def forget_discovery() -> None:
    """Drop what this process knows of every cluster's kinds (tests)."""
    with _discovery_lock:
        _discovery.clear()


class ClusterClient:
    """A connection to one cluster, made from the contents of a kubeconfig."""

    def __init__(
        self,
        kubeconfig: str,
        context: str = "",
        name: str = "",
        timeout: tuple[float, float] = (CONNECT_TIMEOUT, READ_TIMEOUT),
    ):
        """`timeout` (connect, read) in seconds bounds every request: pages that must answer
        quickly (the live state) pass a short one."""
        try:
            config_dict = safe_yaml.load(kubeconfig)
            self.api = kube_config.new_client_from_config_dict(
                config_dict, context=context or None, persist_config=False
            )
        except (ConfigException, yaml.YAMLError, TypeError, AttributeError) as error:
            raise ClusterError(f"The cluster's kubeconfig cannot be used: {error}") from None
        self.server = self.api.configuration.host
        # How messages name the cluster: by Kubernaut's name for it when there is one.
        self.where = f"{name} at {self.server}" if name else f"at {self.server}"
        # A default for requests that take no timeout of their own (discovery).
        self.timeout = timeout
        self.api.rest_client.pool_manager.connection_pool_kw["timeout"] = urllib3.Timeout(
            connect=timeout[0], read=timeout[1]
        )
        self._dynamic: DynamicClient | None = None

    @classmethod
    def for_cluster(
        cls, cluster, timeout: tuple[float, float] = (CONNECT_TIMEOUT, READ_TIMEOUT)
    ) -> "ClusterClient":
        return cls(cluster.kubeconfig, cluster.context, name=cluster.name, timeout=timeout)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.api.close()

    @property
    def dynamic(self) -> DynamicClient:
        if self._dynamic is None:
            with translated_errors(self.where):
                self._dynamic = DynamicClient(self.api, discoverer=MemoryDiscoverer)
        return self._dynamic

    def resource(self, api_version: str, kind: str):
        with translated_errors(self.where):
            try:
                return self.dynamic.resources.get(api_version=api_version, kind=kind)
            except ResourceNotFoundError:
                # The discovery cache may predate a CRD; look again once.
                self.dynamic.resources.invalidate_cache()
                return self.dynamic.resources.get(api_version=api_version, kind=kind)

    def apply(self, obj: dict, *, dry_run: bool = False) -> dict:
        """Server-side apply as field manager `kubernaut`, taking over conflicting fields.

        Kubernaut is the source of truth for what it deploys, as `kubectl apply --server-side
        --force-conflicts` would be.
        """
        resource = self.resource(obj["apiVersion"], obj["kind"])
        metadata = obj["metadata"]
        with translated_errors(self.where):
            result = resource.server_side_apply(
                body=obj,
                name=metadata["name"],
                namespace=metadata.get("namespace") if resource.namespaced else None,
                field_manager=FIELD_MANAGER,
                force_conflicts=True,
                dry_run="All" if dry_run else None,
                _request_timeout=self.timeout,
            )
        return result.to_dict()

    def get(self, api_version: str, kind: str, name: str, namespace: str | None) -> dict | None:
        resource = self.resource(api_version, kind)
        with translated_errors(self.where):
            try:
                found = resource.get(name=name, namespace=namespace, _request_timeout=self.timeout)
            except DynamicApiError as error:
                if error.status == 404:
                    return None
                raise
        return found.to_dict()

    def delete(self, api_version: str, kind: str, name: str, namespace: str | None) -> bool:
        """Delete an object, its dependents in the background (kubectl's default cascade).

        False when it was gone already.
        """
        resource = self.resource(api_version, kind)
        with translated_errors(self.server):
            try:
                resource.delete(
                    name=name,
                    namespace=namespace if resource.namespaced else None,
                    body={"propagationPolicy": "Background"},
                    _request_timeout=self.timeout,
                )
            except DynamicApiError as error:
                if error.status == 404:
                    return False
                raise
        return True

    def version(self) -> dict:
        """The server's version (GET /version), as the API spells it: gitVersion, platform..."""
        with translated_errors(self.where):
            answer = kube_client.VersionApi(self.api).get_code(_request_timeout=self.timeout)
        return self.api.sanitize_for_serialization(answer)

    def list(self, api_version: str, kind: str, namespace: str, **selectors) -> tuple[list, str]:
        """Objects of a kind in a namespace, and the resourceVersion to watch from."""
        resource = self.resource(api_version, kind)
        with translated_errors(self.where):
            found = resource.get(
                namespace=namespace, _request_timeout=self.timeout, **selectors
            ).to_dict()
        return found.get("items") or [], found.get("metadata", {}).get("resourceVersion", "")

    def watch(
        self, api_version: str, kind: str, namespace: str, resource_version: str
    ) -> Iterator[tuple[str, dict]]:
        """(event type, object) pairs from `resource_version` on, for WATCH_SECONDS at most.

        Raises ClusterError with status 410 when the version is too old (list again).
        """
        resource = self.resource(api_version, kind)
        watcher = kube_watch.Watch()
        with translated_errors(self.where):
            try:
                for event in self.dynamic.watch(
                    resource,
                    namespace=namespace,
                    resource_version=resource_version,
                    timeout=WATCH_SECONDS,
                    watcher=watcher,
                ):
                    if event["type"] == "ERROR":
                        status = event["raw_object"]
                        raise ClusterError(
                            status.get("message", "watch error"), status=status.get("code")
                        )
                    yield event["type"], event["raw_object"]
            finally:
                watcher.stop()
