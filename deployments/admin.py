from django.contrib import admin
from django.utils.html import format_html

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
    """A deployment is a record of what happened: its page is view-only (no Save), while soft
    delete and restore stay as list actions."""

    list_display = ["id", "release", "namespace", "status", "created_by", "created_at"]
    list_filter = [DeletedFilter, "status", "namespace__cluster"]
    list_select_related = ["release__service", "namespace__cluster", "created_by"]
    search_fields = ["release__service__name", "release__version", "namespace__name"]
    readonly_fields = [
        "release", "namespace", "status", "reason", "requested_attributes", "attributes",
        "rendered_manifest", "applied_objects", "workloads", "timeout_seconds", "redeploy_of",
        "created_by", "created_at", "started_at", "finished_at", "heartbeat_at", "worker",
        "cancelled_by",
    ]  # fmt: skip
    exclude = ["deleted_at", "deleted_by", "manifest"]
    inlines = [LogEntryInline]
    show_full_result_count = False

    def has_add_permission(self, request) -> bool:
        return False  # deployments are asked for through the API or the UI, where they are checked

    def has_change_permission(self, request, obj=None) -> bool:
        # No row: the list and its actions; a row: shown, never edited (its service, say).
        return obj is None and super().has_change_permission(request)

    @admin.display(description="manifest")
    def rendered_manifest(self, deployment: Deployment) -> str:
        # A <pre>, so YAML keeps its indentation (the default display collapses the spaces).
        return format_html('<pre class="manifest">{}</pre>', deployment.manifest)
