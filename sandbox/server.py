"""HTTP front end: routing, authentication, discovery, content types and Status errors.

Built on the standard library's ThreadingHTTPServer (HTTP/1.1; watches are
streamed with chunked transfer encoding).
"""

from __future__ import annotations

import base64
import contextlib
import copy
import json
import secrets
import socket
import ssl
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

from sandbox import (
    auth,
    cluster_objects,
    conversion,
    openapi,
    patch,
    persistence,
    protobuf,
    schema,
    tables,
    tls,
)
from sandbox.api import Api, ApiError, dumps, not_found
from sandbox.controllers import Controllers
from sandbox.resources import BY_PATH, Resource, group_versions, resources_in
from sandbox.selectors import SelectorError, field_matcher, label_matcher
from sandbox.store import Gone, WatchEvent

VERSION = {
    "major": "1",
    "minor": "37",
    "emulationMajor": "1",
    "emulationMinor": "37",
    "minCompatibilityMajor": "1",
    "minCompatibilityMinor": "36",
    "gitVersion": "v1.37.0-sandbox",
    "gitCommit": "sandbox",
    "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z",
    "goVersion": "go1.25.3",
    "compiler": "gc",
    "platform": "linux/amd64",
}
PATCH_TYPES = {
    "application/json-patch+json": "json",
    "application/merge-patch+json": "merge",
    "application/strategic-merge-patch+json": "strategic",
    "application/apply-patch+yaml": "apply",
}
UNAUTHENTICATED = ("/healthz", "/livez", "/readyz")
# A client that goes away (a watch it stops reading, say) is normal, not an error to report.
DISCONNECTED = (BrokenPipeError, ConnectionResetError, ssl.SSLEOFError, ssl.SSLZeroReturnError)


def _status_ok(resource: Resource, obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj["metadata"]
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": {
            "name": meta["name"],
            "group": resource.group,
            "kind": resource.plural,
            "uid": meta.get("uid"),
        },
    }


def _discovery_resources(group: str, version: str) -> dict[str, Any]:
    out = []
    for r in resources_in(group, version):
        verbs = list(r.verbs)
        entry: dict[str, Any] = {
            "name": r.plural,
            "singularName": r.singular,
            "namespaced": r.namespaced,
            "kind": r.kind,
            "verbs": verbs,
        }
        if r.short_names:
            entry["shortNames"] = list(r.short_names)
        if r.categories:
            entry["categories"] = list(r.categories)
        out.append(entry)
        if r.has_status or r.plural == "namespaces":
            out.append(
                {
                    "name": f"{r.plural}/status",
                    "singularName": "",
                    "namespaced": r.namespaced,
                    "kind": r.kind,
                    "verbs": ["get", "patch", "update"],
                }
            )
        if r.plural == "pods":
            out.append(
                {
                    "name": "pods/log",
                    "singularName": "",
                    "namespaced": True,
                    "kind": "Pod",
                    "verbs": ["get"],
                }
            )
        if r.plural in ("deployments", "replicasets", "statefulsets"):
            out.append(
                {
                    "name": f"{r.plural}/scale",
                    "singularName": "",
                    "namespaced": True,
                    "group": "autoscaling",
                    "version": "v1",
                    "kind": "Scale",
                    "verbs": ["get", "patch", "update"],
                }
            )
    gv = f"{group}/{version}" if group else version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": out}


