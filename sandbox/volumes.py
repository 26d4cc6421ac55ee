"""PersistentVolumeClaims, PersistentVolumes and the default StorageClass.

Like Kubernetes' PV controller with a dynamic provisioner behind the default StorageClass
``standard`` (``volumeBindingMode: Immediate``): a claim binds at once, either to an
``Available`` PersistentVolume that fits (same class, access modes, enough capacity) or to a
new ``pvc-<claim uid>`` volume provisioned for it. Both ends get the annotations and status a
real cluster shows (``pv.kubernetes.io/bind-completed``, ``phase: Bound``, ``capacity``).
Deleting the claim deletes the volume (``reclaimPolicy: Delete``) or leaves it ``Released``
(``Retain``); a claim whose volume disappears is ``Lost``.

StatefulSets get one claim per ``volumeClaimTemplates`` entry and ordinal
(``<template>-<statefulset>-<ordinal>``), created before the pod and kept when the pod or the
StatefulSet goes unless ``persistentVolumeClaimRetentionPolicy`` says ``Delete``. Pods that
mount a claim stay Pending (``PodScheduled=False``, ``FailedScheduling``) until it is Bound.
"""

from __future__ import annotations

import contextlib
import copy
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sandbox.api import ApiError, now
from sandbox.resources import BY_PLURAL
from sandbox.store import WatchEvent

if TYPE_CHECKING:
    from sandbox.controllers import Controllers

PODS = BY_PLURAL["pods"]
CLAIMS = BY_PLURAL["persistentvolumeclaims"]
VOLUMES = BY_PLURAL["persistentvolumes"]
CLASSES = BY_PLURAL["storageclasses"]
MANAGER = "kube-controller-manager"
PROVISIONER = "k8s.io/sandbox-hostpath"
DEFAULT_CLASS = "storageclass.kubernetes.io/is-default-class"
BIND = "volumes:claim"
RECLAIM = "volumes:reclaim"
PENDING = "volumes:pending"
AVAILABLE = "volumes:volume"
UNITS = {
    "": 1,
    "m": 1e-3,
    "k": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
    "P": 1e15,
    "E": 1e18,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
    "Ei": 2**60,
}


def quantity(value: Any) -> float:
    """The number a resource quantity such as ``1Gi`` or ``500M`` stands for."""
    match = re.fullmatch(r"([0-9.]+(?:[eE][-+]?[0-9]+)?)([a-zA-Z]*)", str(value or "0").strip())
    if not match or match.group(2) not in UNITS:
        return 0.0
    return float(match.group(1)) * UNITS[match.group(2)]


def default_class_name(api: Any) -> str | None:
    """The newest StorageClass annotated as the default, as the admission plugin picks it."""
    defaults = [
        sc
        for sc in api.list(CLASSES)
        if (sc["metadata"].get("annotations") or {}).get(DEFAULT_CLASS) == "true"
    ]
    defaults.sort(key=lambda sc: sc["metadata"].get("creationTimestamp", ""))
    return defaults[-1]["metadata"]["name"] if defaults else None


def _claim_volumes(pod: dict[str, Any]) -> list[str]:
    return [
        v["persistentVolumeClaim"].get("claimName", "")
        for v in (pod.get("spec") or {}).get("volumes") or []
        if isinstance(v.get("persistentVolumeClaim"), dict)
    ]


