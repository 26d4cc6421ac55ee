"""Webhooks are read here, never written: the API validates and encrypts what it stores, and
neither the secret nor the address's path is shown."""

from django.contrib import admin

from kubernaut.admin import DeletedFilter, ReadOnlyAdmin
from notifications.models import Delivery, Webhook


class WebhookAdmin(ReadOnlyAdmin):
    list_display = ["id", "kind", "url_shown", "namespace", "service", "created_by", "deleted_at"]
    list_filter = [DeletedFilter, "kind"]
    fields = ["kind", "url_shown", "events", "cluster", "namespace", "service", "created_by",
              "created_at", "deleted_at", "deleted_by"]  # fmt: skip

    def get_queryset(self, request):
        return Webhook.all_objects.select_related("namespace__cluster", "service", "created_by")


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = ["id", "webhook", "event", "attempt", "state", "status_code", "started_at",
                    "duration_ms"]  # fmt: skip
    list_filter = ["state", "event"]
    fields = [
        "webhook", "event", "event_id", "attempt", "state", "status_code", "error", "created_at",
        "next_attempt_at", "queued_at", "started_at", "duration_ms", "body",
    ]  # fmt: skip
