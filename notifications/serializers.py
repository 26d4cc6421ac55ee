"""Input and output shapes of the webhooks API.

Neither the secret nor the address's path is ever an output field: the secret signs what
Kubernaut sends, and a Slack address carries its token in the path (`url` shows the scheme, host
and port only; `has_secret` says whether a secret is set).
"""

import json
from urllib.parse import urlsplit

from django.conf import settings
from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from clusters.serializers import StrictCharField
from kubernaut.api import api_base_url, iso_time
from notifications import outbound
from notifications.models import Delivery, Event, Webhook

MAX_URL_LENGTH = 2000
MIN_SECRET_LENGTH = 16
MAX_SECRET_LENGTH = 256


def url_problem(url: str) -> str:
    """Why the address cannot be a webhook's, "" if it can."""
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        return "The address may not contain spaces or control characters."
    if not url.isascii():
        return (
            "Write the address in ASCII: a host name in its punycode form (xn--...), other "
            "characters percent-encoded."
        )
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return "Give an http:// or https:// address, like https://hooks.slack.com/services/..."
    if parts.username is not None or parts.password is not None:
        return (
            "Take the user name and password out of the address: they would be stored and "
            "sent with every request. Use a generic webhook's secret to prove who is calling."
        )
    if parts.fragment or url.endswith("#"):
        return "Take the #fragment out of the address: it is never sent."
    if not parts.hostname:
        return "The address has no host."
    try:
        parts.port  # noqa: B018 (reading it checks it)
    except ValueError:
        return "The address's port must be a number from 1 to 65535."
    if parts.port == 0:
        return "The address's port must be a number from 1 to 65535."
    if not settings.KUBERNAUT_WEBHOOK_ALLOW_PRIVATE:
        refusal = outbound.literal_refusal(parts.hostname)
        if refusal:
            return refusal.replace("Not sent: ", "", 1)
    return ""


class WebhookInputSerializer(serializers.Serializer):
    url = StrictCharField(
        max_length=MAX_URL_LENGTH,
        trim_whitespace=False,
        help_text="Where to POST: Slack's incoming-webhook address, or your receiver's",
    )
    kind = serializers.ChoiceField(
        choices=Webhook.Kind.values,
        help_text="slack: Slack's message JSON; generic: Kubernaut's JSON, signed with `secret`",
    )
    secret = StrictCharField(
        required=False,
        write_only=True,
        trim_whitespace=False,
        min_length=MIN_SECRET_LENGTH,
        max_length=MAX_SECRET_LENGTH,
        help_text="generic only, and required there: the key of the HMAC-SHA256 signature in "
        "X-Kubernaut-Signature. Never shown back.",
    )
    events = serializers.ListField(
        child=serializers.ChoiceField(
            choices=Event.values,
            error_messages={
                "invalid_choice": '"{input}" is not an event; the events are: '
                + ", ".join(Event.values)
                + "."
            },
        ),
        min_length=1,
        max_length=50,
        help_text="The events to send: " + ", ".join(Event.values),
    )
    cluster = StrictCharField(
        required=False, allow_null=True, max_length=63, help_text="Only events in this cluster"
    )
    namespace = StrictCharField(
        required=False,
        allow_null=True,
        max_length=63,
        help_text="Only events in this namespace (give the cluster too when several have it)",
    )
    service = StrictCharField(
        required=False, allow_null=True, max_length=63, help_text="Only events of this service"
    )

    def to_internal_value(self, data):
        unknown = [name for name in data if name not in self.fields]
        if unknown:
            known = ", ".join(self.fields)
            raise serializers.ValidationError(
                {name: [f"Unknown field {name!r}; the fields are: {known}."] for name in unknown}
            )
        return super().to_internal_value(data)

    def validate_url(self, url: str) -> str:
        problem = url_problem(url)
        if problem:
            raise serializers.ValidationError(problem)
        return url

    def validate_events(self, events: list[str]) -> list[str]:
        return list(dict.fromkeys(events))  # each once, in the order given

    def validate(self, data):
        if data["kind"] == Webhook.Kind.GENERIC and not data.get("secret"):
            raise serializers.ValidationError(
                {
                    "secret": [
                        f"A generic webhook needs a secret of at least {MIN_SECRET_LENGTH} "
                        "characters: it signs every request so the receiver can tell it came "
                        "from Kubernaut."
                    ]
                }
            )
        if data["kind"] == Webhook.Kind.SLACK and data.get("secret"):
            raise serializers.ValidationError(
                {
                    "secret": [
                        "Slack webhooks take no secret (Slack's address is its secret); leave "
                        "it out, or use kind generic."
                    ]
                }
            )
        return data


