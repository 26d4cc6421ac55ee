from django.contrib import admin

from kubernaut.admin import DeletedFilter, ReadOnlyAdmin
from locks.models import Lock


@admin.register(Lock)
class LockAdmin(ReadOnlyAdmin):
    """Read-only: locks are made and lifted through the API, the CLI or the deploy page, which
    check roles and write the audit trail."""

    list_display = ("id", "namespace", "service", "reason", "created_by", "created_at", "until",
                    "deleted_at", "deleted_by")  # fmt: skip
    list_filter = (DeletedFilter,)
    list_select_related = ("namespace__cluster", "service", "created_by", "deleted_by")
    search_fields = ("reason", "namespace__name", "service__name")

    def get_queryset(self, request):
        return Lock.all_objects.get_queryset()
