"""Input and output shapes of the releases API."""

import json

from django.conf import settings
from django.db.models import F
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from kubernaut.api import PayloadTooLarge, QueryParameters, api_base_url, iso_time
from kubernaut.validators import ATTRIBUTE_NAME
from releases.models import Release, service_name_validator, version_validator
from releases.templating import DEPLOY_TIME_VARIABLES

MAX_ATTRIBUTES = 100
MAX_ATTRIBUTE_VALUE_CHARS = 16 * 1024


@extend_schema_field(
    {
        "type": "object",
        "description": "Strings by name; a name is a template variable, not a deploy-time one.",
        "maxProperties": MAX_ATTRIBUTES,
        "propertyNames": {
            "pattern": ATTRIBUTE_NAME.pattern,
            "not": {"enum": sorted(DEPLOY_TIME_VARIABLES)},
        },
        "additionalProperties": {"type": "string", "maxLength": MAX_ATTRIBUTE_VALUE_CHARS},
    }
)
class AttributesField(serializers.DictField):
    """String keys usable as template variables, string values."""

    def __init__(self, **kwargs):
        super().__init__(child=serializers.CharField(allow_blank=True), **kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise serializers.ValidationError(
                'Attributes must be a JSON object of strings, like {"image": "repo/app:1.0"}.'
            )
        if len(data) > MAX_ATTRIBUTES:
            raise serializers.ValidationError(f"At most {MAX_ATTRIBUTES} attributes are allowed.")
        problems = []
        for name, value in data.items():
            if not ATTRIBUTE_NAME.match(name):
                problems.append(
                    f"{name!r} is not a valid attribute name: use letters, digits and '_', "
                    "starting with a letter or '_' (templates refer to it as {{ name }})."
                )
            elif name in DEPLOY_TIME_VARIABLES:
                problems.append(
                    f"{name!r} is a deploy-time variable that Kubernaut sets; choose another name."
                )
            elif not isinstance(value, str):
                problems.append(
                    f"{name!r} must be a string, not {type(value).__name__}: write "
                    f"{json.dumps(json.dumps(value))} instead."
                )
            elif len(value) > MAX_ATTRIBUTE_VALUE_CHARS:
                problems.append(f"{name!r} is longer than {MAX_ATTRIBUTE_VALUE_CHARS} characters.")
            else:
                # The child's validators refuse NUL and lone surrogates, which jsonb cannot store
                # (the API's parsers refuse them too; forms and services come through here).
                try:
                    self.child.run_validators(value)
                except serializers.ValidationError as error:
                    problems += [f"{name!r}: {message}" for message in error.detail]
        if problems:
            raise serializers.ValidationError(problems)
        return dict(data)


class StrictCharField(serializers.CharField):
    """A CharField that refuses numbers instead of quietly turning them into text."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class ReleaseInputSerializer(serializers.Serializer):
    service = StrictCharField(max_length=63, validators=[service_name_validator])
    version = StrictCharField(max_length=128, validators=[version_validator])
    template = StrictCharField(trim_whitespace=False)
    attributes = AttributesField(required=False, default=dict)
    comment = StrictCharField(required=False, allow_blank=True, default="", max_length=2000)

    def validate_template(self, value: str) -> str:
        size = len(value.encode())
        limit = settings.KUBERNAUT_MAX_TEMPLATE_BYTES
        if size > limit:
            raise PayloadTooLarge(
                f"The template is {size} bytes; the limit is {limit} bytes. "
                "Split the service, or raise KUBERNAUT_MAX_TEMPLATE_BYTES."
            )
        return value


class ReleaseSerializer(serializers.ModelSerializer):
    service = serializers.CharField(source="service.name")
    created_by = serializers.CharField(source="created_by.username")
    url = serializers.SerializerMethodField()

    class Meta:
        model = Release
        fields = [
            "id",
            "url",
            "service",
            "version",
            "attributes",
            "comment",
            "created_by",
            "created_at",
        ]

    def get_url(self, release) -> str:
        return f"{api_base_url(self.context)}releases/{release.pk}"


# The list's rows are built from .values() without DRF: at 50 rows a page, model instances and
# serializer fields were a third of the request's time (bench/api_bench.py). The shape is
# ReleaseSerializer's, which documents it; tests/test_release_list_api.py keeps them equal.
RELEASE_ROW_VALUES = ("id", "version", "attributes", "comment", "created_at")
RELEASE_ROW_ANNOTATIONS = {"service_name": F("service__name"), "creator": F("created_by__username")}


def release_rows(rows: list[dict], base_url: str) -> list[dict]:
    return [
        {
            "id": row["id"],
            "url": f"{base_url}releases/{row['id']}",
            "service": row["service_name"],
            "version": row["version"],
            "attributes": row["attributes"],
            "comment": row["comment"],
            "created_by": row["creator"],
            "created_at": iso_time(row["created_at"]),
        }
        for row in rows
    ]


class ReleaseDetailSerializer(ReleaseSerializer):
    class Meta(ReleaseSerializer.Meta):
        fields = ReleaseSerializer.Meta.fields + ["template"]


class ReleaseFilterSerializer(QueryParameters):
    service = serializers.CharField(required=False, max_length=63)
    version = serializers.CharField(required=False, max_length=128)
    created_by = serializers.CharField(required=False, max_length=150)
    created_after = serializers.DateTimeField(required=False)
    created_before = serializers.DateTimeField(required=False)
