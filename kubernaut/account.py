"""The signed-in person's own API tokens: list, create (the key shown once), revoke.

Here at the top rather than in accounts/: the form offers the namespaces the person can see,
which teams.access (above accounts) answers.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from accounts import services
from accounts.forms import TokenForm
from accounts.models import ApiToken
from clusters.models import Namespace
from teams import access


def own_tokens(user) -> list[ApiToken]:
    # Deleted namespaces are listed too: a token limited to one stays limited to it.
    scope = Namespace.all_objects.select_related("cluster").order_by("cluster__name", "name")
    return list(
        ApiToken.objects.filter(user=user)
        .prefetch_related(Prefetch("namespaces", queryset=scope, to_attr="scope"))
        .order_by("-id")
    )


@never_cache  # the response to a creation holds the key: no cache may keep it
@login_required
def tokens(request):
    """GET: the person's tokens and the form. POST: create a token and show its key on this
    response only. Not a redirect: the key would have to wait in the session (the database)
    for the next page, and it must never be stored anywhere."""
    form = TokenForm(
        request.POST or None,
        user=request.user,
        namespaces=access.visible_namespaces(request.user).filter(cluster__deleted_at=None),
    )
    created = key = None
    if request.method == "POST" and form.is_valid():
        given = form.cleaned_data
        created, key = services.create_token(
            request.user,
            name=given["name"],
            namespaces=given["namespaces"],
            services=given["services"],
            read_only=given["read_only"],
            expires_in_days=given["expires_in_days"],
        )
        form = TokenForm(user=request.user, namespaces=form.fields["namespaces"].queryset)
    context = {
        "tokens": own_tokens(request.user),
        "form": form,
        "created": created,
        "key": key,
    }
    return render(request, "accounts/tokens.html", context)


@require_POST
@login_required
def revoke(request, pk: int):
    # Someone else's token is as missing as one that never was: 404, not 403.
    token = get_object_or_404(ApiToken.objects.select_related("user"), pk=pk, user=request.user)
    if services.revoke_token(token):
        messages.success(request, f"The token {token.label} is revoked; it no longer works.")
    else:
        messages.info(request, f"The token {token.label} was already revoked.")
    return redirect("tokens")
