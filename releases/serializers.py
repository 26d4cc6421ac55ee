"""Input and output shapes of the releases API."""

import json

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from kubernaut.api import PayloadTooLarge, QueryParameters, api_base_url
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


class ReleaseDetailSerializer(ReleaseSerializer):
    class Meta(ReleaseSerializer.Meta):
        fields = ReleaseSerializer.Meta.fields + ["template"]


class ReleaseFilterSerializer(QueryParameters):
    service = serializers.CharField(required=False, max_length=63)
    version = serializers.CharField(required=False, max_length=128)
    created_by = serializers.CharField(required=False, max_length=150)
    created_after = serializers.DateTimeField(required=False)
    created_before = serializers.DateTimeField(required=False)


class ReleaseRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Release
        fields = ["id", "version"]


class ReleaseBetweenSerializer(serializers.ModelSerializer):
    created_by = serializers.CharField(source="created_by.username")

    class Meta:
        model = Release
        fields = ["id", "version", "comment", "created_by", "created_at"]


_VALUES = {"type": "object", "additionalProperties": {"type": "string"}}


@extend_schema_field(
    {
        "type": "object",
        "description": "From `against` to `release`. Values of secret-looking names (password, "
        "*_key, *_secret, token, ...) are `********`.",
        "properties": {
            "added": {**_VALUES, "description": "Only in `release`"},
            "removed": {**_VALUES, "description": "Only in `against`"},
            "changed": {
                "type": "object",
                "description": "In both, with different values",
                "additionalProperties": {
                    "type": "object",
                    "properties": {"from": {"type": "string"}, "to": {"type": "string"}},
                    "required": ["from", "to"],
                },
            },
        },
        "required": ["added", "removed", "changed"],
    }
)
class AttributeChangesField(serializers.DictField):
    """releases.compare.attribute_changes()'s dict, as it is."""


class ReleaseDiffSerializer(serializers.Serializer):
    """A comparison of two releases of one service (releases/compare.py)."""

    release = ReleaseRefSerializer()
    against = ReleaseRefSerializer()
    template_diff = serializers.CharField(
        help_text="Unified diff of the templates, from `against` to `release`; empty when they "
        "are the same or when `template_diff_skipped` says why it was not computed"
    )
    template_diff_skipped = serializers.CharField(
        allow_null=True,
        help_text="Why the diff was not computed (the templates differ in too many places to "
        "compare in time); null when `template_diff` is complete",
    )
    attributes = AttributeChangesField()
    releases_between = ReleaseBetweenSerializer(
        many=True,
        help_text="The releases of the service registered after `against` up to and including "
        "`release` (comparing back to an older release: from it up to `against`, exclusive), "
        "newest first, at most 100",
    )
    releases_between_truncated = serializers.BooleanField(
        help_text="Whether there were more releases in between than listed"
    )
