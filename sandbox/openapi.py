"""OpenAPI v3 documents built from the offline schemas, for ``kubectl apply/diff/explain``.

kubectl reads ``/openapi/v3`` (an index) and one document per group-version.
It checks that PATCH operations accept ``fieldValidation`` (then leaves
validation to the server) and uses the schemas for ``explain`` and for the
merge keys of client-side apply. ``/openapi/v2`` is not served: kubectl only
accepts it as protobuf, and falls back to v3.
"""

from __future__ import annotations

import functools
import hashlib
import json
from typing import Any

from sandbox import schema
from sandbox.resources import Resource, group_versions, resources_in

_REF = "#/$defs/"
_COMPONENT = "#/components/schemas/"


def _convert(node: Any) -> Any:
    """JSON-schema-2020 flavoured definitions -> OpenAPI 3.0 schema objects."""
    if isinstance(node, list):
        return [_convert(x) for x in node]
    if not isinstance(node, dict):
        return node
    if "oneOf" in node and len(node) <= 2:  # IntOrString, Quantity
        kinds = {t for option in node["oneOf"] for t in option.get("type", []) if t != "null"}
        if "integer" in kinds:
            return {"type": "string", "format": "int-or-string", "x-kubernetes-int-or-string": True}
        return {"type": "string"}
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "$ref":
            continue
        if key == "type" and isinstance(value, list):
            types = [t for t in value if t != "null"]
            if types:
                out["type"] = types[0]
            continue
        if key in ("properties",):
            out[key] = {k: _convert(v) for k, v in value.items()}
        else:
            out[key] = _convert(value)
    if "$ref" in node:
        ref = {"$ref": _COMPONENT + node["$ref"][len(_REF) :]}
        if len(out) == 0:
            return ref
        out["allOf"] = [ref]
    return out


