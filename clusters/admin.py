import json

import yaml
from django import forms
from django.contrib import admin, messages
from django.contrib.postgres.forms import SimpleArrayField
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from clusters import services
from clusters.models import Cluster, Namespace
from kubernaut import safe_yaml
from kubernaut.admin import DeletedFilter, SoftDeleteAdmin
from kubernaut.parsers import unstorable_text
from kubernaut.validators import ATTRIBUTE_NAME

# A person pressed the button and waits for the answer: the seam's usual connect timeout.
TEST_TIMEOUT = (5, 10)


def kubeconfig_problem(text: str, context: str) -> str | None:
    try:
        config = safe_yaml.load(text)
    except yaml.YAMLError as error:
        return f"This is not valid YAML: {error}"
    if not isinstance(config, dict) or not config.get("clusters") or not config.get("contexts"):
        return "This does not look like a kubeconfig: it needs clusters and contexts."
    names = [c.get("name") for c in config["contexts"] if isinstance(c, dict)]
    wanted = context or config.get("current-context")
    if not wanted:
        return "The kubeconfig has no current-context: name the context to use."
    if wanted not in names:
        return f"The kubeconfig has no context {wanted!r}; it has: {', '.join(map(str, names))}."
    return None


class ClusterForm(forms.ModelForm):
    """The kubeconfig is write-only: it is never put back into the page."""

    kubeconfig = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 12, "autocomplete": "off", "spellcheck": "false"}),
        required=False,
        strip=False,
        help_text="Paste a kubeconfig. It is stored encrypted and never shown again; leave empty "
        "to keep the current one.",
    )

    registry_url = forms.URLField(
        required=False,
        assume_scheme="https",
        help_text=Cluster._meta.get_field("registry_url").help_text,
    )
    # Write-only like the kubeconfig: never rendered back into the page.
    registry_password = forms.CharField(
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        required=False,
        strip=False,
        help_text="Stored encrypted and never shown again; leave empty to keep the current one.",
    )
    clear_registry_password = forms.BooleanField(
        required=False, help_text="Remove the stored registry password."
    )

    class Meta:
        model = Cluster
        fields = ["name", "context", "timeout_seconds", "registry_url", "registry_username"]

    def clean(self):
        cleaned = super().clean()
        text = cleaned.get("kubeconfig", "")
        if not text and not self.instance.kubeconfig_encrypted:
            raise ValidationError({"kubeconfig": "A new cluster needs a kubeconfig."})
        if text:
            problem = kubeconfig_problem(text, cleaned.get("context", ""))
            if problem:
                raise ValidationError({"kubeconfig": problem})
        return cleaned

    def save(self, commit=True):
        if self.cleaned_data.get("kubeconfig"):
            self.instance.set_kubeconfig(self.cleaned_data["kubeconfig"])
        if self.cleaned_data.get("clear_registry_password"):
            self.instance.set_registry_password("")
        elif self.cleaned_data.get("registry_password"):
            self.instance.set_registry_password(self.cleaned_data["registry_password"])
        return super().save(commit)


@admin.register(Cluster)
class ClusterAdmin(SoftDeleteAdmin):
    form = ClusterForm
    list_display = ["name", "context", "timeout_seconds", "created_at", "deleted_at"]
    list_filter = [DeletedFilter]
    search_fields = ["name"]
    readonly_fields = ["api_server", "server_version"]
    # The "Test connection" button (a POST of its own, outside the change form).
    change_form_template = "admin/clusters/cluster/change_form.html"

    @admin.display(description="API server")
    def api_server(self, cluster: Cluster) -> str:
        return services.api_server(cluster) if cluster.kubeconfig_encrypted else "–"

    @admin.display(description="Server version")
    def server_version(self, cluster: Cluster) -> str:
        """Asked each time the page is shown, briefly: an unreachable cluster says so."""
        if not cluster.kubeconfig_encrypted:
            return "–"
        connection = services.check_connection(cluster)
        return connection.version if connection.ok else f"Not known: {connection.sentence}"

    def get_urls(self):
        test = self.admin_site.admin_view(require_POST(self.test_connection))
        return [
            path("<int:pk>/test-connection/", test, name="clusters_cluster_test_connection"),
            *super().get_urls(),
        ]

    def test_connection(self, request, pk: int):
        """Ask the cluster its version with Kubernaut's credentials and say how it went."""
        cluster = get_object_or_404(Cluster.all_objects, pk=pk)
        if not self.has_view_or_change_permission(request, cluster):
            raise PermissionDenied
        connection = services.check_connection(cluster, timeout=TEST_TIMEOUT)
        level = messages.SUCCESS if connection.ok else messages.ERROR
        text = connection.sentence if connection.ok else f"Connection failed: {connection.sentence}"
        self.message_user(request, text, level)
        return redirect(reverse("admin:clusters_cluster_change", args=[pk]))


