"""Patches: JSON patch, JSON merge patch, strategic merge patch and server-side apply.

Server-side apply keeps a simplified but faithful model of field ownership:
each manager owns a set of field paths (stored as managedFields/fieldsV1),
conflicts arise when another manager owns a field the applier sets to a
different value, and fields an applier stops sending are removed unless some
other manager still owns them.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from sandbox import schema

# A field path is a tuple of elements: ("f", field name) or ("k", item key as compact JSON).
Path = tuple[tuple[str, str], ...]


class PatchError(Exception):
    """The patch could not be applied (maps to 422 or 400)."""


class ApplyConflict(Exception):
    def __init__(self, conflicts: list[tuple[str, Path]]) -> None:
        super().__init__("apply conflict")
        self.conflicts = conflicts  # (manager, path)


# --- JSON patch (RFC 6902) -----------------------------------------------------------------


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError(f"invalid JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _walk(doc: Any, parts: list[str]) -> Any:
    for part in parts:
        if isinstance(doc, list):
            doc = doc[int(part)]
        elif isinstance(doc, dict):
            doc = doc[part]
        else:
            raise KeyError(part)
    return doc


def json_patch(doc: dict[str, Any], ops: Any) -> dict[str, Any]:
    if not isinstance(ops, list):
        raise PatchError("json patch must be a list of operations")
    doc = copy.deepcopy(doc)
    for op in ops:
        try:
            kind, parts = op["op"], _pointer(op["path"])
            if kind == "test":
                if _walk(doc, parts) != op["value"]:
                    raise PatchError(f"testing value {op['path']} failed")
                continue
            if kind in ("move", "copy"):
                value = copy.deepcopy(_walk(doc, _pointer(op["from"])))
                if kind == "move":
                    _remove(doc, _pointer(op["from"]))
                _add(doc, parts, value)
            elif kind == "add":
                _add(doc, parts, copy.deepcopy(op["value"]))
            elif kind == "remove":
                _remove(doc, parts)
            elif kind == "replace":
                _remove(doc, parts)
                _add(doc, parts, copy.deepcopy(op["value"]))
            else:
                raise PatchError(f"unknown json patch operation {kind!r}")
        except (KeyError, IndexError, ValueError, TypeError) as exc:
            raise PatchError(
                f"the server rejected our request due to an error in our "
                f"request: jsonpatch {op.get('op')} operation does not apply: "
                f"doc is missing path: {op.get('path')}"
            ) from exc
    return doc


def _add(doc: Any, parts: list[str], value: Any) -> None:
    parent = _walk(doc, parts[:-1])
    last = parts[-1]
    if isinstance(parent, list):
        parent.insert(len(parent) if last == "-" else int(last), value)
    else:
        parent[last] = value


def _remove(doc: Any, parts: list[str]) -> None:
    parent = _walk(doc, parts[:-1])
    if isinstance(parent, list):
        parent.pop(int(parts[-1]))
    else:
        del parent[parts[-1]]


# --- JSON merge patch (RFC 7386) -----------------------------------------------------------


def merge_patch(doc: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(doc) if isinstance(doc, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


# --- strategic merge patch ------------------------------------------------------------------


def strategic_merge_patch(doc: Any, patch: Any, node: dict[str, Any]) -> Any:
    """Merge ``patch`` into ``doc``; lists with a patch merge key are merged item by item."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: v for k, v in copy.deepcopy(patch).items() if k != "$patch"}
    if patch.get("$patch") == "delete":
        return None
    out = copy.deepcopy(doc) if isinstance(doc, dict) else {}
    for key, value in patch.items():
        if key.startswith("$setElementOrder/") or key in ("$retainKeys", "$patch"):
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            if isinstance(out.get(field), list):
                out[field] = [x for x in out[field] if x not in value]
            continue
        sub = schema.child(node, key)
        if value is None:
            out.pop(key, None)
        elif isinstance(value, list) and sub.get("type") and "array" in sub["type"]:
            merged = _merge_list(out.get(key), value, sub)
            out[key] = merged
        else:
            merged = strategic_merge_patch(out.get(key), value, sub)
            if merged is None:
                out.pop(key, None)
            else:
                out[key] = merged
    return out


def _merge_list(current: Any, patch: list[Any], node: dict[str, Any]) -> list[Any]:
    key = schema.patch_merge_key(node)
    strategy = node.get("x-kubernetes-patch-strategy", "")
    if key is None:
        if "merge" in strategy and isinstance(current, list):  # merged primitive list
            return current + [x for x in patch if x not in current]
        return copy.deepcopy(patch)
    result = copy.deepcopy(current) if isinstance(current, list) else []
    item_schema = schema.items(node)
    for item in patch:
        if not isinstance(item, dict):
            continue
        if item.get("$patch") == "replace":
            return [i for i in patch if isinstance(i, dict) and i.get("$patch") != "replace"]
        index = next(
            (
                i
                for i, x in enumerate(result)
                if isinstance(x, dict) and x.get(key) == item.get(key)
            ),
            None,
        )
        if item.get("$patch") == "delete":
            if index is not None:
                result.pop(index)
            continue
        if index is None:
            result.append(strategic_merge_patch({}, item, item_schema))
        else:
            result[index] = strategic_merge_patch(result[index], item, item_schema)
    return result


