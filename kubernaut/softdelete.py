"""Soft delete, shared by releases, clusters, namespaces and deployments.

Rows are never removed: `objects` hides deleted rows, `all_objects` shows them all. Deleting
and restoring are recorded in the audit trail ("<model>.deleted", "<model>.restored") in the same
transaction, whichever door they came through.
"""

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

from audit import services as audit


class SoftDeleteQuerySet(models.QuerySet):
    def alive(self):
        return self.filter(deleted_at__isnull=True)

    def deleted(self):
        return self.filter(deleted_at__isnull=False)


class AliveManager(models.Manager.from_queryset(SoftDeleteQuerySet)):
    """The default manager: rows that are not soft-deleted."""

    def get_queryset(self):
        return super().get_queryset().alive()


AllManager = models.Manager.from_queryset(SoftDeleteQuerySet)


class SoftDeleteModel(models.Model):
    deleted_at = models.DateTimeField(null=True, blank=True, editable=False)
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
    )

    objects = AliveManager()
    all_objects = AllManager()
    # The audit trail's name for the model ("<name>.deleted"); the model's own name if empty.
    audit_name = ""

    class Meta:
        abstract = True
        # The admin and related lookups must see deleted rows too.
        base_manager_name = "all_objects"

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    def soft_delete(self, by, message: str = "") -> bool:
        """Mark the row deleted; False if it already was (another request got there first).
        Recorded in the audit trail as "<model>.deleted", with `message` if given."""
        now = timezone.now()
        with transaction.atomic():
            updated = (
                type(self)
                .all_objects.filter(pk=self.pk, deleted_at__isnull=True)
                .update(deleted_at=now, deleted_by=by)
            )
            if updated:
                self.deleted_at, self.deleted_by = now, by
                audit.record(
                    f"{self.audit_name or self._meta.model_name}.deleted",
                    self,
                    actor=by,
                    message=message,
                )
        return bool(updated)

    def restore(self, by=None) -> None:
        """Bring a deleted row back (for `by`, when known; else whoever the audit context names).
        Raises IntegrityError if a unique name was taken again."""
        with transaction.atomic():
            restored = (
                type(self)
                .all_objects.filter(pk=self.pk, deleted_at__isnull=False)
                .update(deleted_at=None, deleted_by=None)
            )
            self.deleted_at, self.deleted_by = None, None
            if restored:
                audit.record(f"{self.audit_name or self._meta.model_name}.restored", self, actor=by)


# The database itself refuses DELETE on soft-deleted tables, so no code path, script or hand-typed
# SQL can remove a row by mistake. Migrations install it with `refuse_delete_operations(table)`.
REFUSE_DELETE_FUNCTION = """
CREATE OR REPLACE FUNCTION kubernaut_refuse_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'rows of % are never removed: set deleted_at to soft-delete them',
        TG_TABLE_NAME USING ERRCODE = 'restrict_violation';
END
$$;
"""


def refuse_delete_operations(*tables: str) -> list:
    """Migration operations: a trigger on each table that refuses DELETE."""
    from django.db import migrations

    operations = [migrations.RunSQL(REFUSE_DELETE_FUNCTION, reverse_sql=migrations.RunSQL.noop)]
    for table in tables:
        operations.append(
            migrations.RunSQL(
                f"CREATE TRIGGER {table}_refuse_delete BEFORE DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION kubernaut_refuse_delete();",
                reverse_sql=f"DROP TRIGGER {table}_refuse_delete ON {table};",
            )
        )
    return operations
