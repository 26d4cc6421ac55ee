"""Continuous delivery: "every new release of billing goes to staging/web at once".

An AutoDeploy is on while it is not deleted (turned off = soft-deleted, the row stays for the
record). It is paused while `paused_at` is set: after a deployment there failed or was rolled
back, nothing is shipped automatically until someone resumes it, so continuous delivery never
re-ships what was just rolled back.
"""

from django.conf import settings
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone

from audit import context as audit_context
from audit import services as audit
from kubernaut.softdelete import SoftDeleteModel
from locks.models import utc


class AutoDeploy(SoftDeleteModel):
    """Continuous delivery of one service to one namespace, deployed by the system user.

    Transitions, each one atomic UPDATE audited in its transaction:
        on -> paused      (`pause`: a deployment there failed, timed out or was rolled back, or
                           continuous delivery could not deploy a release: the reason says which)
        paused -> on      (`resume`, by a person)
        on | paused -> off (soft delete)
    """

    audit_name = "auto_deploy"

    service = models.ForeignKey(
        "releases.Service", on_delete=models.PROTECT, related_name="auto_deploys"
    )
    namespace = models.ForeignKey(
        "clusters.Namespace", on_delete=models.PROTECT, related_name="auto_deploys",
        db_index=False,
    )  # fmt: skip
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    paused_at = models.DateTimeField(null=True, blank=True)
    paused_reason = models.TextField(blank=True, default="")
    paused_by_deployment = models.ForeignKey(
        "deployments.Deployment", on_delete=models.PROTECT, null=True, blank=True,
        related_name="+", help_text="The deployment whose failure or rollback paused it",
    )  # fmt: skip
    # The newest release dealt with (deployed, or skipped because of a lock or a pause; at first
    # the service's newest when it was turned on): only releases with a greater id are deployed,
    # so a repeated task, or an older release registered again, deploys nothing.
    last_release = models.ForeignKey(
        "releases.Release", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    last_deployment = models.ForeignKey(
        "deployments.Deployment", on_delete=models.PROTECT, null=True, blank=True,
        related_name="+", help_text="The last deployment continuous delivery made here",
    )  # fmt: skip
    last_skipped_at = models.DateTimeField(null=True, blank=True)
    last_skipped_reason = models.TextField(
        blank=True, default="", help_text="Why the last release was not deployed (a lock, a pause)"
    )

    class Meta(SoftDeleteModel.Meta):
        ordering = ["-id"]
        verbose_name = "auto-deploy"
        constraints = [
            models.UniqueConstraint(
                fields=["namespace", "service"],
                condition=Q(deleted_at__isnull=True),
                name="auto_deploy_one_per_target",
                violation_error_message="Continuous delivery of this service to this namespace "
                "is on already.",
            ),
        ]

    def __str__(self) -> str:
        return f"auto-deploy #{self.pk}: {self.target}"

    @property
    def target(self) -> str:
        """`billing to prod/web`"""
        return f"{self.service.name} to {self.namespace.cluster.name}/{self.namespace.name}"

    @property
    def is_paused(self) -> bool:
        return self.paused_at is not None

    def _rows(self) -> models.QuerySet:
        return type(self).objects.filter(pk=self.pk)

    def pause(self, reason: str, deployment=None) -> bool:
        """Pause (by the system); False if it was paused already or turned off."""
        now = timezone.now()
        with transaction.atomic():
            updated = (
                self._rows()
                .filter(paused_at__isnull=True)
                .update(paused_at=now, paused_reason=reason, paused_by_deployment=deployment)
            )
            if updated:
                self.paused_at, self.paused_reason = now, reason
                self.paused_by_deployment = deployment
                with audit_context.acting_as(audit_context.SYSTEM):
                    audit.record(
                        "auto_deploy.paused",
                        self,
                        changes={"deployment": deployment.pk if deployment else None},
                        message=reason,
                    )
        return bool(updated)

    def resume(self, by) -> bool:
        """Resume for the user `by`; False if it was not paused (or was turned off)."""
        with transaction.atomic():
            updated = (
                self._rows()
                .filter(paused_at__isnull=False)
                .update(paused_at=None, paused_reason="", paused_by_deployment=None)
            )
            if updated:
                audit.record(
                    "auto_deploy.resumed",
                    self,
                    actor=by,
                    changes={"paused_reason": [self.paused_reason, ""]},
                    message=f"Paused since {utc(self.paused_at)}: {self.paused_reason}",
                )
                self.paused_at, self.paused_reason, self.paused_by_deployment = None, "", None
        return bool(updated)
