"""The two shapes every check shares: a namespace's policy, and one way a manifest breaks it."""

from dataclasses import dataclass

PRIVILEGED, BASELINE, RESTRICTED = "privileged", "baseline", "restricted"
LEVELS = (PRIVILEGED, BASELINE, RESTRICTED)  # from open to strict, as Pod Security Standards


@dataclass(frozen=True)
class Policy:
    """What a namespace lets a deployment contain. The defaults are a new namespace's."""

    pod_security: str = BASELINE
    allow_cluster_scoped: bool = False
    allowed_kinds: tuple[str, ...] = ()  # empty: every kind (cluster-scoped ones as above)
    denied_kinds: tuple[str, ...] = ()
    allowed_registries: tuple[str, ...] = ()  # empty: any registry


@dataclass(frozen=True)
class Violation:
    """One object breaking one rule at one field, with a sentence saying so.

    `rule` is stable for programs: `baseline/privileged`, `restricted/runAsNonRoot` (Pod Security
    Admission's check ids, prefixed by level), `cluster-scoped`, `allowed-kinds`, `denied-kinds`,
    `allowed-registries` (the namespace settings).
    """

    object: str  # kubectl's name for it: deployment.apps/web
    field: str  # spec.template.spec.containers[0].securityContext.privileged
    rule: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {
            "object": self.object,
            "field": self.field,
            "rule": self.rule,
            "message": self.message,
        }


def refusal_sentence(violations: list[Violation], limit: int = 5) -> str:
    """One paragraph for a person: the first violations' sentences and what to do."""
    shown = " ".join(v.message for v in violations[:limit])
    more = len(violations) - limit
    tail = f" (and {more} more)" if more > 0 else ""
    return (
        f"The namespace's deploy policy refuses this manifest: {shown}{tail} Change the template, "
        "or ask an admin to relax the namespace's policy."
    )
