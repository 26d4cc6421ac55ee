"""The filters of the /audit/ page: those of GET /api/audit."""

from django import forms

from audit import services


class AuditFilterForm(forms.Form):
    actor = forms.CharField(required=False, max_length=150, label="By")
    action = forms.CharField(
        required=False,
        max_length=64,
        help_text="e.g. release.deleted, or deployment. for every deployment action",
    )
    object = forms.CharField(
        required=False, max_length=170, help_text="app.model:id, e.g. deployments.deployment:42"
    )
    since = forms.DateTimeField(required=False, help_text="YYYY-MM-DD HH:MM (UTC)")
    until = forms.DateTimeField(required=False, help_text="YYYY-MM-DD HH:MM (UTC)")
    before = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def clean_object(self) -> str:
        value = self.cleaned_data["object"]
        if value:
            try:
                services.parse_object(value)
            except ValueError as error:
                raise forms.ValidationError(str(error)) from None
        return value

    def clean(self) -> dict:
        cleaned = super().clean()
        since, until = cleaned.get("since"), cleaned.get("until")
        if since and until and since > until:
            self.add_error("until", "until is before since: swap them, or widen the range.")
        return cleaned

    def filters(self) -> dict:
        """The valid filters in the shape audit.services.filter_entries takes."""
        given = dict(self.cleaned_data)
        if given.get("object"):
            given["object_type"], given["object_id"] = services.parse_object(given["object"])
        return given
