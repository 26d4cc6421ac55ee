from django.contrib import admin

from approvals.models import Approval


@admin.register(Approval)
class ApprovalAdmin(admin.ModelAdmin):
    """Read-only: decisions are made on the deployment's page or through the API, and kept."""

    list_display = ["deployment", "user", "decision", "created_at"]
    list_filter = ["decision"]
    search_fields = ["user__username", "comment"]
    raw_id_fields = ["deployment", "user"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
