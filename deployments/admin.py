from django.contrib import admin

from deployments.models import Deployment, LogEntry
from kubernaut.admin import DeletedFilter, SoftDeleteAdmin


class LogEntryInline(admin.TabularInline):
    model = LogEntry
    fields = ["time", "level", "message"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Deployment)
class DeploymentAdmin(SoftDeleteAdmin):
    list_display = ["id", "release", "namespace", "status", "created_by", "created_at"]
    list_filter = [DeletedFilter, "status", "namespace__cluster"]
    list_select_related = ["release__service", "namespace__cluster", "created_by"]
    search_fields = ["release__service__name", "release__version", "namespace__name"]
    readonly_fields = [
        "release", "namespace", "status", "reason", "requested_attributes", "attributes",
        "manifest", "applied_objects", "workloads", "timeout_seconds", "redeploy_of",
        "created_by", "created_at", "started_at", "finished_at", "heartbeat_at", "worker",
        "cancelled_by",
    ]  # fmt: skip
    exclude = ["deleted_at", "deleted_by"]
    inlines = [LogEntryInline]
    show_full_result_count = False

    def has_add_permission(self, request) -> bool:
        return False  # deployments are asked for through the API or the UI, where they are checked