class WebhookInputSchema(OpenApiSerializerExtension):
    """Tells the OpenAPI document what to_internal_value and validate enforce: no other fields,
    a secret with a generic webhook and none with a Slack one."""

    target_class = WebhookInputSerializer

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        schema["additionalProperties"] = False
        schema["properties"]["url"]["pattern"] = "^[Hh][Tt][Tt][Pp][Ss]?://[^\\s/?#@]+"
        schema["oneOf"] = [
            {"properties": {"kind": {"const": "generic"}}, "required": ["secret"]},
            {"properties": {"kind": {"const": "slack"}}, "not": {"required": ["secret"]}},
        ]
        return schema


class WebhookSerializer(serializers.ModelSerializer):
    url = serializers.CharField(
        source="url_shown",
        help_text="The address with its path hidden: scheme, host and port (a Slack address's "
        "path is its token)",
    )
    has_secret = serializers.BooleanField()
    events = serializers.ListField(child=serializers.CharField())
    cluster = serializers.SerializerMethodField()
    namespace = serializers.SerializerMethodField()
    service = serializers.SerializerMethodField()
    created_by = serializers.CharField(source="created_by.username")
    deliveries_url = serializers.SerializerMethodField()

    class Meta:
        model = Webhook
        fields = [
            "id", "url", "kind", "has_secret", "events", "cluster", "namespace", "service",
            "created_by", "created_at", "deliveries_url",
        ]  # fmt: skip

    def get_cluster(self, webhook) -> str | None:
        return webhook.cluster.name if webhook.cluster_id else None

    def get_namespace(self, webhook) -> str | None:
        return webhook.namespace.name if webhook.namespace_id else None

    def get_service(self, webhook) -> str | None:
        return webhook.service.name if webhook.service_id else None

    def get_deliveries_url(self, webhook) -> str:
        return f"{api_base_url(self.context)}webhooks/{webhook.pk}/deliveries"


@extend_schema_field({"type": "object", "additionalProperties": {}})
class PayloadField(serializers.Field):
    """The JSON body that was (or will be) sent."""


class DeliverySerializer(serializers.Serializer):
    """One attempt to deliver one event (documentation of the rows `delivery_rows` builds)."""

    id = serializers.IntegerField()
    event = serializers.ChoiceField(choices=Event.values)
    event_id = serializers.UUIDField(
        help_text="The same for every attempt of one event: receivers use it to skip repeats"
    )
    attempt = serializers.IntegerField(help_text="1 for the first, up to 5")
    state = serializers.ChoiceField(
        choices=Delivery.State.values,
        help_text="pending (waiting for its time or a worker), sending, succeeded, failed, or "
        "refused (the address resolved to a non-public one)",
    )
    status_code = serializers.IntegerField(
        allow_null=True, help_text="The receiver's HTTP status, when it answered"
    )
    error = serializers.CharField(help_text="Why it failed or was refused; empty otherwise")
    created_at = serializers.DateTimeField()
    next_attempt_at = serializers.DateTimeField(help_text="A pending attempt starts after this")
    started_at = serializers.DateTimeField(allow_null=True)
    duration_ms = serializers.IntegerField(allow_null=True)
    payload = PayloadField()


DELIVERY_ROW_VALUES = (
    "id", "event", "event_id", "attempt", "state", "status_code", "error", "created_at",
    "next_attempt_at", "started_at", "duration_ms", "body",
)  # fmt: skip


def delivery_rows(rows: list[dict], base_url: str) -> list[dict]:
    """A page of deliveries as JSON, in DeliverySerializer's shape, without DRF's cost."""
    return [
        {
            "id": row["id"],
            "event": row["event"],
            "event_id": str(row["event_id"]),
            "attempt": row["attempt"],
            "state": row["state"],
            "status_code": row["status_code"],
            "error": row["error"],
            "created_at": iso_time(row["created_at"]),
            "next_attempt_at": iso_time(row["next_attempt_at"]),
            "started_at": iso_time(row["started_at"]),
            "duration_ms": row["duration_ms"],
            "payload": json.loads(row["body"]),
        }
        for row in rows
    ]