def one_per_line(field_name: str) -> SimpleArrayField:
    """An ArrayField edited as one entry per line, with the model field's validators and help."""
    model_field = Namespace._meta.get_field(field_name)
    return SimpleArrayField(
        forms.CharField(max_length=253, validators=model_field.base_field.validators),
        delimiter="\n",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false"}),
        help_text=model_field.help_text,
    )


class RedisplayableJSONField(forms.JSONField):
    """Django's JSON form field, able to show back a refused value holding a lone surrogate.

    It redisplays what it parsed with ensure_ascii=False, and a surrogate cannot be written
    out as UTF-8: the page failed with a 500 instead of showing the form error.
    """

    def prepare_value(self, value):
        text = super().prepare_value(value)
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return json.dumps(value, ensure_ascii=True, cls=self.encoder)
        return text


class NamespaceForm(forms.ModelForm):
    allowed_kinds = one_per_line("allowed_kinds")
    denied_kinds = one_per_line("denied_kinds")
    allowed_registries = one_per_line("allowed_registries")

    class Meta:
        model = Namespace
        fields = [
            "cluster", "name", "attributes", "rollback_on_failure", "prune", "pod_security",
            "allow_cluster_scoped", "allowed_kinds", "denied_kinds", "allowed_registries",
            "next_stage", "required_approvals", "production",
        ]  # fmt: skip
        field_classes = {"attributes": RedisplayableJSONField}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Only namespaces in use can come next, and never the namespace itself; loops are
        # refused by Namespace.clean().
        stages = Namespace.objects.filter(cluster__deleted_at__isnull=True).select_related(
            "cluster"
        )
        if self.instance.pk is not None:
            stages = stages.exclude(pk=self.instance.pk)
        self.fields["next_stage"].queryset = stages
        self.fields["required_approvals"].required = False  # empty: none, as before the field

    def clean_required_approvals(self) -> int:
        return self.cleaned_data["required_approvals"] or 0

    def clean_attributes(self):
        attributes = self.cleaned_data["attributes"]
        if not isinstance(attributes, dict):
            raise ValidationError('Attributes are a JSON object of strings: {"replicas": "3"}.')
        # jsonb cannot store these, and Django's JSON form field lets "\u0000" through.
        where = unstorable_text(attributes)
        if where:
            raise ValidationError(
                f"{where} has a NUL character (\\u0000) or a lone surrogate, which cannot be "
                "stored: remove it."
            )
        for name, value in attributes.items():
            if not ATTRIBUTE_NAME.match(name) or not isinstance(value, str):
                raise ValidationError(
                    f"{name!r}: names are letters, digits and '_'; values are strings."
                )
        return attributes


@admin.register(Namespace)
class NamespaceAdmin(SoftDeleteAdmin):
    form = NamespaceForm
    list_display = ["name", "cluster", "pod_security", "allow_cluster_scoped",
                    "rollback_on_failure", "next_stage", "created_at", "deleted_at"]  # fmt: skip
    list_filter = [DeletedFilter, "cluster", "pod_security", "rollback_on_failure"]
    fieldsets = [
        (None, {"fields": ["cluster", "name", "attributes"]}),
        (
            "Deploy policy",
            {
                "description": "Checked on every rendered manifest before it is queued, in the "
                "preview and again by the worker before anything is applied.",
                "fields": ["pod_security", "allow_cluster_scoped", "allowed_kinds",
                           "denied_kinds", "allowed_registries"],
            },
        ),
        (
            "Deployments",
            {
                "description": "What a deployment here does besides applying its manifest.",
                "fields": ["prune", "rollback_on_failure"],
            },
        ),
        (
            "Stages",
            {
                "description": "Where a release goes after this namespace (Promote), and what "
                "a deployment here needs (docs/stages.md).",
                "fields": ["next_stage", "required_approvals", "production"],
            },
        ),
    ]  # fmt: skip
    list_select_related = ["cluster", "next_stage__cluster"]
    search_fields = ["name", "cluster__name"]
