"""Admin pieces every app shares: the audit trail of admin changes (AuditedAdmin) and soft
delete (kubernaut/softdelete.py)."""

from django.contrib import admin
from django.db import IntegrityError, transaction

from audit import services as audit


class AuditedAdmin(admin.ModelAdmin):
    """A ModelAdmin whose every add, change and delete is recorded in the audit trail, in the
    transaction the admin saves in: "<model>.created" with the new row's fields,
    "<model>.changed" with {"field": [before, after]} for the fields that changed (many-to-many
    ones as {"added": [...], "removed": [...]}, inline rows under "<model> (inline)"),
    "<model>.deleted" with what the row held. Secret fields (passwords, kubeconfigs, encrypted
    columns: audit.services.is_secret) only ever show "(secret changed)" or "(secret set)".

    Every admin class derives from it (or from SoftDeleteAdmin, which does), e.g.

        @admin.register(Team)
        class TeamAdmin(AuditedAdmin): ...

    Admin actions are not covered here: an action calls a model method or service that records
    its own entry (soft_delete and restore do). Change forms get an "Audit trail" link to
    /audit/?object=<app.model>:<id> (templates/admin/audited_change_form.html).
    """

    change_form_template = "admin/audited_change_form.html"

    def save_model(self, request, obj, form, change):
        if change:
            # Read before the save: the form has already written its values onto `obj`.
            before = type(obj)._base_manager.filter(pk=obj.pk).first()
            pending = getattr(request, "_audit_before", {})
            pending[obj.pk] = before
            request._audit_before = pending
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        obj = form.instance
        many = [f for f in obj._meta.many_to_many if f.name in form.changed_data]
        related_before = {f.name: set(map(str, getattr(obj, f.name).all())) for f in many}
        super().save_related(request, form, formsets, change)
        before = getattr(request, "_audit_before", {}).pop(obj.pk, None)
        if change and before is not None:
            changes = audit.changes_between(before, obj)
        else:
            changes = audit.created_summary(obj)
        for field in many:
            after = set(map(str, getattr(obj, field.name).all()))
            added, removed = after - related_before[field.name], related_before[field.name] - after
            if change and (added or removed):
                changes[field.name] = {"added": sorted(added), "removed": sorted(removed)}
            elif not change:
                changes[field.name] = sorted(after)
        for name in form.changed_data:  # form-only fields, e.g. a new kubeconfig
            if name not in changes and audit.is_secret(name):
                changes[name] = audit.SECRET_PLACEHOLDER
        for formset in formsets:
            inline = inline_changes(formset)
            if inline:
                changes[f"{formset.model._meta.model_name} (inline)"] = inline
        if changes or not change:
            action = "changed" if change else "created"
            audit.record(f"{obj._meta.model_name}.{action}", obj, changes=changes)
        recorded = getattr(request, "_audit_recorded", set())
        recorded.add((obj._meta.label_lower, obj.pk))
        request._audit_recorded = recorded

    def log_change(self, request, obj, message):
        """Views that change a row without save_model (the user admin's password form) still
        leave an entry; rows save_related recorded are not recorded twice."""
        if (obj._meta.label_lower, obj.pk) not in getattr(request, "_audit_recorded", set()):
            fields = [
                name
                for part in (message if isinstance(message, list) else [])
                for name in part.get("changed", {}).get("fields", [])
            ]
            changes = {
                name: audit.SECRET_PLACEHOLDER if audit.is_secret(name) else "(changed)"
                for name in fields
            }
            audit.record(f"{obj._meta.model_name}.changed", obj, changes=changes)
        return super().log_change(request, obj, message)

    def delete_model(self, request, obj):
        with transaction.atomic():
            audit.record(f"{obj._meta.model_name}.deleted", obj, changes=audit.snapshot(obj))
            super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            for obj in queryset:
                audit.record(f"{obj._meta.model_name}.deleted", obj, changes=audit.snapshot(obj))
            super().delete_queryset(request, queryset)


def inline_changes(formset) -> dict:
    """What a saved inline formset added, changed and deleted, by the rows' names."""
    changes = {}
    if getattr(formset, "new_objects", None):
        changes["added"] = [str(obj) for obj in formset.new_objects]
    if getattr(formset, "changed_objects", None):
        changes["changed"] = {str(obj): fields for obj, fields in formset.changed_objects}
    if getattr(formset, "deleted_objects", None):
        changes["deleted"] = [str(obj) for obj in formset.deleted_objects]
    return changes


class ReadOnlyAdmin(admin.ModelAdmin):
    """A record only the application writes (audit entries, locks, approvals, auto-deploys,
    webhooks, maintenance runs): the admin shows it and changes nothing."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


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


class SoftDeleteAdmin(AuditedAdmin):
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
                    obj.restore(by=request.user)
            except IntegrityError:
                self.message_user(request, f"{obj} not restored: its name is taken.", "warning")