def _api_groups() -> dict[str, Any]:
    groups = []
    for group, versions in group_versions().items():
        if not group:
            continue
        entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
        groups.append({"name": group, "versions": entries, "preferredVersion": entries[0]})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: SandboxHTTPServer

    def setup(self) -> None:
        self.request.settimeout(30)
        try:
            self.request.do_handshake()
        finally:
            self.request.settimeout(None)
        super().setup()

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.sandbox.verbose:
            super().log_message(format, *args)

    # --- plumbing ------------------------------------------------------------------------

    def _send(self, code: int, body: Any, content_type: str = "application/json") -> None:
        if self.served is not None:
            body = conversion.to_served(self.served, body)
        data = body if isinstance(body, bytes) else dumps(body)
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Audit-Id", secrets.token_hex(8))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _error(self, exc: ApiError) -> None:
        self._send(exc.code, exc.status())

    def _body(self) -> bytes:
        return self.raw_body

    def _parsed_body(self) -> Any:
        raw = self._body()
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        if "protobuf" in ctype:
            try:
                return protobuf.decode(raw)
            except (protobuf.Unsupported, UnicodeDecodeError, KeyError) as exc:
                # kubectl's generator commands have no JSON fallback; say so clearly.
                raise ApiError(
                    415,
                    "UnsupportedMediaType",
                    f"the sandbox cannot decode this protobuf body ({exc}); send JSON or YAML, "
                    "e.g. with kubectl apply --server-side -f or kubectl create -f",
                ) from exc
        if "cbor" in ctype:
            raise ApiError(
                415,
                "UnsupportedMediaType",
                "the body of the request was in an unknown format - accepted media types "
                "include: application/json, application/yaml",
            )
        try:
            if ctype == "application/apply-patch+yaml" or ctype.endswith("yaml"):
                return yaml.safe_load(raw)
            return json.loads(raw) if raw else None
        except (ValueError, yaml.YAMLError) as exc:
            raise ApiError(400, "BadRequest", f"error decoding request body: {exc}") from exc

    def _object_body(self) -> Any:
        """The body of a create, an update or an apply: an object, in the stored version."""
        body = self._parsed_body()
        return body if self.served is None else conversion.to_stored(self.served, body)

    def _patch_converted(
        self, resource: Resource, namespace: str, name: str, patch_type: str, manager: str, sub: str
    ) -> dict[str, Any]:
        """A patch written against the served version: applied to the object as served, then
        stored, as kube-apiserver does for a kind it stores in another version."""
        api = self.server.sandbox.api
        body = self._parsed_body()
        with api.lock:
            current = conversion.to_served(self.served, api.get(resource, namespace, name))
            try:
                if patch_type == "json":
                    patched = patch.json_patch(current, body)
                elif patch_type == "merge":
                    patched = patch.merge_patch(current, body)
                else:
                    root = schema.root_schema(self.served.api_version, self.served.kind)
                    patched = patch.strategic_merge_patch(current, body, root)
            except patch.PatchError as exc:
                raise ApiError(422, "Invalid", str(exc)) from exc
            if not isinstance(patched, dict):
                raise ApiError(400, "BadRequest", "the patch did not produce an object")
            return api.update(
                resource,
                namespace,
                name,
                conversion.to_stored(self.served, patched),
                manager=manager,
                subresource=sub,
                **self._flags(),
            )

    def do_GET(self) -> None:  # noqa: N802
        self._dispatch("GET")

    def do_HEAD(self) -> None:  # noqa: N802
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def do_PUT(self) -> None:  # noqa: N802
        self._dispatch("PUT")

    def do_PATCH(self) -> None:  # noqa: N802
        self._dispatch("PATCH")

    def do_DELETE(self) -> None:  # noqa: N802
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        self.served = None  # set by _route for a kind served in a version other than stored
        url = urllib.parse.urlsplit(self.path)
        self.query = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query).items()}
        path = url.path.rstrip("/") or "/"
        # Read the body even if the request fails early, so a kept-alive connection stays in sync.
        length = int(self.headers.get("Content-Length") or 0)
        self.raw_body = self.rfile.read(length) if length else b""
        try:
            if path not in UNAUTHENTICATED:
                auth = self.headers.get("Authorization", "")
                if auth != f"Bearer {self.server.sandbox.token}":
                    raise ApiError(401, "Unauthorized", "Unauthorized")
            self._route(method, path)
        except ApiError as exc:
            self._error(exc)
        except DISCONNECTED:
            self.close_connection = True
        except Exception as exc:  # a bug must still produce a Status, not a hung client
            self._error(ApiError(500, "InternalError", f"Internal error occurred: {exc!r}"))
            raise

    # --- routing ---------------------------------------------------------------------------

    def _route(self, method: str, path: str) -> None:
        parts = path.strip("/").split("/") if path != "/" else []
        if path in UNAUTHENTICATED:
            return self._send(200, b"ok", "text/plain; charset=utf-8")
        if path == "/version":
            return self._send(200, VERSION)
        if path == "/api":
            return self._send(
                200,
                {
                    "kind": "APIVersions",
                    "versions": ["v1"],
                    "serverAddressByClientCIDRs": [
                        {"clientCIDR": "0.0.0.0/0", "serverAddress": self.server.sandbox.address}
                    ],
                },
            )
        if path == "/apis":
            return self._send(200, _api_groups())
        if parts and parts[0] == "openapi":
            return self._openapi(parts[1:])
        if len(parts) >= 2 and parts[0] == "api" and parts[1] == "v1":
            group, version, rest = "", "v1", parts[2:]
        elif len(parts) >= 3 and parts[0] == "apis":
            group, version, rest = parts[1], parts[2], parts[3:]
        elif len(parts) == 2 and parts[0] == "apis" and parts[1] in group_versions():
            versions = group_versions()[parts[1]]
            entries = [{"groupVersion": f"{parts[1]}/{v}", "version": v} for v in versions]
            return self._send(
                200,
                {
                    "kind": "APIGroup",
                    "apiVersion": "v1",
                    "name": parts[1],
                    "versions": entries,
                    "preferredVersion": entries[0],
                },
            )
        else:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if version not in group_versions().get(group, []):
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if not rest:
            return self._send(200, _discovery_resources(group, version))
        namespace = ""
        namespace_subresource = group == "" and len(rest) == 3 and rest[2] in ("status", "finalize")
        if rest[0] == "namespaces" and len(rest) >= 3 and not namespace_subresource:
            namespace, rest = rest[1], rest[2:]
        resource = BY_PATH.get((group, version, rest[0]))
        if resource is None or (namespace and not resource.namespaced) or len(rest) > 3:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        name = rest[1] if len(rest) > 1 else ""
        sub = rest[2] if len(rest) > 2 else ""
        scalable = resource.plural in ("deployments", "replicasets", "statefulsets")
        known = {"status", "finalize"} if resource.has_status else set()
        if resource.plural == "namespaces":
            known = {"status", "finalize"}
        if scalable:
            known.add("scale")
        if resource.plural == "pods":
            known.add("log")
        if sub and sub not in known:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        stored = conversion.stored_resource(resource)
        if stored is not resource:
            self.served, resource = resource, stored
        self._resource(method, resource, namespace, name, sub)

    def _openapi(self, parts: list[str]) -> None:
        if parts == ["v3"]:
            return self._send(200, openapi.root_index())
        if parts[:1] == ["v3"] and len(parts) > 1:
            doc = openapi.group_version_document("/".join(parts[1:]))
            if doc is not None:
                return self._send(200, doc)
        raise ApiError(404, "NotFound", "the server could not find the requested resource")

    # --- resource verbs ------------------------------------------------------------------

    def _manager(self) -> str:
        manager = self.query.get("fieldManager")
        if manager:
            return manager
        agent = self.headers.get("User-Agent", "unknown")
        return agent.split("/")[0][:128]

    def _flag(self, name: str) -> bool:
        return self.query.get(name, "").lower() in ("true", "1")

    def _flags(self) -> dict[str, Any]:
        return {
            "dry_run": self.query.get("dryRun") == "All",
            "strict": self.query.get("fieldValidation") == "Strict",
        }

    def _resource(
        self, method: str, resource: Resource, namespace: str, name: str, sub: str
    ) -> None:
        api = self.server.sandbox.api
        if resource.verbs == ("create",):  # access reviews: computed, never stored
            if method != "POST" or name:
                raise ApiError(
                    405,
                    "MethodNotAllowed",
                    "the server does not allow this method on the requested resource",
                )
            body = self._parsed_body()
            return self._send(
                201, auth.review(self.server.sandbox, resource, namespace, body, self.headers)
            )
        if resource.plural == "namespaces" and sub == "finalize":
            sub = ""
        if sub == "log" and method == "GET":
            return self._logs(namespace, name)
        if sub == "scale":
            return self._scale(method, resource, namespace, name)
        if method == "GET" and (not name or self._flag("watch")):
            if name:
                self.query["fieldSelector"] = ",".join(
                    filter(None, [self.query.get("fieldSelector"), f"metadata.name={name}"])
                )
            if self._flag("watch"):
                return self._watch(resource, namespace)
            return self._list(resource, namespace)
        if method == "GET":
            obj = api.get(resource, namespace, name)
            if "as=Table" in (self.headers.get("Accept") or ""):  # a one-row Table, as for lists
                meta = {"resourceVersion": obj["metadata"].get("resourceVersion", "")}
                obj = tables.table(resource, [obj], meta, self.query.get("includeObject"))
            return self._send(200, obj)
        if method == "POST" and not name:
            obj = api.create(
                resource, namespace, self._object_body(), manager=self._manager(), **self._flags()
            )
            return self._send(201, obj)
        if method == "PUT" and name:
            obj = api.update(
                resource,
                namespace,
                name,
                self._object_body(),
                manager=self._manager(),
                subresource=sub,
                **self._flags(),
            )
            return self._send(200, obj)
        if method == "PATCH" and name:
            ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
            if ctype not in PATCH_TYPES:
                raise ApiError(
                    415,
                    "UnsupportedMediaType",
                    f"the body of the request was in an unknown format - accepted "
                    f"media types include: {', '.join(PATCH_TYPES)}",
                )
            patch_type = PATCH_TYPES[ctype]
            existed = patch_type == "apply" and api.find(resource, namespace, name) is not None
            manager = self.query.get("fieldManager") or (
                "" if patch_type == "apply" else self._manager()
            )
            if self.served is not None and patch_type != "apply":
                obj = self._patch_converted(resource, namespace, name, patch_type, manager, sub)
                return self._send(200, obj)
            obj = api.patch(
                resource,
                namespace,
                name,
                patch_type,
                self._object_body(),
                manager=manager,
                subresource=sub,
                force=self._flag("force"),
                **self._flags(),
            )
            created = patch_type == "apply" and not existed
            return self._send(201 if created else 200, obj)
        if method == "DELETE":
            body = self._parsed_body() or {}
            dry = self.query.get("dryRun") == "All" or "All" in (body.get("dryRun") or [])
            propagation = self.query.get("propagationPolicy") or body.get("propagationPolicy")
            if body.get("orphanDependents") is True:
                propagation = "Orphan"
            if not name:
                return self._delete_collection(resource, namespace, propagation, dry)
            obj = api.delete(
                resource,
                namespace,
                name,
                propagation=propagation,
                dry_run=dry,
                preconditions=body.get("preconditions"),
            )
            # Kinds whose registry returns the deleted object (the typed clients expect it).
            if resource.plural in (
                "namespaces",
                "pods",
                "persistentvolumeclaims",
                "persistentvolumes",
                "storageclasses",
            ):
                return self._send(200, obj)
            return self._send(200, _status_ok(resource, obj))
        raise ApiError(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
        )

    def _logs(self, namespace: str, name: str) -> None:
        """pods/log: tailLines, sinceSeconds, sinceTime, timestamps, limitBytes, previous, follow.

        With ``follow=true`` the response stays open and the (simulated) container writes a line
        every ready delay (at least 0.1 s) until it stops or the client goes away; nothing runs
        while nobody follows.
        """
        controllers = self.server.sandbox.controllers
        container, entries = controllers.log_entries(
            namespace, name, self.query.get("container", ""), self._flag("previous")
        )
        uid = controllers.api.get(BY_PATH[("", "v1", "pods")], namespace, name)["metadata"]["uid"]
        try:
            since = float(self.query.get("sinceSeconds") or 0)
            tail = int(self.query.get("tailLines", -1))
            limit = int(self.query.get("limitBytes") or 0)
        except ValueError as exc:
            raise ApiError(400, "BadRequest", f"invalid log options: {exc}") from exc
        since_time = self.query.get("sinceTime", "")
        if since:
            cutoff = time.time() - since
            since_time = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(cutoff))
        if since_time:
            entries = [e for e in entries if e[0] >= since_time]
        if tail >= 0:
            entries = entries[len(entries) - tail :] if tail else []
        stamps = self._flag("timestamps")
        sent = 0

        def render(stamp: str, text: str) -> bytes:
            nonlocal sent
            if stamps:
                prefix = stamp if "." in stamp else stamp.removesuffix("Z") + ".000000000Z"
                text = f"{prefix} {text}"
            data = (text + "\n").encode()
            if limit:
                data = data[: max(limit - sent, 0)]
            sent += len(data)
            return data

        body = b"".join(render(*e) for e in entries)
        if not self._flag("follow"):
            return self._send(200, body, "text/plain")
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        def chunk(data: bytes) -> None:
            if data:
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()

        chunk(body)
        interval = max(controllers.ready_delay, 0.1)
        count = 0
        while not (limit and sent >= limit) and controllers.log_running(
            namespace, name, uid, container
        ):
            time.sleep(interval)
            count += 1
            stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            chunk(render(stamp, f"sandbox: container {container} is running ({count})"))
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _scale(self, method: str, resource: Resource, namespace: str, name: str) -> None:
        api = self.server.sandbox.api
        if method == "GET":
            return self._send(200, api.scale_of(resource, api.get(resource, namespace, name)))
        if method not in ("PUT", "PATCH"):
            raise ApiError(
                405,
                "MethodNotAllowed",
                "the server does not allow this method on the requested resource",
            )
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        patch_type = PATCH_TYPES.get(ctype, "merge") if method == "PATCH" else None
        scale = api.write_scale(
            resource,
            namespace,
            name,
            patch_type,
            self._parsed_body(),
            self._manager(),
            self._flags()["dry_run"],
        )
        self._send(200, scale)

    def _matchers(self, resource: Resource) -> tuple[Any, Any]:
        try:
            return (
                label_matcher(self.query.get("labelSelector")),
                field_matcher(self.query.get("fieldSelector"), resource.plural),
            )
        except SelectorError as exc:
            raise ApiError(400, "BadRequest", str(exc)) from exc

    def _delete_collection(
        self, resource: Resource, namespace: str, propagation: str | None, dry: bool
    ) -> None:
        api = self.server.sandbox.api
        labels, fields = self._matchers(resource)
        deleted = []
        for obj in api.list(resource, namespace):
            if labels(obj) and fields(obj):
                meta = obj["metadata"]
                with contextlib.suppress(ApiError):  # deleted meanwhile, e.g. by cascade
                    deleted.append(
                        api.delete(
                            resource,
                            meta.get("namespace", ""),
                            meta["name"],
                            propagation=propagation,
                            dry_run=dry,
                        )
                    )
        self._send(
            200,
            {
                "kind": resource.list_kind,
                "apiVersion": resource.api_version,
                "metadata": {},
                "items": deleted,
            },
        )

    def _list(self, resource: Resource, namespace: str) -> None:
        api = self.server.sandbox.api
        labels, fields = self._matchers(resource)
        with api.lock:
            rv = str(api.store.current_rv())
            items = [o for o in api.list(resource, namespace) if labels(o) and fields(o)]
        start = self.query.get("continue")
        if start:
            try:
                token = json.loads(base64.urlsafe_b64decode(start.encode()))
                after = tuple(token["after"])
            except (ValueError, KeyError, TypeError) as exc:
                raise ApiError(400, "BadRequest", "continue key is not valid") from exc
            items = [
                o
                for o in items
                if (o["metadata"].get("namespace", ""), o["metadata"]["name"]) > after
            ]
        meta: dict[str, Any] = {"resourceVersion": rv}
        limit = int(self.query.get("limit") or 0)
        if limit and len(items) > limit:
            last = items[limit - 1]["metadata"]
            token = {"after": [last.get("namespace", ""), last["name"]], "rv": rv}
            meta["continue"] = base64.urlsafe_b64encode(json.dumps(token).encode()).decode()
            meta["remainingItemCount"] = len(items) - limit
            items = items[:limit]
        if "as=Table" in (self.headers.get("Accept") or ""):
            include = self.query.get("includeObject")
            return self._send(200, tables.table(resource, items, meta, include))
        self._send(
            200,
            {
                "kind": resource.list_kind,
                "apiVersion": resource.api_version,
                "metadata": meta,
                "items": items,
            },
        )

    def _watch(self, resource: Resource, namespace: str) -> None:
        """A watch, as kube-apiserver serves it.

        ``resourceVersion`` unset or "0" starts with the current objects as ADDED events. With
        ``sendInitialEvents=true`` (client-go's watch-list, kubectl 1.35+), the current objects are
        sent whatever the resourceVersion, then a BOOKMARK annotated
        ``k8s.io/initial-events-end`` marks the end of the initial state.
        """
        store = self.server.sandbox.api.store
        labels, fields = self._matchers(resource)
        timeout = self.query.get("timeoutSeconds")
        since = self.query.get("resourceVersion") or "0"
        send_initial = self.query.get("sendInitialEvents")
        if send_initial is not None:
            problems = []
            if self.query.get("resourceVersionMatch") != "NotOlderThan":
                problems.append(
                    "resourceVersionMatch: Forbidden: sendInitialEvents requires setting "
                    "resourceVersionMatch to NotOlderThan"
                )
            if send_initial == "true" and not self._flag("allowWatchBookmarks"):
                problems.append(
                    "allowWatchBookmarks: Forbidden: sendInitialEvents requires setting "
                    "allowWatchBookmarks to true"
                )
            if problems:
                text = problems[0] if len(problems) == 1 else "[" + ", ".join(problems) + "]"
                raise ApiError(422, "Invalid", f'ListOptions.meta.k8s.io "" is invalid: {text}')
        watch_list = send_initial == "true"
        initial: list[dict[str, Any]] = []
        with store.lock:
            if since != "0":
                try:
                    int(since)
                except ValueError as exc:
                    raise ApiError(400, "BadRequest", "invalid resourceVersion") from exc
            if since == "0" or watch_list:
                since_rv = store.current_rv()
                initial = [o for o in store.list(resource, namespace) if labels(o) and fields(o)]
            else:
                since_rv = int(since)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        as_table = "as=Table" in (self.headers.get("Accept") or "")
        sent_columns = False

        def chunk(event: dict[str, Any]) -> None:
            nonlocal sent_columns
            if self.served is not None and event["type"] != "ERROR":
                event = {**event, "object": conversion.to_served(self.served, event["object"])}
            if as_table and event["type"] not in ("ERROR", "BOOKMARK"):
                # Like the real server: each object becomes a one-row Table, and only the
                # first event carries the column definitions.
                obj = event["object"]
                meta = {"resourceVersion": obj["metadata"].get("resourceVersion", "")}
                include = self.query.get("includeObject")
                event = {**event, "object": tables.table(resource, [obj], meta, include)}
                if sent_columns:
                    event["object"]["columnDefinitions"] = []
                sent_columns = True
            data = dumps(event) + b"\n"
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

        for obj in initial:
            chunk({"type": "ADDED", "object": obj})
        if watch_list:
            chunk({"type": "BOOKMARK", "object": _bookmark(resource, since_rv, initial_end=True)})
        try:
            for ev in store.events_since(since_rv, float(timeout) if timeout else None):
                if ev.resource is not resource:
                    continue
                if namespace and ev.obj["metadata"].get("namespace") != namespace:
                    continue
                event = _filtered(ev, lambda o: labels(o) and fields(o))
                if event is not None:
                    chunk(event)
        except Gone:
            chunk(
                {
                    "type": "ERROR",
                    "object": ApiError(
                        410,
                        "Expired",
                        f"too old resource version: {since_rv} "
                        f"({store.log[0].rv - 1 if store.log else 0})",
                    ).status(),
                }
            )
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


