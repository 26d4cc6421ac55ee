from django.contrib import admin, messages
from django.contrib.auth import admin as auth_admin
from django.contrib.auth.models import Group, User
from django.db import transaction

from accounts.models import ApiToken
from audit.services import record
from kubernaut.admin import AuditedAdmin

# Django's own user and group admins, re-registered so that changes to who may do what (users,
# their permissions and groups) are recorded in the audit trail like every other admin change.
admin.site.unregister(User)
admin.site.unregister(Group)


@admin.register(User)
class UserAdmin(AuditedAdmin, auth_admin.UserAdmin):
    def user_change_password(self, request, id, form_url=""):
        # Django's view saves without a transaction; the password and its audit entry (written
        # by log_change) are kept together or not at all.
        with transaction.atomic():
            return super().user_change_password(request, id, form_url)


@admin.register(Group)
class GroupAdmin(AuditedAdmin, auth_admin.GroupAdmin):
    pass


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens with their scope. The key's hash is never shown (nor editable): the prefix tells
    tokens apart."""

    list_display = [
        "key_prefix",
        "user",
        "name",
        "read_only",
        "services",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
    ]
    list_filter = [
        ("revoked_at", admin.EmptyFieldListFilter),
        ("expires_at", admin.EmptyFieldListFilter),
        "read_only",
    ]
    search_fields = ["user__username", "name", "key_prefix"]
    readonly_fields = ["key_prefix", "created_at", "last_used_at"]
    fields = [
        "user",
        "name",
        "key_prefix",
        "namespaces",
        "services",
        "read_only",
        "expires_at",
        "created_at",
        "last_used_at",
        "revoked_at",
    ]
    autocomplete_fields = ["user"]
    filter_horizontal = ["namespaces"]

    def save_model(self, request, obj, form, change):
        if not change:
            # A new token gets a fresh key, shown once in the confirmation message.
            key = obj.set_new_key()
            messages.warning(
                request, f"The token's key is {key}: copy it now, it is not shown again."
            )
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        # After the namespaces are saved, so that the entry tells the whole scope. The admin
        # runs this in the same transaction as the save.
        super().save_related(request, form, formsets, change)
        obj = form.instance
        if not change:
            record("token.created", obj, message=obj.scope_summary())
        elif "revoked_at" in form.changed_data and obj.revoked_at is not None:
            record("token.revoked", obj, message=f"Revoked the token {obj.label} in the admin.")
        elif form.changed_data:
            record(
                "token.changed",
                obj,
                changes={"fields": sorted(form.changed_data)},
                message=obj.scope_summary(),
            )

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # revoke instead: the row says who could call the API, and until when
