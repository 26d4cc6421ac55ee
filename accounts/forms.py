"""The form of the Tokens page."""

import re

from django import forms
from django.core.exceptions import ValidationError

from accounts.models import ApiToken, service_name_validator
from accounts.services import DEFAULT_EXPIRES_IN_DAYS, MAX_EXPIRES_IN_DAYS


class NamespacesField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj) -> str:
        return f"{obj.cluster.name} / {obj.name}"


class TokenForm(forms.Form):
    """A new token's name and scope. `namespaces` is what the person may choose from: the
    namespaces they can see (a token may never reach further than its user)."""

    name = forms.CharField(
        max_length=100, help_text="What the token is for, e.g. jenkins or my-laptop."
    )
    namespaces = NamespacesField(
        queryset=ApiToken.namespaces.field.related_model.objects.none(),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 6}),
        help_text="Only these namespaces. None selected: every namespace you may use.",
        error_messages={
            "invalid_choice": "%(value)s is not a namespace you can see: pick another."
        },
    )
    services = forms.CharField(
        required=False,
        max_length=2000,
        help_text="Only these services, separated by spaces or commas (they need not exist "
        "yet). Empty: every service.",
    )
    read_only = forms.BooleanField(required=False, help_text="Only reads (GET), never changes.")
    expires_in_days = forms.IntegerField(
        label="Expires in (days)",
        min_value=1,
        max_value=MAX_EXPIRES_IN_DAYS,
        initial=DEFAULT_EXPIRES_IN_DAYS,
    )

    def __init__(self, *args, user, namespaces, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["namespaces"].queryset = namespaces.select_related("cluster").order_by(
            "cluster__name", "name"
        )

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        # Also what stops a reload of the page (which sends the form again) from quietly
        # making a second token.
        if ApiToken.objects.active().filter(user=self.user, name=name).exists():
            raise ValidationError(
                f"You already have a token named {name!r}: choose another name, or revoke "
                "that one first."
            )
        return name

    def clean_services(self) -> list[str]:
        names = [name for name in re.split(r"[\s,]+", self.cleaned_data["services"]) if name]
        for name in names:
            try:
                service_name_validator(name)
            except ValidationError as error:
                raise ValidationError(f"{name!r}: {error.messages[0]}") from None
        return sorted(set(names))