def _filtered(ev: WatchEvent, matches: Callable[[dict[str, Any]], bool]) -> dict[str, Any] | None:
    """The event a watch with selectors sends for a change, as kube-apiserver's watch cache does.

    An object that starts matching is ADDED, one that stops matching is DELETED (its previous
    content with the new resourceVersion), so a client's cache never keeps an object that left.
    """
    if ev.type == "DELETED":
        return {"type": "DELETED", "object": ev.obj} if matches(ev.obj) else None
    now = matches(ev.obj)
    before = ev.prev is not None and matches(ev.prev)
    if now:
        return {"type": "MODIFIED" if before else "ADDED", "object": ev.obj}
    if before:
        old = copy.deepcopy(ev.prev)
        old["metadata"]["resourceVersion"] = ev.obj["metadata"]["resourceVersion"]
        return {"type": "DELETED", "object": old}
    return None


def _bookmark(resource: Resource, rv: int, initial_end: bool = False) -> dict[str, Any]:
    """A BOOKMARK event's object: only the kind and a resourceVersion, as real servers send."""
    metadata: dict[str, Any] = {"resourceVersion": str(rv), "creationTimestamp": None}
    if initial_end:
        metadata["annotations"] = {"k8s.io/initial-events-end": "true"}
    return {"kind": resource.kind, "apiVersion": resource.api_version, "metadata": metadata}


