from django.conf import settings
from django.contrib import admin

from kubernaut.admin import ReadOnlyAdmin
from maintenance import services
from maintenance.models import MaintenanceRun


@admin.register(MaintenanceRun)
class MaintenanceRunAdmin(ReadOnlyAdmin):
    """The database health page: table statistics above the list of maintenance runs."""

    list_display = ["started_at", "trigger", "duration_ms", "table_count", "vacuumed", "error"]
    list_filter = ["trigger"]
    readonly_fields = ["started_at", "trigger", "duration_ms", "vacuumed", "error", "tables"]
    change_list_template = "admin/maintenance/database_health.html"

    @admin.display(description="tables")
    def table_count(self, run) -> int:
        return len(run.tables)

    def changelist_view(self, request, extra_context=None):
        stats = services.table_stats()
        stale = set(services.stale_tables(stats))
        for table in stats:
            table["stale"] = table["relname"] in stale
            table["needs_vacuum"] = services.needs_vacuum(table)
        context = {
            "table_stats": stats,
            "stale_tables": sorted(stale),
            "analyze_minutes": settings.KUBERNAUT_ANALYZE_MINUTES,
            **(extra_context or {}),
        }
        return super().changelist_view(request, extra_context=context)
