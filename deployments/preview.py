"""What a deployment would change: the rendered manifest and a diff per object against the cluster.

The "after" side is the cluster's own answer to a server-side apply dry run, so defaults and
admission changes show up as they will be applied; the "before" side is the live object. Both
drop the fields the server owns (status, managedFields, ...: deployments/apply.py) so the diff
shows intent only. Objects are shown as they will be applied: with Kubernaut's labels, pre-deploy
hooks first. The objects a successful deployment would prune are listed too.
"""

import difflib
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field

import yaml

import policies
from clusters.kube import ClusterClient, ClusterError
from clusters.models import Namespace
from deployments import apply, manifests, services
from releases.models import Release
from releases.templating import TemplateProblem


@dataclass(frozen=True)
class ObjectChange:
    name: str  # e.g. "deployment.apps/hello-world"
    is_new: bool
    diff: str  # unified diff of YAML; empty when nothing changes
    is_hook: bool = False  # a pre-deploy hook, applied and awaited before the rest

    @property
    def is_unchanged(self) -> bool:
        return not self.is_new and not self.diff

    @property
    def diff_lines(self) -> list[tuple[str, str]]:
        """(kind, line) pairs for display; kind is "add", "remove", "hunk" or "same"."""
        kinds = {"+": "add", "-": "remove", "@": "hunk"}
        return [
            (kinds.get(line[:1], "same"), line.rstrip("\n"))
            for line in self.diff.splitlines(keepends=True)
            if not line.startswith(("+++", "---"))
        ]


@dataclass
class Preview:
    """The outcome of a preview; `problem` is a sentence when it could not be made, and
    `violations` list how the manifest breaks the namespace's deploy policy."""

    manifest: str = ""
    changes: list[ObjectChange] = field(default_factory=list)
    problem: str = ""
    violations: list[policies.Violation] = field(default_factory=list)
    # What a successful deployment would delete (e.g. "configmap/old-settings"); empty with
    # `prune_off` when the namespace does not prune.
    deletions: list[str] = field(default_factory=list)
    prune_off: bool = False

    def refuse(self, violations: list[policies.Violation]) -> "Preview":
        self.violations = violations
        self.problem = policies.refusal_sentence(violations)
        return self

    @property
    def ok(self) -> bool:
        return not self.problem


def comparable(obj: dict | None) -> dict | None:
    """The object without what the server owns, for a stable diff."""
    if obj is None:
        return None
    cleaned = apply.without_server_fields(obj)
    metadata = cleaned["metadata"]
    annotations = {
        k: v
        for k, v in (metadata.get("annotations") or {}).items()
        # kubectl's copy of the whole object would repeat the diff inside one line.
        if k != "kubectl.kubernetes.io/last-applied-configuration"
    }
    if annotations:
        metadata["annotations"] = annotations
    else:
        metadata.pop("annotations", None)
    cleaned["metadata"] = metadata
    return cleaned


def as_yaml(obj: dict | None) -> list[str]:
    if obj is None:
        return []
    return yaml.safe_dump(obj, sort_keys=True, default_flow_style=False).splitlines(keepends=True)


def diff_objects(name: str, live: dict | None, planned: dict, *, is_hook=False) -> ObjectChange:
    before, after = comparable(live), comparable(planned)
    lines = difflib.unified_diff(
        as_yaml(before), as_yaml(after), fromfile=f"live {name}", tofile=f"new {name}"
    )
    return ObjectChange(name=name, is_new=live is None, diff="".join(lines), is_hook=is_hook)


def preview(*, release: Release, namespace: Namespace, extra: dict[str, str]) -> Preview:
    """Render the release for the namespace and dry-run every object against its cluster.

    Never raises for the expected problems (a template that fails, an invalid object, a policy
    violation, a cluster that cannot be reached or refuses an object): they come back as
    `problem`. Nothing is sent to the cluster for a manifest the policy refuses.
    """
    try:
        rendered = manifests.render_for(release=release, namespace=namespace, extra=extra)
    except TemplateProblem as problem:
        return Preview(problem=str(problem))
    result = Preview(manifest=rendered.text)
    violations = services.policy_violations(namespace, rendered.objects)
    if violations:
        return result.refuse(violations)
    return against_live(
        result,
        rendered.objects,
        service=release.service.name,
        namespace=namespace,
        kinds=prunable_kinds(release.service_id, namespace),
    )