# --- field sets (managedFields) -------------------------------------------------------------

# Parts of metadata the server owns; never tracked as managed fields.
_SERVER_META = {
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "managedFields",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "generateName",
}
_KEY_DEFAULTS = {"protocol": "TCP"}


def item_key(item: dict[str, Any], keys: list[str]) -> str:
    key = {k: item.get(k, _KEY_DEFAULTS.get(k)) for k in keys}
    return json.dumps({k: v for k, v in key.items() if v is not None}, separators=(",", ":"))


def flatten(obj: dict[str, Any], root: dict[str, Any], status: bool) -> dict[Path, Any]:
    """Map every owned field path of ``obj`` to its value (list items map to their key).

    ``status`` selects the status subresource's fields instead of the main resource's.
    """
    out: dict[Path, Any] = {}
    for top, value in obj.items():
        if top in ("apiVersion", "kind") or (top == "status") != status:
            continue
        if top == "metadata":
            if status:
                continue
            value = {k: v for k, v in (value or {}).items() if k not in _SERVER_META}
            if not value:
                continue
        _flatten(value, schema.child(root, top), (("f", top),), out)
    return out


def _flatten(value: Any, node: dict[str, Any], path: Path, out: dict[Path, Any]) -> None:
    if isinstance(value, dict) and value:
        for key, sub in value.items():
            _flatten(sub, schema.child(node, key), path + (("f", key),), out)
        return
    if isinstance(value, list) and value and all(isinstance(x, dict) for x in value):
        keys = schema.list_map_keys(node)
        if keys:
            item_node = schema.items(node)
            for item in value:
                item_path = path + (("k", item_key(item, keys)),)
                out[item_path] = None
                for key, sub in item.items():
                    _flatten(sub, schema.child(item_node, key), item_path + (("f", key),), out)
            return
    out[path] = value


def lookup(obj: Any, path: Path, root: dict[str, Any]) -> tuple[bool, Any]:
    node = root
    for kind, name in path:
        if kind == "f":
            if not isinstance(obj, dict) or name not in obj:
                return False, None
            obj, node = obj[name], schema.child(node, name)
        else:
            keys = schema.list_map_keys(node) or []
            node = schema.items(node)
            match = [x for x in obj or [] if isinstance(x, dict) and item_key(x, keys) == name]
            if not match:
                return False, None
            obj = match[0]
    return True, obj


def remove_path(obj: Any, path: Path, root: dict[str, Any]) -> None:
    parent_path, (kind, name) = path[:-1], path[-1]
    found, parent = lookup(obj, parent_path, root)
    if not found:
        return
    if kind == "f" and isinstance(parent, dict):
        parent.pop(name, None)
    elif kind == "k" and isinstance(parent, list):
        node = root
        for k, n in parent_path:
            node = schema.child(node, n) if k == "f" else schema.items(node)
        keys = schema.list_map_keys(node) or []
        parent[:] = [x for x in parent if not (isinstance(x, dict) and item_key(x, keys) == name)]


