"""The one entry point: every way a rendered manifest breaks a namespace's policy."""

from policies.images import check_images
from policies.kinds import ScopeOf, check_kinds
from policies.pod_security import check_pod_security
from policies.types import Policy, Violation


def check(
    objects: list[dict], policy: Policy, *, scope_of: ScopeOf | None = None
) -> list[Violation]:
    """The violations of `policy` in `objects` (rendered, placed), in the objects' order.

    `scope_of` answers for custom resources, whose scope only their cluster knows (the worker
    asks it); without it they count as namespaced. A `List` is checked item by item.
    """
    violations: list[Violation] = []
    for obj in objects:
        if not isinstance(obj, dict):
            continue
        items = obj.get("items")
        if str(obj.get("kind", "")).endswith("List") and isinstance(items, list):
            violations += check(items, policy, scope_of=scope_of)
            continue
        violations += check_kinds(obj, policy, scope_of)
        violations += check_pod_security(obj, policy.pod_security)
        violations += check_images(obj, policy)
    return violations
