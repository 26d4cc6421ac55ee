from django.contrib import admin, messages
from django.contrib.auth import admin as auth_admin
from django.contrib.auth.models import Group, User
from django.db import transaction

from accounts.models import ApiToken
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
class ApiTokenAdmin(AuditedAdmin):
    list_display = ["key_prefix", "user", "name", "created_at", "last_used_at", "revoked_at"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["user__username", "name", "key_prefix"]
    readonly_fields = ["key_prefix", "created_at", "last_used_at"]
    fields = ["user", "name", "key_prefix", "created_at", "last_used_at", "revoked_at"]
    autocomplete_fields = ["user"]

    def save_model(self, request, obj, form, change):
        if not change:
            # A new token gets a fresh key, shown once in the confirmation message.
            key = obj.set_new_key()
            messages.warning(
                request, f"The token's key is {key}: copy it now, it is not shown again."
            )
        super().save_model(request, obj, form, change)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # revoke instead: the row says who could call the API, and until when
