"""Admin pieces every app with soft-deleted rows shares (kubernaut/softdelete.py)."""

from django.contrib import admin
from django.db import IntegrityError, transaction


class DeletedFilter(admin.SimpleListFilter):
    """Alive rows by default; deleted ones, or all, on request."""

    title = "status"
    parameter_name = "deleted"

    def lookups(self, request, model_admin):
        return [("yes", "Deleted"), ("all", "All")]

    def choices(self, changelist):
        yield {
            "selected": self.value() is None,
            "query_string": changelist.get_query_string(remove=[self.parameter_name]),
            "display": "Not deleted",
        }
        for value, title in self.lookup_choices:
            yield {
                "selected": self.value() == value,
                "query_string": changelist.get_query_string({self.parameter_name: value}),
                "display": title,
            }

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.deleted()
        if self.value() == "all":
            return queryset
        return queryset.alive()


class SoftDeleteAdmin(admin.ModelAdmin):
    actions = ["soft_delete", "restore"]

    def get_queryset(self, request):
        return self.model.all_objects.get_queryset()

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # soft delete is an action; rows are never removed

    @admin.action(description="Delete selected (soft)", permissions=["change"])
    def soft_delete(self, request, queryset):
        for obj in queryset.alive():
            obj.soft_delete(by=request.user)
        self.message_user(request, "Deleted; the rows are kept and can be restored.")

    @admin.action(description="Restore selected", permissions=["change"])
    def restore(self, request, queryset):
        for obj in queryset.deleted():
            try:
                with transaction.atomic():
                    obj.restore()
            except IntegrityError:
                self.message_user(request, f"{obj} not restored: its name is taken.", "warning")
