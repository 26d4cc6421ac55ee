"""The deployment page's Approve and Reject forms post here; the page itself is the
deployments app's, its approvals part rendered by {% approvals_panel %} (templatetags)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from approvals import services
from approvals.models import MAX_COMMENT_LENGTH
from deployments.views import visible_or_404
from locks import services as locks
from teams import access


@require_POST
@login_required
def approve(request, pk: int):
    return decide(request, pk, services.approve, "approved")


@require_POST
@login_required
def reject(request, pk: int):
    return decide(request, pk, services.reject, "rejected")


def decide(request, pk: int, service, done: str):
    deployment = visible_or_404(request, pk)
    comment = request.POST.get("comment", "")
    if len(comment) > MAX_COMMENT_LENGTH:
        messages.error(request, f"Shorten the comment to {MAX_COMMENT_LENGTH} characters at most.")
        return redirect("deployment", pk=pk)
    try:
        service(deployment, request.user, comment)
    except access.Forbidden as refusal:
        raise PermissionDenied(str(refusal)) from None
    except (services.NotAwaiting, services.AlreadyDecided, locks.Locked, ValueError) as error:
        messages.error(request, str(error))
    else:
        deployment.refresh_from_db(fields=["status"])
        queued = " It is queued." if deployment.status == deployment.Status.PENDING else ""
        messages.success(request, f"You {done} deployment #{pk}.{queued}")
    return redirect("deployment", pk=pk)
