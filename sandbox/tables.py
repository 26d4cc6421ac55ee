"""Server-side printing (``as=Table``) so ``kubectl get`` shows the familiar columns."""

from __future__ import annotations

import datetime
from typing import Any

from sandbox.resources import Resource


def age(stamp: str | None) -> str:
    if not stamp:
        return "<unknown>"
    then = datetime.datetime.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.UTC)
    seconds = int((datetime.datetime.now(datetime.UTC) - then).total_seconds())
    if seconds < 120:
        return f"{max(seconds, 0)}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    if seconds < 172800:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


def _pod_row(obj: dict[str, Any]) -> list[Any]:
    status = obj.get("status") or {}
    statuses = status.get("containerStatuses") or []
    total = len((obj.get("spec") or {}).get("containers") or [])
    ready = sum(1 for s in statuses if s.get("ready"))
    reason = status.get("phase", "Pending")
    for s in statuses:
        state = s.get("state") or {}
        if "waiting" in state and state["waiting"].get("reason"):
            reason = state["waiting"]["reason"]
        elif "terminated" in state and state["terminated"].get("reason"):
            reason = state["terminated"]["reason"]
    restarts = sum(s.get("restartCount", 0) for s in statuses)
    return [f"{ready}/{total}", reason, restarts]


def _columns(resource: Resource) -> list[tuple[str, Any]]:
    spec = lambda o: o.get("spec") or {}  # noqa: E731
    status = lambda o: o.get("status") or {}  # noqa: E731
    plural = resource.plural
    if plural == "pods":
        return [
            ("Ready", lambda o: _pod_row(o)[0]),
            ("Status", lambda o: _pod_row(o)[1]),
            ("Restarts", lambda o: _pod_row(o)[2]),
        ]
    if plural == "deployments":
        return [
            (
                "Ready",
                lambda o: f"{status(o).get('readyReplicas', 0)}/{spec(o).get('replicas', 0)}",
            ),
            ("Up-to-date", lambda o: status(o).get("updatedReplicas", 0)),
            ("Available", lambda o: status(o).get("availableReplicas", 0)),
        ]
    if plural == "replicasets":
        return [
            ("Desired", lambda o: spec(o).get("replicas", 0)),
            ("Current", lambda o: status(o).get("replicas", 0)),
            ("Ready", lambda o: status(o).get("readyReplicas", 0)),
        ]
    if plural == "statefulsets":
        return [
            ("Ready", lambda o: f"{status(o).get('readyReplicas', 0)}/{spec(o).get('replicas', 0)}")
        ]
    if plural == "daemonsets":
        return [
            ("Desired", lambda o: status(o).get("desiredNumberScheduled", 0)),
            ("Current", lambda o: status(o).get("currentNumberScheduled", 0)),
            ("Ready", lambda o: status(o).get("numberReady", 0)),
            ("Up-to-date", lambda o: status(o).get("updatedNumberScheduled", 0)),
            ("Available", lambda o: status(o).get("numberAvailable", 0)),
        ]
    if plural == "services":
        return [
            ("Type", lambda o: spec(o).get("type", "")),
            ("Cluster-IP", lambda o: spec(o).get("clusterIP", "")),
            ("External-IP", lambda o: "<none>"),
            (
                "Port(s)",
                lambda o: (
                    ",".join(
                        f"{p.get('port')}{':' + str(p['nodePort']) if p.get('nodePort') else ''}"
                        f"/{p.get('protocol', 'TCP')}"
                        for p in spec(o).get("ports") or []
                    )
                    or "<none>"
                ),
            ),
        ]
    if plural == "jobs":
        return [
            (
                "Status",
                lambda o: next(
                    (
                        c["type"]
                        for c in status(o).get("conditions") or []
                        if c.get("status") == "True"
                    ),
                    "Running",
                ),
            ),
            (
                "Completions",
                lambda o: f"{status(o).get('succeeded', 0)}/{spec(o).get('completions', 1)}",
            ),
        ]
    if plural == "namespaces":
        return [("Status", lambda o: status(o).get("phase", ""))]
    if plural in ("configmaps", "secrets"):
        return [("Data", lambda o: len(o.get("data") or {}) + len(o.get("binaryData") or {}))]
    if plural == "events":
        return [
            ("Type", lambda o: o.get("type", "")),
            ("Reason", lambda o: o.get("reason", "")),
            (
                "Object",
                lambda o: (
                    f"{o['involvedObject'].get('kind', '').lower()}/"
                    f"{o['involvedObject'].get('name', '')}"
                ),
            ),
            ("Message", lambda o: o.get("message", "")),
        ]
    return []


def table(
    resource: Resource, objects: list[dict[str, Any]], list_meta: dict[str, Any]
) -> dict[str, Any]:
    columns = _columns(resource)
    if resource.plural == "events":
        definitions = [
            {
                "name": "Last Seen",
                "type": "string",
                "format": "",
                "priority": 0,
                "description": "last seen",
            }
        ]
    else:
        definitions = [
            {
                "name": "Name",
                "type": "string",
                "format": "name",
                "priority": 0,
                "description": "Name must be unique within a namespace.",
            }
        ]
    definitions += [
        {"name": title, "type": "string", "format": "", "priority": 0, "description": title}
        for title, _ in columns
    ]
    if resource.plural != "events":
        definitions.append(
            {
                "name": "Age",
                "type": "string",
                "format": "",
                "priority": 0,
                "description": "CreationTimestamp",
            }
        )
    rows = []
    for obj in objects:
        meta = obj["metadata"]
        cells: list[Any] = [fn(obj) for _, fn in columns]
        if resource.plural == "events":
            cells = [age(obj.get("lastTimestamp") or meta.get("creationTimestamp")), *cells]
        else:
            cells = [meta["name"], *cells, age(meta.get("creationTimestamp"))]
        rows.append(
            {
                "cells": cells,
                "object": {
                    "kind": "PartialObjectMetadata",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": meta,
                },
            }
        )
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": list_meta,
        "columnDefinitions": definitions,
        "rows": rows,
    }
