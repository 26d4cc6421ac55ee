"""Deploy policies: what a namespace lets a rendered manifest contain.

Pure functions over rendered Kubernetes objects, with no models and no other Kubernaut app:
Pod Security Standards levels (pod_security.py), cluster-scoped and allowed or denied kinds
(kinds.py) and allowed image registries (images.py). `check()` runs them all.
"""

from policies.checks import check
from policies.images import REGISTRY_PATTERN, REGISTRY_PATTERN_HELP
from policies.kinds import KIND_PATTERN, KIND_PATTERN_HELP
from policies.types import (
    BASELINE,
    LEVELS,
    PRIVILEGED,
    RESTRICTED,
    Policy,
    Violation,
    refusal_sentence,
)

__all__ = [
    "BASELINE", "KIND_PATTERN", "KIND_PATTERN_HELP", "LEVELS", "PRIVILEGED", "REGISTRY_PATTERN",
    "REGISTRY_PATTERN_HELP", "RESTRICTED", "Policy", "Violation", "check",
    "refusal_sentence",
]  # fmt: skip