class SandboxHTTPServer(ThreadingHTTPServer):
    # Handler threads are joined by server_close(); close_connections() wakes idle keep-alive
    # connections first so that joining cannot hang.
    daemon_threads = False
    block_on_close = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], sandbox: Sandbox, context: ssl.SSLContext) -> None:
        self.sandbox = sandbox
        self.context = context
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], DISCONNECTED):
            return
        super().handle_error(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.connections_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self.connections_lock:
            connections = list(self.connections)
        for sock in connections:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def get_request(self) -> tuple[Any, Any]:
        sock, addr = super().get_request()
        # Headers and body go out in separate writes; without this, Nagle's algorithm and
        # delayed ACKs add 40 ms to every request.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # The TLS handshake runs in the handler thread (Handler.setup), not the accept loop.
        wrapped = self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        with self.connections_lock:
            self.connections.add(wrapped)
        return wrapped, addr


class Sandbox:
    """An API server, its store and its controllers. Use :meth:`start` / :meth:`stop`."""

    def __init__(
        self,
        port: int = 0,
        *,
        host: str = "127.0.0.1",
        token: str | None = None,
        ready_delay: float = 1.0,
        registry: str | None = None,
        verbose: bool = False,
        state_dir: str | Path | None = None,
    ) -> None:
        """``state_dir`` keeps objects, token, certificate and port between runs."""
        self.state_dir = Path(state_dir) if state_dir else None
        self.verbose = verbose
        self.api = Api()
        self.controllers = Controllers(self.api, ready_delay=ready_delay, registry=registry)
        context, self.ca_pem = tls.server_context(self.state_dir)
        cluster_objects.install(self.api, self.controllers, self.ca_pem, VERSION["gitVersion"])
        self.saver: persistence.Saver | None = None
        if self.state_dir is not None:
            token = token or persistence.token(self.state_dir)
            if persistence.load(self.api.store, self.state_dir):
                self.api.reserve_cluster_ips()
            self.saver = persistence.Saver(self.api.store, self.state_dir)
        self.token = token or secrets.token_urlsafe(24)
        self.httpd = self._listen(host, port, context)
        self.host, self.port = self.httpd.server_address[:2]
        if self.state_dir is not None:
            persistence.remember_port(self.state_dir, self.port)
        self._thread: threading.Thread | None = None

    def _listen(self, host: str, port: int, context: ssl.SSLContext) -> SandboxHTTPServer:
        """Listen on ``port``; port 0 with a state folder tries the previous run's port first."""
        if port == 0 and self.state_dir is not None:
            previous = persistence.previous_port(self.state_dir)
            if previous:
                with contextlib.suppress(OSError):
                    return SandboxHTTPServer((host, previous), self, context)
        return SandboxHTTPServer((host, port), self, context)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"https://{self.address}"

    def start(self) -> Sandbox:
        self.controllers.start()
        self.controllers.resync()  # objects loaded from a state folder
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, name="sandbox-http", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.api.store.close()  # ends open watches
        self.httpd.shutdown()
        self.httpd.close_connections()
        self.httpd.server_close()  # joins the handler threads
        self.controllers.stop()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self.saver is not None:
            self.saver.close()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def kubeconfig(self) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": "sandbox",
            "clusters": [
                {
                    "name": "sandbox",
                    "cluster": {
                        "server": self.url,
                        "certificate-authority-data": base64.b64encode(self.ca_pem).decode(),
                    },
                }
            ],
            "users": [{"name": "sandbox", "user": {"token": self.token}}],
            "contexts": [
                {
                    "name": "sandbox",
                    "context": {"cluster": "sandbox", "user": "sandbox", "namespace": "default"},
                }
            ],
            "preferences": {},
        }

    def write_kubeconfig(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(self.kubeconfig(), sort_keys=False))
        path.chmod(0o600)
        return path


__all__ = ["Sandbox", "not_found"]
