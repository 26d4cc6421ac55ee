"""{% approvals_panel deployment %}: the deployment page's approvals part. A template tag, so
that the page (the deployments app's) shows it without deployments importing approvals."""

from django import template

from approvals import services
from approvals.models import Approval
from deployments import preview
from deployments.models import Deployment

register = template.Library()


@register.inclusion_tag("approvals/_panel.html", takes_context=True)
def approvals_panel(context, deployment: Deployment) -> dict:
    """Nothing for a namespace without approvals. While the deployment waits: how many
    approvals it has and needs, the decisions, the Approve / Reject forms for who may decide,
    and what it would change in the cluster (asked now, bounded in time)."""
    decisions = services.approvals_of(deployment)
    waiting = deployment.status == Deployment.Status.AWAITING_APPROVAL
    if not waiting and not decisions:
        return {"shown": False}
    user = context["request"].user
    return {
        "shown": True,
        "request": context["request"],
        "csrf_token": context.get("csrf_token"),
        "deployment": deployment,
        "waiting": waiting,
        "decisions": decisions,
        "given": sum(d.decision == Approval.Decision.APPROVE for d in decisions),
        "required": deployment.namespace.required_approvals,
        "may_decide": waiting and services.may_decide(user, deployment),
        "is_requester": deployment.created_by_id == user.pk,
        "result": preview.preview_deployment(deployment) if waiting else None,
    }