class VolumesController:
    def __init__(self, ctl: Controllers) -> None:
        self.ctl = ctl
        self.api = ctl.api
        self.waiting: set[str] = set()  # uids of pods told they wait for a claim
        ctl.extensions[BIND] = self.sync_claim
        ctl.extensions[RECLAIM] = self.reclaim
        ctl.extensions[PENDING] = self.sync_pending
        ctl.extensions[AVAILABLE] = self.sync_volume
        ctl.watchers.append(self.keys_for)
        if self.api.find(CLASSES, "", "standard") is None:
            self.api.create(
                CLASSES,
                "",
                {
                    "apiVersion": "storage.k8s.io/v1",
                    "kind": "StorageClass",
                    "metadata": {
                        "name": "standard",
                        "annotations": {DEFAULT_CLASS: "true"},
                    },
                    "provisioner": PROVISIONER,
                    "reclaimPolicy": "Delete",
                    "volumeBindingMode": "Immediate",
                },
                manager="sandbox",
            )

    def keys_for(self, ev: WatchEvent) -> list[tuple[str, str, str]]:
        plural, meta = ev.resource.plural, ev.obj["metadata"]
        if plural == "persistentvolumeclaims":
            if ev.type == "DELETED":
                return [(RECLAIM, "", "")]
            return [(BIND, meta["namespace"], meta["name"])]
        if plural == "persistentvolumes":
            if ev.type == "DELETED":
                return [(RECLAIM, "", "")]
            return [(AVAILABLE, "", meta["name"]), (PENDING, "", "")]
        if plural == "storageclasses" and ev.type != "DELETED":
            return [(PENDING, "", "")]
        if plural == "pods" and ev.type == "DELETED":
            self.waiting.discard(meta.get("uid", ""))
        return []

    # --- binding ---------------------------------------------------------------------------

    def sync_pending(self, _: str, __: str) -> None:
        for claim in self.api.list(CLAIMS):
            if (claim.get("status") or {}).get("phase") == "Pending":
                self.sync_claim(claim["metadata"]["namespace"], claim["metadata"]["name"])

    def sync_volume(self, _: str, name: str) -> None:
        volume = self.api.find(VOLUMES, "", name)
        if volume is None or (volume.get("status") or {}).get("phase") != "Pending":
            return
        if not (volume.get("spec") or {}).get("claimRef"):
            self._volume_phase(volume, "Available")

    def _volume_phase(self, volume: dict[str, Any], phase: str) -> None:
        status = {"phase": phase, "lastPhaseTransitionTime": now()}
        self.api.put_status(VOLUMES, volume, status, MANAGER)

    def sync_claim(self, namespace: str, name: str) -> None:
        claim = self.api.find(CLAIMS, namespace, name)
        if claim is None or (claim.get("status") or {}).get("phase") not in ("Pending", None):
            return
        spec = claim.get("spec") or {}
        request = ((spec.get("resources") or {}).get("requests") or {}).get("storage", "0")
        class_name = spec.get("storageClassName") or ""
        volume = self._find_volume(claim, class_name, request)
        if volume is None and spec.get("volumeName"):
            return  # waits for the volume it names
        provisioned = False
        if volume is None:
            if not class_name:
                self.ctl.event(
                    claim,
                    "FailedBinding",
                    "no persistent volumes available for this claim and no storage class is set",
                    component="persistentvolume-controller",
                )
                return
            storage_class = self.api.find(CLASSES, "", class_name)
            if storage_class is None:
                self.ctl.event(
                    claim,
                    "ProvisioningFailed",
                    f'storageclass.storage.k8s.io "{class_name}" not found',
                    "Warning",
                    component="persistentvolume-controller",
                )
                return
            volume = self._provision(claim, storage_class, request)
            provisioned = True
        self._bind(claim, volume, provisioned)

    def _find_volume(
        self, claim: dict[str, Any], class_name: str, request: str
    ) -> dict[str, Any] | None:
        spec = claim.get("spec") or {}
        modes = set(spec.get("accessModes") or [])
        fitting = []
        for volume in self.api.list(VOLUMES):
            vspec = volume.get("spec") or {}
            ref = vspec.get("claimRef") or {}
            if spec.get("volumeName"):
                if volume["metadata"]["name"] != spec["volumeName"]:
                    continue
                if ref and ref.get("uid") not in (None, claim["metadata"]["uid"]):
                    return None
                return volume
            if ref:
                if (ref.get("namespace"), ref.get("name")) == (
                    claim["metadata"]["namespace"],
                    claim["metadata"]["name"],
                ) and ref.get("uid") in (None, claim["metadata"]["uid"]):
                    return volume  # pre-bound to this claim
                continue
            if (volume.get("status") or {}).get("phase") not in ("Available", "Pending"):
                continue
            size = quantity((vspec.get("capacity") or {}).get("storage"))
            if (
                (vspec.get("storageClassName") or "") == class_name
                and modes <= set(vspec.get("accessModes") or [])
                and size >= quantity(request)
            ):
                fitting.append((size, volume["metadata"]["name"], volume))
        return min(fitting)[2] if fitting else None

    def _provision(
        self, claim: dict[str, Any], storage_class: dict[str, Any], request: str
    ) -> dict[str, Any]:
        meta, spec = claim["metadata"], claim.get("spec") or {}
        name = f"pvc-{meta['uid']}"
        existing = self.api.find(VOLUMES, "", name)
        if existing is not None:
            return existing
        provisioner = storage_class.get("provisioner", PROVISIONER)
        body = {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {
                "name": name,
                "annotations": {"pv.kubernetes.io/provisioned-by": provisioner},
            },
            "spec": {
                "accessModes": list(spec.get("accessModes") or ["ReadWriteOnce"]),
                "capacity": {"storage": request},
                "claimRef": self._claim_ref(claim),
                "hostPath": {"path": f"/var/lib/sandbox/volumes/{name}", "type": ""},
                "persistentVolumeReclaimPolicy": storage_class.get("reclaimPolicy", "Delete"),
                "storageClassName": storage_class["metadata"]["name"],
                "volumeMode": spec.get("volumeMode", "Filesystem"),
            },
        }
        volume = self.api.create(VOLUMES, "", body, manager=MANAGER)
        self.ctl.event(
            claim,
            "ProvisioningSucceeded",
            f"Successfully provisioned volume {name}",
            component=provisioner,
        )
        return volume

    def _claim_ref(self, claim: dict[str, Any]) -> dict[str, Any]:
        meta = claim["metadata"]
        return {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "name": meta["name"],
            "namespace": meta["namespace"],
            "uid": meta["uid"],
            "resourceVersion": meta["resourceVersion"],
        }

    def _bind(self, claim: dict[str, Any], volume: dict[str, Any], provisioned: bool) -> None:
        meta = claim["metadata"]
        vspec = volume["spec"]
        if not vspec.get("claimRef") or vspec["claimRef"].get("uid") != meta["uid"]:
            volume["spec"]["claimRef"] = self._claim_ref(claim)
            volume["metadata"].setdefault("annotations", {})[
                "pv.kubernetes.io/bound-by-controller"
            ] = "yes"
            volume = self.api.update(
                VOLUMES, "", volume["metadata"]["name"], volume, manager=MANAGER
            )
        self._volume_phase(volume, "Bound")
        annotations = meta.setdefault("annotations", {})
        annotations["pv.kubernetes.io/bind-completed"] = "yes"
        if not claim["spec"].get("volumeName"):
            annotations["pv.kubernetes.io/bound-by-controller"] = "yes"
        if provisioned:
            provisioner = volume["metadata"]["annotations"]["pv.kubernetes.io/provisioned-by"]
            annotations["volume.beta.kubernetes.io/storage-provisioner"] = provisioner
            annotations["volume.kubernetes.io/storage-provisioner"] = provisioner
        claim["spec"]["volumeName"] = volume["metadata"]["name"]
        claim = self.api.update(CLAIMS, meta["namespace"], meta["name"], claim, manager=MANAGER)
        status = {
            "phase": "Bound",
            "accessModes": list(vspec.get("accessModes") or []),
            "capacity": dict(vspec.get("capacity") or {}),
        }
        self.api.put_status(CLAIMS, claim, status, MANAGER)
        # Pods that waited for this claim can be scheduled now.
        for pod in self.api.list(PODS, meta["namespace"]):
            if meta["name"] in _claim_volumes(pod) and not pod["spec"].get("nodeName"):
                self.ctl._enqueue("pods", meta["namespace"], pod["metadata"]["name"])

    def reclaim(self, _: str, __: str) -> None:
        """Volumes whose claim is gone are deleted or Released; claims whose volume is gone Lost."""
        for volume in self.api.list(VOLUMES):
            ref = (volume.get("spec") or {}).get("claimRef")
            if not ref or (volume.get("status") or {}).get("phase") != "Bound":
                continue
            claim = self.api.find(CLAIMS, ref.get("namespace", ""), ref.get("name", ""))
            if claim is not None and claim["metadata"]["uid"] == ref.get("uid"):
                continue
            if volume["spec"].get("persistentVolumeReclaimPolicy") == "Delete":
                with contextlib.suppress(ApiError):
                    self.api.delete(VOLUMES, "", volume["metadata"]["name"])
            else:
                self._volume_phase(volume, "Released")
        for claim in self.api.list(CLAIMS):
            status = claim.get("status") or {}
            name = (claim.get("spec") or {}).get("volumeName")
            if status.get("phase") == "Bound" and name and not self.api.find(VOLUMES, "", name):
                self.api.put_status(CLAIMS, claim, {"phase": "Lost"}, MANAGER)
                self.ctl.event(
                    claim,
                    "ClaimLost",
                    "Bound claim has lost its PersistentVolume. Data on the volume is lost!",
                    "Warning",
                    component="persistentvolume-controller",
                )

    # --- pods and StatefulSets -------------------------------------------------------------

    def unschedulable(self, pod: dict[str, Any]) -> bool:
        """True (and the pod marked Unschedulable) while a claim it mounts is not Bound."""
        namespace = pod["metadata"]["namespace"]
        problem = ""
        for name in _claim_volumes(pod):
            claim = self.api.find(CLAIMS, namespace, name)
            if claim is None:
                problem = f'persistentvolumeclaim "{name}" not found'
                break
            if (claim.get("status") or {}).get("phase") != "Bound":
                problem = "pod has unbound immediate PersistentVolumeClaims"
        if not problem:
            return False
        uid = pod["metadata"]["uid"]
        if uid in self.waiting:
            return True
        self.waiting.add(uid)
        message = (
            f"0/1 nodes are available: {problem}. preemption: 0/1 nodes are available: "
            "1 Preemption is not helpful for scheduling."
        )
        status = copy.deepcopy(pod.get("status") or {})
        status["conditions"] = [
            {
                "type": "PodScheduled",
                "status": "False",
                "lastProbeTime": None,
                "lastTransitionTime": now(),
                "reason": "Unschedulable",
                "message": message,
            }
        ]
        self.api.put_status(PODS, pod, status, MANAGER)
        self.ctl.event(pod, "FailedScheduling", message, "Warning", "default-scheduler")
        return True

    def statefulset_pod(
        self, sts: dict[str, Any], ordinal: int
    ) -> Callable[[dict[str, Any]], None] | None:
        """Create the pod's claims; return what to change in the pod (None on failure)."""
        spec, meta = sts["spec"], sts["metadata"]
        namespace, sts_name = meta["namespace"], meta["name"]
        policy = spec.get("persistentVolumeClaimRetentionPolicy") or {}
        selector = (spec.get("selector") or {}).get("matchLabels") or {}
        claims: dict[str, str] = {}
        for template in spec.get("volumeClaimTemplates") or []:
            tmeta = template.get("metadata") or {}
            name = f"{tmeta.get('name', '')}-{sts_name}-{ordinal}"
            claims[tmeta.get("name", "")] = name
            if self.api.find(CLAIMS, namespace, name) is not None:
                continue
            body: dict[str, Any] = {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "metadata": {
                    "name": name,
                    "labels": {**(tmeta.get("labels") or {}), **selector},
                },
                "spec": copy.deepcopy(template.get("spec") or {}),
            }
            if tmeta.get("annotations"):
                body["metadata"]["annotations"] = dict(tmeta["annotations"])
            if policy.get("whenDeleted") == "Delete":
                body["metadata"]["ownerReferences"] = [
                    {
                        "apiVersion": "apps/v1",
                        "kind": "StatefulSet",
                        "name": sts_name,
                        "uid": meta["uid"],
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }
                ]
            try:
                self.api.create(CLAIMS, namespace, body, manager=MANAGER)
            except ApiError as exc:
                if exc.code == 409:
                    continue
                self.ctl.event(
                    sts,
                    "FailedCreate",
                    f"create Claim {name} for Pod {sts_name}-{ordinal} in StatefulSet "
                    f"{sts_name} failed error: {exc.message}",
                    "Warning",
                    "statefulset-controller",
                )
                return None
            self.ctl.event(
                sts,
                "SuccessfulCreate",
                f"create Claim {name} Pod {sts_name}-{ordinal} in StatefulSet {sts_name} success",
                component="statefulset-controller",
            )

        def customize(pod: dict[str, Any]) -> None:
            pod_spec = pod["spec"]
            pod_spec["hostname"] = f"{sts_name}-{ordinal}"
            if spec.get("serviceName"):
                pod_spec["subdomain"] = spec["serviceName"]
            volumes = [v for v in pod_spec.get("volumes") or [] if v.get("name") not in claims]
            volumes += [
                {"name": template, "persistentVolumeClaim": {"claimName": claim}}
                for template, claim in claims.items()
            ]
            if volumes:
                pod_spec["volumes"] = volumes

        return customize

    def statefulset_scaled_down(self, sts: dict[str, Any], pod: dict[str, Any]) -> None:
        spec = sts["spec"]
        policy = spec.get("persistentVolumeClaimRetentionPolicy") or {}
        if policy.get("whenScaled") != "Delete":
            return
        ordinal = pod["metadata"]["name"].rsplit("-", 1)[-1]
        for template in spec.get("volumeClaimTemplates") or []:
            name = f"{(template.get('metadata') or {}).get('name', '')}-{sts['metadata']['name']}"
            with contextlib.suppress(ApiError):
                self.api.delete(CLAIMS, sts["metadata"]["namespace"], f"{name}-{ordinal}")
