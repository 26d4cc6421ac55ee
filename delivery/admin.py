from django.contrib import admin

from delivery.models import AutoDeploy
from kubernaut.admin import DeletedFilter, ReadOnlyAdmin


@admin.register(AutoDeploy)
class AutoDeployAdmin(ReadOnlyAdmin):
    """Read-only: continuous delivery is turned on, off and resumed through the API, the CLI or
    the service's page, which check roles and write the audit trail."""

    list_display = ("id", "service", "namespace", "created_by", "created_at", "paused_at",
                    "paused_reason", "last_deployment", "deleted_at")  # fmt: skip
    list_filter = (DeletedFilter,)
    list_select_related = ("service", "namespace__cluster", "created_by")
    search_fields = ("service__name", "namespace__name", "paused_reason")

    def get_queryset(self, request):
        return AutoDeploy.all_objects.get_queryset()
