from django.contrib import admin

from approvals.models import Approval
from kubernaut.admin import ReadOnlyAdmin


@admin.register(Approval)
class ApprovalAdmin(ReadOnlyAdmin):
    """Read-only: decisions are made on the deployment's page or through the API, and kept."""

    list_display = ["deployment", "user", "decision", "created_at"]
    list_filter = ["decision"]
    search_fields = ["user__username", "comment"]
    raw_id_fields = ["deployment", "user"]
