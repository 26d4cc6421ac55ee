"""Endpoints and EndpointSlices kept in step with Services and their pods.

Like Kubernetes' endpoints and endpointslice controllers: every Service with a selector
(not ExternalName) gets a core/v1 Endpoints object of the same name and discovery.k8s.io/v1
EndpointSlices (``generateName: <service>-``, controlled by the Service) listing the pods
that match the selector and have an IP. Ready pods are ``addresses`` (slice condition
``ready``), the others ``notReadyAddresses`` (unless ``publishNotReadyAddresses``). Service
ports map to pod ports by ``targetPort``, a number or the name of a container port; pods
whose container lacks a named port are left out for that port, and pods with different
resolved ports land in different subsets / slices. Services without a selector get nothing
(their Endpoints belong to the user). The Endpoints go when the Service goes; the slices are
garbage collected through their ownerReference.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from sandbox.api import ApiError, now
from sandbox.resources import BY_PLURAL
from sandbox.store import WatchEvent

if TYPE_CHECKING:
    from sandbox.controllers import Controllers

SERVICES = BY_PLURAL["services"]
PODS = BY_PLURAL["pods"]
ENDPOINTS = BY_PLURAL["endpoints"]
SLICES = BY_PLURAL["endpointslices"]
MANAGER = "kube-controller-manager"
SYNC = "endpoints:namespace"
GONE = "endpoints:service-deleted"
SERVICE_NAME = "kubernetes.io/service-name"
MANAGED_BY = "endpointslice.kubernetes.io/managed-by"
SLICE_CONTROLLER = "endpointslice-controller.k8s.io"
TRIGGER_TIME = "endpoints.kubernetes.io/last-change-trigger-time"
HEADLESS = "service.kubernetes.io/headless"

Ports = tuple[tuple[str, int, str, str], ...]  # (name, port, protocol, appProtocol)


def _ready(pod: dict[str, Any]) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in (pod.get("status") or {}).get("conditions") or []
    )


def _target_port(pod: dict[str, Any], port: dict[str, Any]) -> int | None:
    target = port.get("targetPort", port.get("port"))
    if isinstance(target, int):
        return target
    if isinstance(target, str) and target.isdigit():
        return int(target)
    for container in (pod.get("spec") or {}).get("containers") or []:
        for cport in container.get("ports") or []:
            if cport.get("name") == target and cport.get("protocol", "TCP") == port.get(
                "protocol", "TCP"
            ):
                return int(cport["containerPort"])
    return None


class EndpointsController:
    def __init__(self, ctl: Controllers) -> None:
        self.ctl = ctl
        self.api = ctl.api
        ctl.extensions[SYNC] = self.sync_namespace
        ctl.extensions[GONE] = self.service_deleted
        ctl.watchers.append(self.keys_for)

    def keys_for(self, ev: WatchEvent) -> list[tuple[str, str, str]]:
        plural, meta = ev.resource.plural, ev.obj["metadata"]
        namespace = meta.get("namespace", "")
        if plural == "services":
            keys = [(SYNC, namespace, "")]
            if ev.type == "DELETED":
                keys.append((GONE, namespace, meta["name"]))
            return keys
        if plural == "pods":
            return [(SYNC, namespace, "")]
        if ev.type == "DELETED" and (
            plural == "endpoints"
            or (plural == "endpointslices" and (meta.get("labels") or {}).get(MANAGED_BY))
        ):
            return [(SYNC, namespace, "")]  # recreated, as a real controller does
        return []

    def service_deleted(self, namespace: str, name: str) -> None:
        if self.api.find(SERVICES, namespace, name) is None:
            with contextlib.suppress(ApiError):
                self.api.delete(ENDPOINTS, namespace, name)

    def sync_namespace(self, namespace: str, _: str) -> None:
        services = [
            s
            for s in self.api.list(SERVICES, namespace)
            if (s.get("spec") or {}).get("selector")
            and (s.get("spec") or {}).get("type") != "ExternalName"
        ]
        if not services:
            return
        pods = self.api.list(PODS, namespace)
        slices = self.api.list(SLICES, namespace)
        for service in services:
            selector = service["spec"]["selector"]
            members = [
                p
                for p in pods
                if all((p["metadata"].get("labels") or {}).get(k) == v for k, v in selector.items())
                and (p.get("status") or {}).get("podIP")
                and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
                and not p["metadata"].get("deletionTimestamp")
            ]
            members.sort(key=lambda p: (p["status"]["podIP"], p["metadata"]["uid"]))
            groups = self._groups(service, members)
            self._sync_endpoints(service, groups)
            uid = service["metadata"]["uid"]
            owned = [
                s
                for s in slices
                if any(r.get("uid") == uid for r in s["metadata"].get("ownerReferences") or [])
                and (s["metadata"].get("labels") or {}).get(MANAGED_BY) == SLICE_CONTROLLER
            ]
            self._sync_slices(service, groups, owned)

    def _groups(
        self, service: dict[str, Any], pods: list[dict[str, Any]]
    ) -> dict[Ports, list[dict[str, Any]]]:
        """Pods grouped by the ports they resolve the Service's ports to."""
        groups: dict[Ports, list[dict[str, Any]]] = {}
        ports = service["spec"].get("ports") or []
        headless = service["spec"].get("clusterIP") == "None"
        for pod in pods:
            resolved = []
            for port in ports:
                number = _target_port(pod, port)
                if number is not None:
                    entry = (
                        port.get("name", ""),
                        number,
                        port.get("protocol", "TCP"),
                        port.get("appProtocol", ""),
                    )
                    resolved.append(entry)
            if resolved or (headless and not ports):
                groups.setdefault(tuple(resolved), []).append(pod)
        return groups

    def _labels(self, service: dict[str, Any]) -> dict[str, str]:
        labels = dict(service["metadata"].get("labels") or {})
        if service["spec"].get("clusterIP") == "None":
            labels[HEADLESS] = ""
        return labels

    def _address(self, service: dict[str, Any], pod: dict[str, Any]) -> dict[str, Any]:
        spec, meta = pod.get("spec") or {}, pod["metadata"]
        address: dict[str, Any] = {"ip": pod["status"]["podIP"]}
        if spec.get("hostname") and spec.get("subdomain") == service["metadata"]["name"]:
            address["hostname"] = spec["hostname"]
        if spec.get("nodeName"):
            address["nodeName"] = spec["nodeName"]
        address["targetRef"] = {
            "kind": "Pod",
            "namespace": meta["namespace"],
            "name": meta["name"],
            "uid": meta["uid"],
        }
        return address

    def _sync_endpoints(
        self, service: dict[str, Any], groups: dict[Ports, list[dict[str, Any]]]
    ) -> None:
        publish = bool(service["spec"].get("publishNotReadyAddresses"))
        subsets = []
        for ports, pods in groups.items():
            subset: dict[str, Any] = {}
            ready = [self._address(service, p) for p in pods if publish or _ready(p)]
            not_ready = [self._address(service, p) for p in pods if not (publish or _ready(p))]
            if ready:
                subset["addresses"] = ready
            if not_ready:
                subset["notReadyAddresses"] = not_ready
            if ports:
                subset["ports"] = [_endpoint_port(p, named=False) for p in ports]
            subsets.append(subset)
        meta = service["metadata"]
        current = self.api.find(ENDPOINTS, meta["namespace"], meta["name"])
        labels = self._labels(service)
        if current is not None:
            if (current.get("subsets") or []) == subsets and (
                current["metadata"].get("labels") or {}
            ) == labels:
                return
            current["metadata"]["labels"] = labels
            current["metadata"].setdefault("annotations", {})[TRIGGER_TIME] = now()
            current["subsets"] = subsets
            if not subsets:
                del current["subsets"]
            self.api.update(ENDPOINTS, meta["namespace"], meta["name"], current, manager=MANAGER)
            return
        body: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "Endpoints",
            "metadata": {
                "name": meta["name"],
                "labels": labels,
                "annotations": {TRIGGER_TIME: now()},
            },
        }
        if subsets:
            body["subsets"] = subsets
        with contextlib.suppress(ApiError):  # the namespace may be going away
            self.api.create(ENDPOINTS, meta["namespace"], body, manager=MANAGER)

    def _sync_slices(
        self,
        service: dict[str, Any],
        groups: dict[Ports, list[dict[str, Any]]],
        owned: list[dict[str, Any]],
    ) -> None:
        meta = service["metadata"]
        publish = bool(service["spec"].get("publishNotReadyAddresses"))
        labels = {
            **self._labels(service),
            SERVICE_NAME: meta["name"],
            MANAGED_BY: SLICE_CONTROLLER,
        }
        wanted: list[tuple[list[dict[str, Any]], list[dict[str, Any]]]] = []
        for ports, pods in groups.items():
            endpoints = []
            for pod in pods:
                address = self._address(service, pod)
                ready = publish or _ready(pod)
                endpoint: dict[str, Any] = {
                    "addresses": [address["ip"]],
                    "conditions": {"ready": ready, "serving": ready, "terminating": False},
                }
                if "hostname" in address:
                    endpoint["hostname"] = address["hostname"]
                if "nodeName" in address:
                    endpoint["nodeName"] = address["nodeName"]
                endpoint["targetRef"] = address["targetRef"]
                endpoints.append(endpoint)
            wanted.append(([_endpoint_port(p, named=True) for p in ports], endpoints))
        if not wanted:
            wanted.append(([], []))  # the placeholder slice a real controller keeps
        spare = list(owned)
        for ports, endpoints in wanted:
            match = next((s for s in spare if (s.get("ports") or []) == ports), None)
            if match is None and spare and len(wanted) == 1:
                match = spare[0]
            if match is not None:
                spare.remove(match)
                if (
                    match.get("endpoints") == endpoints
                    and (match.get("ports") or []) == ports
                    and (match["metadata"].get("labels") or {}) == labels
                ):
                    continue
                match["metadata"]["labels"] = labels
                match["metadata"].setdefault("annotations", {})[TRIGGER_TIME] = now()
                match["endpoints"] = endpoints  # required, even when empty
                if ports:
                    match["ports"] = ports
                else:
                    match.pop("ports", None)
                self.api.update(
                    SLICES,
                    meta["namespace"],
                    match["metadata"]["name"],
                    match,
                    manager=MANAGER,
                )
                continue
            body: dict[str, Any] = {
                "apiVersion": "discovery.k8s.io/v1",
                "kind": "EndpointSlice",
                "metadata": {
                    "generateName": f"{meta['name']}-",
                    "labels": labels,
                    "annotations": {TRIGGER_TIME: now()},
                    "ownerReferences": [
                        {
                            "apiVersion": "v1",
                            "kind": "Service",
                            "name": meta["name"],
                            "uid": meta["uid"],
                            "controller": True,
                            "blockOwnerDeletion": True,
                        }
                    ],
                },
                "addressType": "IPv4",
                "endpoints": endpoints,
            }
            if ports:
                body["ports"] = ports
            self.api.create(SLICES, meta["namespace"], body, manager=MANAGER)
        for extra in spare:
            with contextlib.suppress(ApiError):
                self.api.delete(SLICES, meta["namespace"], extra["metadata"]["name"])


def _endpoint_port(port: tuple[str, int, str, str], named: bool) -> dict[str, Any]:
    name, number, protocol, app_protocol = port
    out: dict[str, Any] = {}
    if name or named:  # slices always carry the name, "" when the port has none
        out["name"] = name
    out["port"] = number
    out["protocol"] = protocol
    if app_protocol:
        out["appProtocol"] = app_protocol
    return out
