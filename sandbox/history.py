"""ControllerRevisions for StatefulSets and DaemonSets (``kubectl rollout history|undo``).

As in Kubernetes' ``pkg/controller/history``: one ControllerRevision per distinct pod
template, named ``<owner>-<hash>``, labelled with the template labels plus
``controller-revision-hash``, controlled by its owner, carrying the owner's annotations and
``data`` = the strategic merge patch that restores the template
(``{"spec":{"template":{...,"$patch":"replace"}}}``, keys sorted as Go's encoder writes them,
which is what kubectl compares byte for byte before it rolls back). Going back to an older
template reuses its revision object and gives it the next revision number. Revisions that no
pod, nor the current or update revision, uses are pruned beyond ``revisionHistoryLimit``.
"""

from __future__ import annotations

import contextlib
import copy
import json
from typing import TYPE_CHECKING, Any

from sandbox.api import ApiError
from sandbox.resources import BY_PLURAL

if TYPE_CHECKING:
    from sandbox.controllers import Controllers

REVISIONS = BY_PLURAL["controllerrevisions"]
HASH_LABEL = "controller-revision-hash"


def template_patch(owner: dict[str, Any]) -> dict[str, Any]:
    template = {**copy.deepcopy(owner["spec"]["template"]), "$patch": "replace"}
    return json.loads(json.dumps({"spec": {"template": template}}, sort_keys=True))


def _controlled(ctl: Controllers, owner: dict[str, Any]) -> list[dict[str, Any]]:
    uid = owner["metadata"]["uid"]
    return [
        r
        for r in ctl.api.list(REVISIONS, owner["metadata"]["namespace"])
        if any(
            ref.get("controller") and ref.get("uid") == uid
            for ref in r["metadata"].get("ownerReferences") or []
        )
    ]


def sync_revisions(ctl: Controllers, owner: dict[str, Any], hash_: str) -> dict[str, Any] | None:
    """Make sure the owner's current template has a revision, the newest one; return it."""
    meta = owner["metadata"]
    namespace, name = meta["namespace"], f"{meta['name']}-{hash_}"
    revisions = _controlled(ctl, owner)
    newest = max((r.get("revision", 0) for r in revisions), default=0)
    for rev in revisions:
        if rev["metadata"]["name"] == name:
            if rev.get("revision", 0) < newest:  # rolled back to this template
                rev["revision"] = newest + 1
                return ctl.api.update(
                    REVISIONS, namespace, name, rev, manager="kube-controller-manager"
                )
            return rev
    labels = dict((owner["spec"]["template"].get("metadata") or {}).get("labels") or {})
    labels[HASH_LABEL] = hash_
    ref = {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": meta["name"],
        "uid": meta["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }
    body: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "ControllerRevision",
        "metadata": {"name": name, "labels": labels, "ownerReferences": [ref]},
        "data": template_patch(owner),
        "revision": newest + 1,
    }
    if meta.get("annotations"):
        body["metadata"]["annotations"] = dict(meta["annotations"])
    try:
        return ctl.api.create(REVISIONS, namespace, body, manager="kube-controller-manager")
    except ApiError as exc:
        if exc.code != 409:
            raise
        return ctl.api.find(REVISIONS, namespace, name)


def truncate_history(ctl: Controllers, owner: dict[str, Any], live: set[str]) -> None:
    """Delete the oldest unused revisions beyond ``spec.revisionHistoryLimit``."""
    limit = owner["spec"].get("revisionHistoryLimit", 10)
    idle = [r for r in _controlled(ctl, owner) if r["metadata"]["name"] not in live]
    idle.sort(key=lambda r: r.get("revision", 0))
    for rev in idle[: max(len(idle) - limit, 0)]:
        with contextlib.suppress(ApiError):
            ctl.api.delete(REVISIONS, rev["metadata"]["namespace"], rev["metadata"]["name"])
