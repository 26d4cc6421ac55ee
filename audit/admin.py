from django.contrib import admin

from audit.models import AuditEntry
from kubernaut.admin import ReadOnlyAdmin


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    """The trail, read-only: the database refuses to change or remove an entry anyway, and the
    admin should not offer what would fail."""

    list_display = ["at", "actor_name", "door", "token_name", "ip", "action", "object_repr"]
    list_filter = ["door", "action"]
    search_fields = ["actor_name", "object_repr"]
    show_full_result_count = False  # COUNT(*) over a trail that only grows is slow
    readonly_fields = [
        "at", "actor", "actor_name", "door", "token_name", "ip", "action", "object_type",
        "object_id", "object_repr", "changes", "message",
    ]  # fmt: skip
