from django.contrib import admin

from delivery.models import AutoDeploy
from kubernaut.admin import DeletedFilter


@admin.register(AutoDeploy)
class AutoDeployAdmin(admin.ModelAdmin):
    """Read-only: continuous delivery is turned on, off and resumed through the API, the CLI or
    the service's page, which check roles and write the audit trail."""

    list_display = ("id", "service", "namespace", "created_by", "created_at", "paused_at",
                    "paused_reason", "last_deployment", "deleted_at")  # fmt: skip
    list_filter = (DeletedFilter,)
    list_select_related = ("service", "namespace__cluster", "created_by")
    search_fields = ("service__name", "namespace__name", "paused_reason")

    def get_queryset(self, request):
        return AutoDeploy.all_objects.get_queryset()

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
