"""Name rules that more than one app applies."""

import re

from django.core.validators import RegexValidator

# Kubernetes names (namespaces, services, labels' values) follow the DNS label rule.
DNS_LABEL_PATTERN = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"

# Attribute names are template variables: identifiers.
ATTRIBUTE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


def dns_label_validator(what: str) -> RegexValidator:
    return RegexValidator(
        DNS_LABEL_PATTERN,
        f"{what} is 1-63 lower-case letters, digits and '-', starting and ending with a "
        "letter or digit (like a Kubernetes name).",
    )
