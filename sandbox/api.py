"""The API verbs with a real API server's semantics, shared by HTTP handlers and controllers.

Everything about metadata (uid, resourceVersion, generation, managedFields),
defaulting, validation, status subresources, dry runs, garbage collection and
namespace deletion lives here; ``server.py`` only translates HTTP.
"""

from __future__ import annotations

import contextlib
import copy
import datetime
import ipaddress
import json
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from sandbox import patch as patches
from sandbox import schema
from sandbox.defaults import apply_defaults
from sandbox.resources import BY_KIND, BY_PLURAL, RESOURCES, Resource
from sandbox.store import Store

NAMESPACES = BY_PLURAL["namespaces"]
EVENTS = BY_PLURAL["events"]
SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


def now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_micro() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def random_suffix(n: int = 5) -> str:
    alphabet = "bcdfghjklmnpqrstvwxz2456789"  # the API server's generateName alphabet
    return "".join(secrets.choice(alphabet) for _ in range(n))


class ApiError(Exception):
    """Becomes a ``Status`` response body."""

    def __init__(
        self, code: int, reason: str, message: str, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        body["details"] = self.details or {}
        return body


def not_found(resource: Resource, name: str) -> ApiError:
    return ApiError(
        404,
        "NotFound",
        f'{resource.group_resource} "{name}" not found',
        {"name": name, "group": resource.group, "kind": resource.plural},
    )


def invalid(resource: Resource, name: str, causes: list[dict[str, str]]) -> ApiError:
    qualified = f"{resource.kind}.{resource.group}" if resource.group else resource.kind
    text = ", ".join(f"{c['field']}: {c['message']}" for c in causes)
    if len(causes) > 1:
        text = "[" + text + "]"
    return ApiError(
        422,
        "Invalid",
        f'{qualified} "{name}" is invalid: {text}',
        {"name": name, "group": resource.group, "kind": resource.kind, "causes": causes},
    )


def _without_nulls(value: Any) -> Any:
    """A copy without null fields: the real server decodes null as "unset" (Go zero value)."""
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def _spec_of(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in ("metadata", "status")}


class Api:
    """API verbs over a :class:`Store`. Thread-safe: each verb holds the store lock."""

    def __init__(self, store: Store | None = None) -> None:
        self.store = store or Store()
        self.lock = self.store.lock
        self._next_ip = 10
        self._ip_lock = threading.Lock()
        # (involved uid, reason, message) -> event name, to count repeats cheaply
        self._events: dict[tuple[Any, str, str], str] = {}
        # Admission plugins: hook(resource, obj, old) may mutate obj or raise ApiError; old is
        # None on create. Installed by sandbox.cluster_objects (ServiceAccount, Priority, quota).
        self.admission: list[Callable[[Resource, dict[str, Any], dict[str, Any] | None], None]] = []
        for name in SYSTEM_NAMESPACES:
            self.create(
                NAMESPACES,
                "",
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}},
                manager="sandbox",
            )

    # --- reads -------------------------------------------------------------------------

    def get(self, resource: Resource, namespace: str, name: str) -> dict[str, Any]:
        obj = self.store.get(resource, namespace, name)
        if obj is None:
            raise not_found(resource, name)
        return obj

    def find(self, resource: Resource, namespace: str, name: str) -> dict[str, Any] | None:
        return self.store.get(resource, namespace, name)

    def list(self, resource: Resource, namespace: str | None = None) -> list[dict[str, Any]]:
        return self.store.list(resource, namespace)

    # --- writes ------------------------------------------------------------------------

    def _check_namespace(self, resource: Resource, namespace: str) -> None:
        if resource.namespaced and self.store.get(NAMESPACES, "", namespace) is None:
            raise not_found(NAMESPACES, namespace)

    def _validate(self, resource: Resource, obj: dict[str, Any], strict: bool) -> None:
        name = obj["metadata"].get("name", "")
        try:
            schema.validate_schema(obj, strict)
        except schema.Invalid as exc:
            if exc.reason == "BadRequest":
                raise ApiError(
                    400,
                    "BadRequest",
                    f"{resource.kind} in version "
                    f'"{resource.version}" cannot be handled as a {resource.kind}: '
                    f"strict decoding error: {exc.causes[0]['message']}",
                ) from exc
            raise invalid(resource, name, exc.causes) from exc
        causes = schema.semantic_problems(resource, obj)
        if causes:
            raise invalid(resource, name, causes)

    def _check_body(self, resource: Resource, body: Any, namespace: str) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise ApiError(400, "BadRequest", "the body of the request was in an unknown format")
        body = _without_nulls(body)
        body.setdefault("apiVersion", resource.api_version)
        body.setdefault("kind", resource.kind)
        if (body["apiVersion"], body["kind"]) != (resource.api_version, resource.kind):
            raise ApiError(
                400,
                "BadRequest",
                f"the API version in the data ({body['apiVersion']}) does not match "
                f"the expected API version ({resource.api_version})",
            )
        meta = body.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise ApiError(400, "BadRequest", "metadata must be an object")
        if resource.namespaced:
            if meta.get("namespace") not in (None, "", namespace):
                raise ApiError(
                    400,
                    "BadRequest",
                    "the namespace of the provided object does "
                    "not match the namespace sent on the request",
                )
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
        return body

    def create(
        self,
        resource: Resource,
        namespace: str,
        body: Any,
        *,
        manager: str,
        dry_run: bool = False,
        strict: bool = False,
    ) -> dict[str, Any]:
        obj = self._check_body(resource, body, namespace)
        meta = obj["metadata"]
        with self.lock:
            if not meta.get("name") and meta.get("generateName"):
                meta["name"] = meta["generateName"] + random_suffix()
            name = meta.get("name") or ""
            if not name:
                raise invalid(
                    resource,
                    "",
                    [
                        {
                            "reason": "FieldValueRequired",
                            "field": "metadata.name",
                            "message": "Required value: name or generateName is required",
                        }
                    ],
                )
            problem = schema.name_problem(resource, name)
            if problem:
                raise invalid(
                    resource,
                    name,
                    [
                        {
                            "reason": "FieldValueInvalid",
                            "field": "metadata.name",
                            "message": f'Invalid value: "{name}": {problem}',
                        }
                    ],
                )
            self._check_namespace(resource, namespace)
            if self.store.get(resource, namespace, name) is not None:
                raise ApiError(
                    409,
                    "AlreadyExists",
                    f'{resource.group_resource} "{name}" already exists',
                    {"name": name, "group": resource.group, "kind": resource.plural},
                )
            for field in (
                "resourceVersion",
                "uid",
                "creationTimestamp",
                "deletionTimestamp",
                "generation",
                "managedFields",
            ):
                meta.pop(field, None)
            self._initial_status(resource, obj)
            meta["uid"] = str(uuid.uuid4())  # before defaulting: a Job's selector uses it
            apply_defaults(resource, obj)
            if resource.plural == "persistentvolumeclaims":
                self._default_storage_class(obj)
            for hook in self.admission:
                hook(resource, obj, None)
            self._validate(resource, obj, strict)
            meta["creationTimestamp"] = now()
            if resource.has_generation:
                meta["generation"] = 1
            if meta.get("managedFields") is None:
                patches.record_update(None, obj, manager, "", now())
                if resource.has_status and obj.get("status"):
                    pass  # status set by the server itself is not owned by the caller
            if resource.plural == "services":
                self._allocate_cluster_ip(obj)
            if dry_run:
                meta["resourceVersion"] = ""
                return obj
            return self.store.put(resource, obj, "ADDED")

    def _default_storage_class(self, claim: dict[str, Any]) -> None:
        """The DefaultStorageClass admission plugin: an unset class becomes the default one."""
        spec = claim.get("spec")
        if not isinstance(spec, dict) or "storageClassName" in spec:
            return
        from sandbox.volumes import default_class_name  # volumes builds on this module

        name = default_class_name(self)
        if name:
            spec["storageClassName"] = name

    def _initial_status(self, resource: Resource, obj: dict[str, Any]) -> None:
        if resource.plural == "namespaces":
            obj["status"] = {"phase": "Active"}
        elif resource.plural == "services":
            obj["status"] = {"loadBalancer": {}}
        elif resource.plural == "pods":
            obj["status"] = {"phase": "Pending", "qosClass": "BestEffort"}
        elif resource.plural in ("persistentvolumeclaims", "persistentvolumes"):
            obj["status"] = {"phase": "Pending"}
        elif resource.has_status:
            obj.pop("status", None)

    def _allocate_cluster_ip(self, obj: dict[str, Any]) -> None:
        spec = obj.setdefault("spec", {})
        if spec.get("clusterIP") == "None" or spec.get("type") == "ExternalName":
            return
        if not spec.get("clusterIP"):
            with self._ip_lock:
                self._next_ip += 1
                ip = ipaddress.IPv4Address("10.96.0.0") + self._next_ip
            spec["clusterIP"] = str(ip)
        spec["clusterIPs"] = [spec["clusterIP"]]
        if spec.get("type") in ("NodePort", "LoadBalancer"):
            for i, port in enumerate(spec.get("ports") or []):
                port.setdefault("nodePort", 30000 + (self._next_ip * 7 + i) % 2767)

    def reserve_cluster_ips(self) -> None:
        """Allocate new cluster IPs after those already taken (by objects loaded from disk)."""
        base = int(ipaddress.IPv4Address("10.96.0.0"))
        for service in self.list(BY_PLURAL["services"]):
            ip = (service.get("spec") or {}).get("clusterIP", "")
            with contextlib.suppress(ValueError):
                self._next_ip = max(self._next_ip, int(ipaddress.IPv4Address(ip)) - base)

    def update(
        self,
        resource: Resource,
        namespace: str,
        name: str,
        body: Any,
        *,
        manager: str,
        subresource: str = "",
        dry_run: bool = False,
        strict: bool = False,
    ) -> dict[str, Any]:
        obj = self._check_body(resource, body, namespace)
        with self.lock:
            old = self.get(resource, namespace, name)
            if obj["metadata"].get("name", name) != name:
                raise ApiError(
                    400,
                    "BadRequest",
                    "the name of the object "
                    f"({obj['metadata'].get('name')}) does not match the name on "
                    f"the URL ({name})",
                )
            _check_version(resource, name, obj, old)
            return self._commit(
                resource, old, obj, manager, subresource, dry_run, strict, record=True
            )

    def _commit(
        self,
        resource: Resource,
        old: dict[str, Any],
        new: dict[str, Any],
        manager: str,
        subresource: str,
        dry_run: bool,
        strict: bool,
        record: bool,
    ) -> dict[str, Any]:
        """Store ``new`` as the next version of ``old``, keeping server-owned metadata."""
        meta, old_meta = new.setdefault("metadata", {}), old["metadata"]
        if subresource == "status":
            status = new.get("status")
            new = copy.deepcopy(old)
            if status is None:
                new.pop("status", None)
            else:
                new["status"] = status
            meta = new["metadata"]
        elif resource.has_status or resource.plural == "namespaces":
            if "status" in old:
                new["status"] = copy.deepcopy(old["status"])
            else:
                new.pop("status", None)
        for field in (
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "generation",
            "namespace",
            "name",
        ):
            if field in old_meta:
                meta[field] = old_meta[field]
            else:
                meta.pop(field, None)
        if resource.plural == "services":
            spec = new.setdefault("spec", {})
            for field in ("clusterIP", "clusterIPs"):
                if field in (old.get("spec") or {}):
                    spec[field] = old["spec"][field]
        apply_defaults(resource, new)
        for field in ("labels", "annotations"):
            if meta.get(field) == {}:
                del meta[field]  # the real server serialises empty maps as absent
        if record:
            patches.record_update(old, new, manager, subresource, now())
        if subresource != "status":
            for hook in self.admission:
                hook(resource, new, old)
            self._validate(resource, new, strict)
            self._check_immutable(resource, old, new)
        if resource.has_generation and _spec_of(new) != _spec_of(old):
            meta["generation"] = old_meta.get("generation", 1) + 1
        if new == old:
            return new  # no-op writes do not bump resourceVersion, like a real server
        if dry_run:
            return new
        return self.store.put(resource, new, "MODIFIED")

    def _check_immutable(
        self, resource: Resource, old: dict[str, Any], new: dict[str, Any]
    ) -> None:
        fields = {
            "deployments": "selector",
            "replicasets": "selector",
            "statefulsets": "selector",
            "daemonsets": "selector",
            "jobs": "template",
        }
        field = fields.get(resource.plural)
        if field is None:
            return
        before = (old.get("spec") or {}).get(field)
        after = (new.get("spec") or {}).get(field)
        if resource.plural == "jobs":
            # The job controller adds its own labels; only the pod spec is compared.
            before, after = (before or {}).get("spec"), (after or {}).get("spec")
        if before != after:
            shown = json.dumps(after, separators=(",", ":"))
            raise invalid(
                resource,
                new["metadata"].get("name", ""),
                [
                    {
                        "reason": "FieldValueInvalid",
                        "field": f"spec.{field}",
                        "message": f"Invalid value: {shown}: field is immutable",
                    }
                ],
            )

    def patch(
        self,
        resource: Resource,
        namespace: str,
        name: str,
        patch_type: str,
        body: Any,
        *,
        manager: str,
        subresource: str = "",
        dry_run: bool = False,
        force: bool = False,
        strict: bool = False,
    ) -> dict[str, Any]:
        with self.lock:
            old = self.find(resource, namespace, name)
            if patch_type == "apply":
                return self._apply(
                    resource,
                    namespace,
                    name,
                    old,
                    body,
                    manager,
                    subresource,
                    dry_run,
                    force,
                    strict,
                )
            if old is None:
                raise not_found(resource, name)
            root = schema.root_schema(resource.api_version, resource.kind)
            try:
                if patch_type == "json":
                    new = patches.json_patch(old, body)
                elif patch_type == "merge":
                    new = patches.merge_patch(old, body)
                else:
                    new = patches.strategic_merge_patch(old, body, root)
            except patches.PatchError as exc:
                raise ApiError(422, "Invalid", str(exc)) from exc
            if not isinstance(new, dict):
                raise ApiError(400, "BadRequest", "the patch did not produce an object")
            _check_version(resource, name, new, old)
            new = self._check_body(resource, new, namespace)
            return self._commit(
                resource, old, new, manager, subresource, dry_run, strict, record=True
            )

    def _apply(
        self,
        resource: Resource,
        namespace: str,
        name: str,
        old: dict[str, Any] | None,
        body: Any,
        manager: str,
        subresource: str,
        dry_run: bool,
        force: bool,
        strict: bool,
    ) -> dict[str, Any]:
        if not manager:
            raise ApiError(
                400,
                "BadRequest",
                "PATCH, application/apply-patch+yaml requires fieldManager to be set",
            )
        body = self._check_body(resource, body, namespace)
        body_name = body["metadata"].get("name")
        if body_name != name:
            raise ApiError(
                400,
                "BadRequest",
                f"the name of the object ({body_name}) does not match the name on the URL ({name})",
            )
        try:
            if old is None:
                if subresource:
                    raise not_found(resource, name)
                applied = patches.apply(None, body, manager, force, subresource, now())
                managed = applied["metadata"].pop("managedFields", None)
                created = self.create(
                    resource, namespace, applied, manager=manager, dry_run=True, strict=strict
                )
                if managed:
                    created["metadata"]["managedFields"] = managed
                else:
                    created["metadata"].pop("managedFields", None)
                if dry_run:
                    return created
                created["metadata"].pop("resourceVersion", None)
                return self.store.put(resource, created, "ADDED")
            new = patches.apply(old, body, manager, force, subresource, now())
        except patches.ApplyConflict as exc:
            paths = [(m, patches.describe_path(p)) for m, p in exc.conflicts]
            lines = [f'conflict with "{m}": {p}' for m, p in paths]
            head = f"Apply failed with {len(paths)} conflict{'s' if len(paths) > 1 else ''}: "
            message = head + ("\n".join(["", *lines]) if len(lines) > 1 else lines[0])
            raise ApiError(
                409,
                "Conflict",
                message,
                {
                    "causes": [
                        {
                            "reason": "FieldManagerConflict",
                            "message": f'conflict with "{m}" using {resource.api_version}',
                            "field": p,
                        }
                        for m, p in paths
                    ]
                },
            ) from exc
        return self._commit(resource, old, new, manager, subresource, dry_run, strict, record=False)

    # --- scale subresource ----------------------------------------------------------------

    def scale_of(self, resource: Resource, obj: dict[str, Any]) -> dict[str, Any]:
        meta = obj["metadata"]
        selector = ((obj.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
        return {
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": {
                k: meta[k]
                for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                if k in meta
            },
            "spec": {"replicas": (obj.get("spec") or {}).get("replicas", 0)},
            "status": {
                "replicas": (obj.get("status") or {}).get("replicas", 0),
                "selector": ",".join(f"{k}={v}" for k, v in selector.items()),
            },
        }

    def write_scale(
        self,
        resource: Resource,
        namespace: str,
        name: str,
        patch_type: str | None,
        body: Any,
        manager: str,
        dry_run: bool,
    ) -> dict[str, Any]:
        with self.lock:
            obj = self.get(resource, namespace, name)
            scale = self.scale_of(resource, obj)
            if patch_type is None:
                new_scale = body
            elif patch_type == "json":
                new_scale = patches.json_patch(scale, body)
            else:
                new_scale = patches.merge_patch(scale, body)
            replicas = ((new_scale or {}).get("spec") or {}).get("replicas")
            if not isinstance(replicas, int) or replicas < 0:
                raise invalid(
                    resource,
                    name,
                    [
                        {
                            "reason": "FieldValueInvalid",
                            "field": "spec.replicas",
                            "message": f"Invalid value: {replicas}: must be "
                            "greater than or equal to 0",
                        }
                    ],
                )
            new = copy.deepcopy(obj)
            new["spec"]["replicas"] = replicas
            stored = self._commit(resource, obj, new, manager, "", dry_run, False, record=True)
            return self.scale_of(resource, stored)

    # --- delete ------------------------------------------------------------------------

    def delete(
        self,
        resource: Resource,
        namespace: str,
        name: str,
        *,
        propagation: str | None = None,
        dry_run: bool = False,
        preconditions: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        with self.lock:
            obj = self.get(resource, namespace, name)
            pre = preconditions or {}
            if pre.get("uid") and pre["uid"] != obj["metadata"]["uid"]:
                raise ApiError(
                    409,
                    "Conflict",
                    f"Precondition failed: UID in precondition: "
                    f"{pre['uid']}, UID in object meta: {obj['metadata']['uid']}",
                )
            if (
                pre.get("resourceVersion")
                and pre["resourceVersion"] != obj["metadata"]["resourceVersion"]
            ):
                raise ApiError(
                    409,
                    "Conflict",
                    "Precondition failed: resourceVersion in "
                    f"precondition: {pre['resourceVersion']}, resourceVersion in "
                    f"object meta: {obj['metadata']['resourceVersion']}",
                )
            if dry_run:
                return obj
            if resource.plural == "namespaces":
                if name in ("default", "kube-system"):
                    raise ApiError(
                        403,
                        "Forbidden",
                        f'namespaces "{name}" is forbidden: this namespace may not be deleted',
                        {"name": name, "kind": "namespaces"},
                    )
                for other in RESOURCES:
                    if other.namespaced:
                        for item in self.store.list(other, name):
                            self.store.put(other, item, "DELETED")
                obj["metadata"]["deletionTimestamp"] = now()
                obj["status"] = {"phase": "Terminating"}
                return self.store.put(resource, obj, "DELETED")
            self._delete_tree(resource, obj, propagation or "Background")
            obj["metadata"]["deletionTimestamp"] = now()
            return obj

    def _delete_tree(self, resource: Resource, obj: dict[str, Any], propagation: str) -> None:
        uid = obj["metadata"]["uid"]
        namespace = obj["metadata"].get("namespace", "")
        for other in RESOURCES:
            if not other.namespaced:
                continue
            for dep in self.store.list(other, namespace or None):
                refs = dep["metadata"].get("ownerReferences") or []
                if not any(r.get("uid") == uid for r in refs):
                    continue
                if propagation == "Orphan":
                    dep["metadata"]["ownerReferences"] = [r for r in refs if r.get("uid") != uid]
                    if not dep["metadata"]["ownerReferences"]:
                        del dep["metadata"]["ownerReferences"]
                    self.store.put(other, dep, "MODIFIED")
                elif len(refs) == 1:
                    self._delete_tree(other, dep, "Background")
                else:
                    dep["metadata"]["ownerReferences"] = [r for r in refs if r.get("uid") != uid]
                    self.store.put(other, dep, "MODIFIED")
        self.store.put(resource, obj, "DELETED")

    # --- helpers for controllers ---------------------------------------------------------

    def put_status(
        self, resource: Resource, obj: dict[str, Any], status: dict[str, Any], manager: str
    ) -> dict[str, Any] | None:
        """Write ``status`` unless the object changed or vanished meanwhile (then skip)."""
        with self.lock:
            current = self.find(
                resource, obj["metadata"].get("namespace", ""), obj["metadata"]["name"]
            )
            if current is None or current["metadata"]["uid"] != obj["metadata"]["uid"]:
                return None
            if current.get("status") == status:
                return current
            current["status"] = status
            return self.store.put(resource, current, "MODIFIED")

    def _event_id(self) -> int:
        # Like the kubelet's recorder: names sort in time order, so lists read chronologically.
        self._last_event_id = max(time.time_ns(), getattr(self, "_last_event_id", 0) + 1)
        return self._last_event_id

    def record_event(
        self, involved: dict[str, Any], type_: str, reason: str, message: str, component: str
    ) -> None:
        """Record a core/v1 Event, counting repeats the way the kubelet's recorder does."""
        meta = involved["metadata"]
        namespace = meta.get("namespace") or "default"
        with self.lock:
            if self.find(NAMESPACES, "", namespace) is None:
                return
            stamp = now()
            key = (meta.get("uid"), reason, message)
            seen = self._events.get(key)
            event = self.store.get(EVENTS, namespace, seen) if seen else None
            if event is not None:
                event["count"] = event.get("count", 1) + 1
                event["lastTimestamp"] = stamp
                self.store.put(EVENTS, event, "MODIFIED")
                return
            resource = BY_KIND[(involved["apiVersion"], involved["kind"])]
            ref = {
                "kind": involved["kind"],
                "namespace": namespace,
                "name": meta["name"],
                "uid": meta.get("uid"),
                "apiVersion": involved["apiVersion"],
                "resourceVersion": meta.get("resourceVersion"),
            }
            if resource.plural == "pods":
                container = involved["spec"]["containers"][0]["name"]
                ref["fieldPath"] = f"spec.containers{{{container}}}"
            event = {
                "apiVersion": "v1",
                "kind": "Event",
                "metadata": {
                    "name": f"{meta['name']}.{self._event_id():x}",
                    "namespace": namespace,
                    "uid": str(uuid.uuid4()),
                    "creationTimestamp": stamp,
                },
                "involvedObject": ref,
                "reason": reason,
                "message": message,
                "source": {"component": component},
                "firstTimestamp": stamp,
                "lastTimestamp": stamp,
                "count": 1,
                "type": type_,
                "eventTime": None,
                "reportingComponent": component,
                "reportingInstance": "",
            }
            if component == "kubelet":
                event["source"]["host"] = "sandbox-node"
            self._events[key] = event["metadata"]["name"]
            self.store.put(EVENTS, event, "ADDED")


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def _check_version(resource: Resource, name: str, new: dict[str, Any], old: dict[str, Any]) -> None:
    """409 when a write names a resourceVersion that is no longer the stored one."""
    rv = (new.get("metadata") or {}).get("resourceVersion")
    if rv and rv != old["metadata"]["resourceVersion"]:
        raise ApiError(
            409,
            "Conflict",
            f'Operation cannot be fulfilled on {resource.group_resource} "{name}": the object '
            "has been modified; please apply your changes to the latest version and try again",
            {"name": name, "group": resource.group, "kind": resource.plural},
        )
