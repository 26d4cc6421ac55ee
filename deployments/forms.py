"""Forms of the deployment pages."""

from django import forms
from rest_framework import serializers

from clusters.models import MAX_TIMEOUT_SECONDS, Namespace
from deployments.models import Deployment
from locks.models import MAX_REASON_LENGTH
from releases.serializers import AttributesField


class NamespaceChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Namespace) -> str:
        return f"{obj.cluster.name} / {obj.name}"


def parse_attributes(text: str) -> dict[str, str]:
    """`name=value` lines into a dict; blank lines and lines starting with # are skipped."""
    attributes = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, separator, value = line.partition("=")
        if not separator:
            raise forms.ValidationError(
                f"Line {number} ({line[:40]!r}) has no '=': write one name=value per line."
            )
        attributes[name.strip()] = value.strip()
    return attributes


class DeployForm(forms.Form):
    namespace = NamespaceChoiceField(
        label="Cluster / namespace",
        queryset=Namespace.objects.filter(cluster__deleted_at__isnull=True).select_related(
            "cluster"
        ),
        empty_label="Choose where to deploy",
        error_messages={"invalid_choice": "That namespace no longer exists: pick another."},
    )
    attributes = forms.CharField(
        label="Override attributes",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false"}),
        help_text="One name=value per line, e.g. replicas=3. Wins over the release's and the "
        "namespace's attributes.",
    )
    timeout_seconds = forms.IntegerField(
        label="Timeout (seconds)",
        required=False,
        min_value=10,
        max_value=MAX_TIMEOUT_SECONDS,
        help_text="Empty for the cluster's default.",
    )
    # Shown only to admins of a locked namespace (templates/deployments/deploy.html).
    override_lock = forms.CharField(
        label="Deploy despite the lock, because",
        required=False,
        max_length=MAX_REASON_LENGTH,
        help_text="Only admins of the namespace may. Your reason is recorded in the audit trail "
        "and the deployment's log.",
    )

    def clean_attributes(self) -> dict[str, str]:
        attributes = parse_attributes(self.cleaned_data["attributes"])
        try:
            # The same rules as the API, so a name the API refuses is refused here too.
            return AttributesField().run_validation(attributes)
        except serializers.ValidationError as error:
            raise forms.ValidationError(flatten(error.detail)) from None


def flatten(detail) -> list[str]:
    if isinstance(detail, dict):
        return [line for value in detail.values() for line in flatten(value)]
    if isinstance(detail, list):
        return [line for item in detail for line in flatten(item)]
    return [str(detail)]


class DeploymentFilterForm(forms.Form):
    """Filters of the deployments list; unknown names simply match nothing."""

    service = forms.CharField(required=False, max_length=63)
    cluster = forms.CharField(required=False, max_length=63)
    namespace = forms.CharField(required=False, max_length=63)
    status = forms.ChoiceField(
        required=False, choices=[("", "any status"), *Deployment.Status.choices]
    )
    created_by = forms.CharField(required=False, max_length=150, label="By")
    before = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)
