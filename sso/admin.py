from django.contrib import admin
from django.db import transaction

from audit.services import diff, record, snapshot
from sso.models import SsoIdentity


@admin.register(SsoIdentity)
class SsoIdentityAdmin(admin.ModelAdmin):
    """Links made at sign-in, and links an admin makes so that an identity signs in as an
    existing user (docs/sso.md). Each change is in the audit trail."""

    list_display = ["user", "subject", "issuer", "last_sign_in_at"]
    search_fields = ["user__username", "subject"]
    raw_id_fields = ["user"]
    readonly_fields = ["created_at", "last_sign_in_at"]

    def save_model(self, request, obj, form, change) -> None:
        with transaction.atomic():
            before = snapshot(SsoIdentity.objects.get(pk=obj.pk)) if change else {}
            super().save_model(request, obj, form, change)
            action = "sso_identity.changed" if change else "sso_identity.linked"
            record(action, obj, changes=diff(before, snapshot(obj)))

    def delete_model(self, request, obj) -> None:
        with transaction.atomic():
            record("sso_identity.unlinked", obj, changes=snapshot(obj))
            super().delete_model(request, obj)

    def delete_queryset(self, request, queryset) -> None:
        for obj in queryset:
            self.delete_model(request, obj)
