"""The DORA endpoint's query parameters and answer (the answer's serializers document it)."""

from rest_framework import serializers

from kubernaut.api import QueryParameters
from metrics.services import DAYS


class DoraQuerySerializer(QueryParameters):
    service = serializers.CharField(
        required=False, max_length=63, help_text="A service's name; leave out for all services"
    )
    days = serializers.ChoiceField(
        choices=DAYS,
        required=False,
        default=30,
        help_text="The window: the last 7, 30 or 90 days, ending now",
        error_messages={"invalid_choice": "days must be 7, 30 or 90."},
    )


class FrequencySerializer(serializers.Serializer):
    deployments = serializers.IntegerField(help_text="Succeeded production deployments")
    per_day = serializers.FloatField()


class FailureRateSerializer(serializers.Serializer):
    failures = serializers.IntegerField(
        help_text="Failed, timed out, or succeeded and then rolled back"
    )
    deployments = serializers.IntegerField(help_text="Succeeded, failed and timed out")
    rate = serializers.FloatField(allow_null=True, help_text="null when there were none")


class LeadTimeSerializer(serializers.Serializer):
    median = serializers.FloatField(allow_null=True)
    p90 = serializers.FloatField(allow_null=True)
    releases = serializers.IntegerField(
        help_text="Releases whose first production success was in the window"
    )


class RestoreSerializer(serializers.Serializer):
    median = serializers.FloatField(allow_null=True)
    p90 = serializers.FloatField(allow_null=True)
    restored = serializers.IntegerField(help_text="Outages that a success ended")
    open_failures = serializers.IntegerField(help_text="Outages no success has ended yet")


class WeekSerializer(serializers.Serializer):
    week_start = serializers.DateField(help_text="Monday (UTC)")
    deployments = serializers.IntegerField(help_text="Succeeded, failed and timed out")
    failures = serializers.IntegerField()


class DoraSerializer(serializers.Serializer):
    service = serializers.CharField(allow_null=True)
    days = serializers.IntegerField()
    since = serializers.DateTimeField()
    until = serializers.DateTimeField()
    deployment_frequency = FrequencySerializer()
    change_failure_rate = FailureRateSerializer()
    lead_time_seconds = LeadTimeSerializer()
    time_to_restore_seconds = RestoreSerializer()
    weekly = WeekSerializer(many=True)
