from django.contrib import admin, messages

from accounts.models import ApiToken


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
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
