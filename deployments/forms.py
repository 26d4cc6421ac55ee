"""Forms of the deployment pages."""

from django import forms
from rest_framework import serializers

from clusters.models import MAX_TIMEOUT_SECONDS, Namespace
from deployments.models import Deployment
from locks.models import MAX_REASON_LENGTH
from releases.models import Release
from releases.serializers import AttributesField
from teams import access


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


def deployable_namespaces(user, release: Release):
    """The namespaces of live clusters where the user may deploy the release's service."""
    roles = access.roles_of(user)
    alive = Namespace.objects.filter(cluster__deleted_at__isnull=True).select_related("cluster")
    if roles.superuser:
        return alive
    allowed = [
        namespace.pk
        for namespace in access.visible_namespaces(user).only("id", "cluster_id")
        if roles.may_deploy(release.service, namespace)
    ]
    return alive.filter(pk__in=allowed)


def attributes_text(attributes: dict[str, str]) -> str:
    """The inverse of parse_attributes, to fill the form with a deployment's attributes."""
    return "\n".join(f"{name}={value}" for name, value in attributes.items())


class DeployForm(forms.Form):
    """Where and how to deploy one release; only namespaces where the user may deploy its
    service are offered. `redeploy_of` (hidden) marks a redeploy or roll back of an earlier
    deployment of the same release to the same namespace; `promoted_from` (hidden) a promotion
    of a succeeded deployment of the same release to its namespace's next stage."""

    namespace = NamespaceChoiceField(
        label="Cluster / namespace",
        queryset=Namespace.objects.none(),
        empty_label="Choose where to deploy",
        error_messages={
            "invalid_choice": "You may not deploy this service to that namespace, or it no "
            "longer exists: pick one from the list."
        },
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
    redeploy_of = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)
    promoted_from = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def __init__(self, *args, user, release: Release, **kwargs):
        super().__init__(*args, **kwargs)
        self.user, self.release = user, release
        self.fields["namespace"].queryset = deployable_namespaces(user, release)

    def clean_redeploy_of(self) -> Deployment | None:
        pk = self.cleaned_data["redeploy_of"]
        if pk is None:
            return None
        original = (
            Deployment.objects.filter(pk=pk, release=self.release)
            .select_related("namespace__cluster")
            .only("id", "release_id", "namespace")
            .first()
        )
        if original is None or not access.may_view(self.user, original.namespace):
            raise forms.ValidationError(
                f"Deployment #{pk} is not a deployment of this release that you may see: deploy "
                "without it, or start again from the deployment's page."
            )
        return original

    def clean_promoted_from(self) -> Deployment | None:
        pk = self.cleaned_data["promoted_from"]
        if pk is None:
            return None
        original = (
            Deployment.objects.filter(pk=pk, release=self.release)
            .select_related("namespace__cluster", "namespace__next_stage__cluster")
            .first()
        )
        if original is None or not access.may_view(self.user, original.namespace):
            raise forms.ValidationError(
                f"Deployment #{pk} is not a deployment of this release that you may see: deploy "
                "without it, or start again from the deployment's page."
            )
        if original.status != Deployment.Status.SUCCEEDED or not original.namespace.next_stage_id:
            raise forms.ValidationError(
                f"Deployment #{pk} cannot be promoted: only a succeeded deployment in a "
                "namespace with a next stage can. Deploy without it, or start again from the "
                "deployment's page."
            )
        return original

    def clean(self) -> dict:
        given = super().clean()
        original, namespace = given.get("redeploy_of"), given.get("namespace")
        promoted = given.get("promoted_from")
        if original and namespace and original.namespace_id != namespace.pk:
            self.add_error(
                "namespace",
                f"A redeploy of #{original.pk} goes to {original.namespace} again; to deploy "
                "elsewhere, open the deploy page from the release.",
            )
        if promoted and namespace and promoted.namespace.next_stage_id != namespace.pk:
            self.add_error(
                "namespace",
                f"A promotion of #{promoted.pk} goes to the next stage of "
                f"{promoted.namespace}, {promoted.namespace.next_stage}; to deploy elsewhere, "
                "open the deploy page from the release.",
            )
        if original and promoted:
            raise forms.ValidationError("A deployment is a redeploy or a promotion, not both.")
        return given

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

    # `list`: the <datalist> of names the page offers (deployments/views.py filter_suggestions).
    service = forms.CharField(
        required=False, max_length=63, widget=forms.TextInput({"list": "service-names"})
    )
    version = forms.CharField(required=False, max_length=128)
    cluster = forms.CharField(
        required=False, max_length=63, widget=forms.TextInput({"list": "cluster-names"})
    )
    namespace = forms.CharField(
        required=False, max_length=63, widget=forms.TextInput({"list": "namespace-names"})
    )
    status = forms.ChoiceField(
        required=False, choices=[("", "any status"), *Deployment.Status.choices]
    )
    created_by = forms.CharField(
        required=False, max_length=150, label="By", widget=forms.TextInput({"list": "user-names"})
    )
    before = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)