def prunable_kinds(service_id: int, namespace: Namespace) -> set[tuple[str, str]] | None:
    """The kinds to look for objects a deployment would prune; None when the namespace does not
    prune. Read from the database before `against_live` talks to the cluster."""
    if not namespace.prune:
        return None
    return apply.applied_kinds(service_id=service_id, namespace_id=namespace.pk)


# How long the deployment page waits for the cluster to compare an awaiting deployment with
# what is live: a slow cluster must not hold the page (every call has its own timeouts too).
DEPLOYMENT_PREVIEW_SECONDS = 10.0


def preview_deployment(deployment, *, seconds: float = DEPLOYMENT_PREVIEW_SECONDS) -> Preview:
    """What running a deployment that waits (for approval) would change: its stored manifest, as
    the worker will apply it, against the live objects. Never raises for the expected problems,
    and answers within `seconds` (a cluster slower than that is a `problem` too).

    The deployment's namespace (with its cluster) and service must be loaded: the cluster is
    asked from another thread, which never touches the database.
    """
    namespace = deployment.namespace
    result = Preview(manifest=deployment.manifest)
    try:
        objects = manifests.objects_to_apply(deployment.manifest, namespace.name)
    except TemplateProblem as problem:
        result.problem = str(problem)
        return result
    violations = services.policy_violations(namespace, objects)
    if violations:
        return result.refuse(violations)
    kinds = prunable_kinds(deployment.service_id, namespace)
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="preview")
    future = pool.submit(
        against_live,
        Preview(manifest=deployment.manifest),
        objects,
        service=deployment.service.name,
        namespace=namespace,
        kinds=kinds,
    )
    try:
        return future.result(timeout=seconds)
    except FutureTimeout:
        result.problem = (
            f"Cluster {namespace.cluster.name} did not answer within {seconds:.0f} s, so the "
            "changes cannot be shown now; reload the page to try again."
        )
        return result
    finally:
        pool.shutdown(wait=False)  # a late answer is dropped; the calls' own timeouts end it


def against_live(
    result: Preview,
    objects: list[dict],
    *,
    service: str,
    namespace: Namespace,
    kinds: set[tuple[str, str]] | None,
) -> Preview:
    """Fill `result` with the diff of each object (dry-run applied) against the live one and
    what would be pruned (`kinds`: prunable_kinds; None when the namespace does not prune).
    Talks to the cluster only, never to the database; a cluster problem becomes `problem`."""
    try:
        client = ClusterClient.for_cluster(namespace.cluster)
    except ClusterError as error:
        result.problem = str(error)
        return result
    try:
        # The cluster knows whether its custom resources are cluster-scoped.
        violations = services.policy_violations(namespace, objects, client)
        if violations:
            return result.refuse(violations)
        plan = apply.plan(objects, service=service, namespace=namespace.name)
        for obj in plan.all:
            name = manifests.describe(obj)
            metadata = obj["metadata"]
            hook = apply.is_hook(obj)
            try:
                live = client.get(
                    obj["apiVersion"], obj["kind"], metadata["name"], metadata.get("namespace")
                )
                if live is not None and apply.is_recreated_hook(obj):
                    # Deleted and created anew (its pod template cannot change in place).
                    live, planned = None, obj
                else:
                    planned = client.apply(obj, dry_run=True)
            except ClusterError as error:
                result.problem = f"{name}: {error}"
                return result
            result.changes.append(diff_objects(name, live, planned, is_hook=hook))
        if kinds is not None:
            doomed = apply.prune_candidates(
                client, service=service, namespace=namespace.name, keep=plan.all, kinds=kinds
            )
            result.deletions = [manifests.describe(obj) for obj in doomed]
        else:
            result.prune_off = True
    except ClusterError as error:
        result.problem = str(error)
        return result
    finally:
        client.close()
    return result
