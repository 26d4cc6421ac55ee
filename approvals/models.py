"""People's decisions on deployments that wait for approval (docs/approvals.md).

A namespace with `required_approvals` N > 0 makes each deployment to it wait
(`awaiting_approval`) until N people holding deployer there, other than the requester, approve
it; one rejection ends it. The decisions are append-only: each person decides once per
deployment, and a decision is never changed or removed (the database refuses deletes).
"""

from django.conf import settings
from django.db import models
from django.utils import timezone

from deployments.models import Deployment

MAX_COMMENT_LENGTH = 1000


class Approval(models.Model):
    """One person's decision on one deployment: approve or reject, with a comment."""

    class Decision(models.TextChoices):
        APPROVE = "approve"
        REJECT = "reject"

    deployment = models.ForeignKey(
        Deployment, on_delete=models.PROTECT, related_name="approvals", db_index=False
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decision = models.CharField(max_length=8, choices=Decision.choices)
    comment = models.CharField(max_length=MAX_COMMENT_LENGTH, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["id"]
        constraints = [
            # Leads with the deployment: it also serves "the decisions on this deployment".
            models.UniqueConstraint(
                fields=["deployment", "user"],
                name="approval_one_per_person",
                violation_error_message="You have already decided on this deployment.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.decision}s deployment #{self.deployment_id}"