def to_fields_v1(paths: set[Path] | list[Path]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for path in sorted(paths):
        node = tree
        for kind, name in path:
            node = node.setdefault(f"{kind}:{name}", {})
        if path and path[-1][0] == "k":
            node["."] = {}
    return tree


def from_fields_v1(tree: dict[str, Any], prefix: Path = ()) -> set[Path]:
    out: set[Path] = set()
    for key, sub in tree.items():
        if key == ".":
            out.add(prefix)
            continue
        kind, _, name = key.partition(":")
        path = prefix + ((kind, name),)
        if sub:
            out |= from_fields_v1(sub, path)
        else:
            out.add(path)
    return out


def _merge_applied(live: Any, applied: Any, node: dict[str, Any]) -> Any:
    if isinstance(applied, dict) and isinstance(live, dict):
        out = copy.deepcopy(live)
        for key, value in applied.items():
            out[key] = _merge_applied(live.get(key), value, schema.child(node, key))
        return out
    if isinstance(applied, list) and isinstance(live, list):
        keys = schema.list_map_keys(node)
        if keys and all(isinstance(x, dict) for x in applied + live):
            item_node = schema.items(node)
            out = copy.deepcopy(live)
            for item in applied:
                k = item_key(item, keys)
                idx = next((i for i, x in enumerate(out) if item_key(x, keys) == k), None)
                if idx is None:
                    out.append(copy.deepcopy(item))
                else:
                    out[idx] = _merge_applied(out[idx], item, item_node)
            return out
    return copy.deepcopy(applied)


def managed_sets(obj: dict[str, Any]) -> list[dict[str, Any]]:
    """managedFields entries with their field sets parsed into ``paths``."""
    out = []
    for entry in (obj.get("metadata") or {}).get("managedFields") or []:
        out.append({**entry, "paths": from_fields_v1(entry.get("fieldsV1") or {})})
    return out


def store_managed(obj: dict[str, Any], entries: list[dict[str, Any]]) -> None:
    result = []
    for entry in entries:
        if not entry["paths"]:
            continue
        clean = {k: v for k, v in entry.items() if k != "paths"}
        clean["fieldsType"] = "FieldsV1"
        clean["fieldsV1"] = to_fields_v1(entry["paths"])
        result.append(clean)
    if result:
        obj.setdefault("metadata", {})["managedFields"] = result
    else:  # the real server omits an empty list
        obj.setdefault("metadata", {}).pop("managedFields", None)


def _entry(
    entries: list[dict[str, Any]],
    manager: str,
    operation: str,
    api_version: str,
    subresource: str,
    now: str,
) -> dict[str, Any]:
    for entry in entries:
        if (entry.get("manager"), entry.get("operation"), entry.get("subresource", "")) == (
            manager,
            operation,
            subresource,
        ):
            entry["time"], entry["apiVersion"] = now, api_version
            return entry
    entry = {
        "manager": manager,
        "operation": operation,
        "apiVersion": api_version,
        "time": now,
        "paths": set(),
    }
    if subresource:
        entry["subresource"] = subresource
    entries.append(entry)
    return entry


def apply(
    live: dict[str, Any] | None,
    applied: dict[str, Any],
    manager: str,
    force: bool,
    subresource: str,
    now: str,
) -> dict[str, Any]:
    """Server-side apply ``applied`` onto ``live`` (None when creating). Returns the new object."""
    root = schema.root_schema(applied.get("apiVersion", ""), applied.get("kind", ""))
    status = subresource == "status"
    live = copy.deepcopy(live) if live is not None else {}
    entries = managed_sets(live)
    new_fields = flatten(applied, root, status)
    conflicts = []
    for entry in entries:
        if entry["manager"] == manager and entry["operation"] == "Apply":
            continue
        for path in entry["paths"] & new_fields.keys():
            found, value = lookup(live, path, root)
            if found and path[-1][0] == "f" and value != new_fields[path]:
                if force:
                    entry["paths"].discard(path)
                else:
                    conflicts.append((entry["manager"], path))
    if conflicts:
        raise ApplyConflict(conflicts)
    mine = _entry(entries, manager, "Apply", applied.get("apiVersion", ""), subresource, now)
    previous = set(mine["paths"])
    merged = _merge_applied(
        live, {k: v for k, v in applied.items() if k not in ("status",) or status}, root
    )
    merged["apiVersion"], merged["kind"] = applied.get("apiVersion"), applied.get("kind")
    others: set[Path] = set()
    for entry in entries:
        if entry is not mine:
            others |= entry["paths"]
    for path in sorted(previous - new_fields.keys(), key=len, reverse=True):
        still_owned = any(p[: len(path)] == path for p in others | set(new_fields))
        if not still_owned:
            remove_path(merged, path, root)
    mine["paths"] = set(new_fields)
    store_managed(merged, entries)
    return merged


def _decodable(entries: Any) -> bool:
    """Whether a client's managedFields can be decoded as the real fieldmanager decodes them."""
    if not isinstance(entries, list) or not entries:
        return False
    for entry in entries:
        if not isinstance(entry, dict):
            return False
        fields = entry.get("fieldsV1")
        if fields is not None and not isinstance(fields, dict):
            return False
        if entry.get("fieldsType", "FieldsV1") != "FieldsV1":
            return False
    return True


def record_update(
    old: dict[str, Any] | None, new: dict[str, Any], manager: str, subresource: str, now: str
) -> None:
    """Give ``manager`` (operation Update) ownership of every field it changed in ``new``.

    Like the real fieldmanager, managedFields the write itself carries replace the stored ones
    (that is how kubectl moves client-side apply ownership to server-side apply, and how
    ``managedFields: [{}]`` clears them); absent, empty or undecodable ones, and any write to a
    subresource, keep the stored ones.
    """
    root = schema.root_schema(new.get("apiVersion", ""), new.get("kind", ""))
    status = subresource == "status"
    incoming = (new.get("metadata") or {}).get("managedFields")
    entries = managed_sets(new if _decodable(incoming) and not subresource else (old or {}))
    before = flatten(old or {}, root, status)
    after = flatten(new, root, status)
    changed = {p for p, v in after.items() if p not in before or before[p] != v}
    removed = set(before) - set(after)
    if changed or removed:
        for entry in entries:
            entry["paths"] -= removed
            if entry["manager"] != manager:
                entry["paths"] -= {p for p in changed if p[-1][0] == "f"}
        if changed:
            mine = _entry(entries, manager, "Update", new.get("apiVersion", ""), subresource, now)
            mine["paths"] |= changed
    store_managed(new, entries)


def describe_path(path: Path) -> str:
    """Render a path the way the API server names fields in conflict messages."""
    out = ""
    for kind, name in path:
        out += (
            f".{name}"
            if kind == "f"
            else f"[{','.join(f'{k}={json.dumps(v)}' for k, v in json.loads(name).items())}]"
        )
    return out