def _refs(node: Any, found: set[str]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(_REF):
            name = ref[len(_REF) :]
            if name not in found:
                found.add(name)
                _refs(schema.defs()[name], found)
        for value in node.values():
            _refs(value, found)
    elif isinstance(node, list):
        for value in node:
            _refs(value, found)


def _param(name: str, where: str = "query", required: bool = False) -> dict[str, Any]:
    kind = "boolean" if name in ("force", "watch", "allowWatchBookmarks") else "string"
    if name in ("limit", "timeoutSeconds"):
        kind = "integer"
    return {
        "name": name,
        "in": where,
        "required": required or where == "path",
        "description": name,
        "schema": {"type": kind, "uniqueItems": True},
    }


def _op(
    resource: Resource,
    action: str,
    op_id: str,
    response: str,
    params: list[str],
    body: bool = False,
) -> dict[str, Any]:
    gvk = {"group": resource.group, "version": resource.version, "kind": resource.kind}
    content = {
        ct: {"schema": {"$ref": _COMPONENT + response}}
        for ct in ("application/json", "application/yaml")
    }
    op: dict[str, Any] = {
        "description": f"{action} {resource.kind}",
        "operationId": op_id,
        "parameters": [_param(p) for p in params],
        "responses": {
            "200": {"description": "OK", "content": content},
            "401": {"description": "Unauthorized"},
        },
        "tags": [resource.api_version.replace("/", "_")],
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": gvk,
    }
    if body:
        op["requestBody"] = {
            "content": {"*/*": {"schema": {"$ref": _COMPONENT + response}}},
            "required": True,
        }
    return op


def _paths(resource: Resource, kind_def: str, list_def: str) -> dict[str, Any]:
    prefix = f"/apis/{resource.api_version}" if resource.group else "/api/v1"
    base = (
        f"{prefix}/namespaces/{{namespace}}/{resource.plural}"
        if resource.namespaced
        else f"{prefix}/{resource.plural}"
    )
    ns_params = [_param("namespace", "path")] if resource.namespaced else []
    write = ["dryRun", "fieldManager", "fieldValidation"]
    name = resource.kind
    status_def = "io.k8s.apimachinery.pkg.apis.meta.v1.Status"
    paths = {
        base: {
            "get": _op(
                resource,
                "list",
                f"list{name}",
                list_def,
                [
                    "labelSelector",
                    "fieldSelector",
                    "limit",
                    "continue",
                    "watch",
                    "resourceVersion",
                    "timeoutSeconds",
                ],
            ),
            "post": _op(resource, "post", f"create{name}", kind_def, write, body=True),
            "delete": _op(
                resource,
                "deletecollection",
                f"deletecollection{name}",
                status_def,
                ["labelSelector", "fieldSelector", "dryRun", "propagationPolicy"],
            ),
            "parameters": ns_params + [_param("pretty")],
        },
        f"{base}/{{name}}": {
            "get": _op(resource, "get", f"read{name}", kind_def, []),
            "put": _op(resource, "put", f"replace{name}", kind_def, write, body=True),
            "patch": _op(resource, "patch", f"patch{name}", kind_def, [*write, "force"], body=True),
            "delete": _op(
                resource,
                "delete",
                f"delete{name}",
                status_def,
                ["dryRun", "propagationPolicy", "gracePeriodSeconds"],
            ),
            # kubectl's query parameter check reads the path-level parameters.
            "parameters": [
                _param("name", "path"),
                *ns_params,
                _param("pretty"),
                _param("fieldValidation"),
                _param("dryRun"),
                _param("fieldManager"),
                _param("force"),
            ],
        },
    }
    if resource.verbs == ("create",):  # access reviews: POST only, as kube-apiserver
        return {base: {"post": paths[base]["post"], "parameters": paths[base]["parameters"]}}
    if resource.has_status:
        paths[f"{base}/{{name}}/status"] = {
            "get": _op(resource, "get", f"read{name}Status", kind_def, []),
            "put": _op(resource, "put", f"replace{name}Status", kind_def, write, body=True),
            "patch": _op(
                resource, "patch", f"patch{name}Status", kind_def, [*write, "force"], body=True
            ),
            "parameters": [_param("name", "path"), *ns_params, _param("pretty")],
        }
    return paths


def _gv_key(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


@functools.cache
def _document(key: str) -> bytes | None:
    for group, versions in group_versions().items():
        for version in versions:
            if _gv_key(group, version) != key:
                continue
            paths: dict[str, Any] = {}
            wanted = {
                "io.k8s.apimachinery.pkg.apis.meta.v1.Status",
                "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions",
            }
            for resource in resources_in(group, version):
                kind_def = schema.definition_for_kind(resource.api_version, resource.kind)
                list_def = schema.definition_for_kind(resource.api_version, resource.list_kind)
                if kind_def is None:
                    continue
                wanted.add(kind_def)
                if list_def:
                    wanted.add(list_def)
                paths.update(_paths(resource, kind_def, list_def or kind_def))
            closure: set[str] = set()
            _refs({"$ref": [_REF + w for w in wanted]}, closure)
            for name in wanted:
                _refs({"$ref": _REF + name}, closure)
            components = {name: _convert(schema.defs()[name]) for name in sorted(closure)}
            doc = {
                "openapi": "3.0.0",
                "info": {"title": "Kubernetes", "version": "v1.37.0-sandbox"},
                "paths": paths,
                "components": {"schemas": components},
            }
            return json.dumps(doc, separators=(",", ":")).encode()
    return None


def group_version_document(key: str) -> bytes | None:
    return _document(key.split("?")[0])


def root_index() -> dict[str, Any]:
    paths = {}
    for group, versions in group_versions().items():
        for version in versions:
            key = _gv_key(group, version)
            digest = hashlib.sha256(f"{key}-sandbox-1".encode()).hexdigest()[:32].upper()
            paths[key] = {"serverRelativeURL": f"/openapi/v3/{key}?hash={digest}"}
    return {"paths": paths}
