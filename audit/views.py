"""The /audit/ page: the trail, filtered as GET /api/audit filters it."""

import json

from django.shortcuts import render

from audit import services
from audit.forms import AuditFilterForm
from kubernaut.views import filter_query, newest_first, require_permission


def change_lines(entry) -> list[tuple[str, str]]:
    """An entry's changes as (field, "before → after") lines, values as JSON. Creations and
    deletions hold plain values (what the object held), not pairs."""
    changes = entry.changes
    pairs = not entry.action.endswith((".created", ".deleted"))
    if not isinstance(changes, dict):
        return [("", json.dumps(changes, ensure_ascii=False))]

    def text(value) -> str:
        return json.dumps(value, ensure_ascii=False)

    return [
        (field, f"{text(value[0])} → {text(value[1])}")
        if pairs and isinstance(value, list) and len(value) == 2
        else (field, text(value))
        for field, value in changes.items()
    ]


@require_permission("audit.view_auditentry")
def audit_list(request):
    form = AuditFilterForm(request.GET)
    page = None
    if form.is_valid():
        page = newest_first(services.filter_entries(form.filters()), form.cleaned_data["before"])
        for entry in page.items:
            entry.change_lines = change_lines(entry)
    context = {"form": form, "page": page, "filters": filter_query(form)}
    return render(request, "audit/list.html", context)
