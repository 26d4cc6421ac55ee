from django.contrib import admin, messages
from django.db import IntegrityError, transaction

from kubernaut.admin import AuditedAdmin, DeletedFilter
from releases.models import Release, Service


@admin.register(Service)
class ServiceAdmin(AuditedAdmin):
    list_display = ["name", "team", "created_at"]
    list_filter = ["team"]
    list_select_related = ["team"]
    search_fields = ["name", "team__name"]
    fields = ["name", "team", "created_at"]
    readonly_fields = ["created_at"]

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # a service's releases and deployments are history


@admin.register(Release)
class ReleaseAdmin(AuditedAdmin):
    list_display = ["service", "version", "created_by", "created_at", "deleted_at"]
    list_filter = [DeletedFilter, "created_at", "service"]
    search_fields = ["service__name", "version", "comment"]
    list_select_related = ["service", "created_by"]
    readonly_fields = [
        "service",
        "version",
        "template",
        "attributes",
        "created_by",
        "created_at",
        "deleted_at",
        "deleted_by",
    ]
    fields = readonly_fields[:5] + ["comment"] + readonly_fields[5:]
    actions = ["soft_delete", "restore"]
    show_full_result_count = False  # COUNT(*) over millions of rows on every page is slow

    def get_queryset(self, request):
        return Release.all_objects.get_queryset()

    def has_add_permission(self, request) -> bool:
        return False  # releases come from CI through the API, where templates are checked

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # soft delete is an action; rows are never removed

    @admin.action(description="Delete selected releases (soft)", permissions=["change"])
    def soft_delete(self, request, queryset):
        # One by one, through the model: each deletion gets its own audit entry.
        count = sum(release.soft_delete(by=request.user) for release in queryset.alive())
        self.message_user(request, f"Deleted {count} release(s); they can be restored.")

    @admin.action(description="Restore selected releases", permissions=["change"])
    def restore(self, request, queryset):
        restored, refused = 0, []
        for release in queryset.deleted().select_related("service"):
            try:
                with transaction.atomic():
                    release.restore(by=request.user)
                restored += 1
            except IntegrityError:
                refused.append(str(release))
        if restored:
            self.message_user(request, f"Restored {restored} release(s).")
        if refused:
            self.message_user(
                request,
                "Not restored, because another release has the same version now: "
                + ", ".join(refused),
                level=messages.WARNING,
            )
