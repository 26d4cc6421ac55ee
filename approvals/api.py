"""The approvals API: approve or reject a deployment that waits for approval."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from approvals import services
from approvals.models import MAX_COMMENT_LENGTH, Approval
from deployments.api import NOT_VISIBLE, RELATED, locked, visible_or_404
from deployments.models import Deployment
from deployments.serializers import DeploymentDetailSerializer
from kubernaut.api import Conflict
from kubernaut.schema import error_response
from locks import services as locks
from locks.serializers import LockedErrorSerializer
from releases.serializers import StrictCharField
from teams import access


class ApproveInputSerializer(serializers.Serializer):
    comment = StrictCharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=MAX_COMMENT_LENGTH,
        help_text="Optional: what you checked, for the log and the audit trail",
    )


class RejectInputSerializer(serializers.Serializer):
    comment = StrictCharField(
        max_length=MAX_COMMENT_LENGTH,
        help_text="Why you reject it: it becomes the deployment's reason",
        error_messages={
            "required": "Say why you reject the deployment: the person who asked for it reads it.",
            "blank": "Say why you reject the deployment: the person who asked for it reads it.",
        },
    )


FORBIDDEN = error_response(
    "Deciding needs the `deployer` role on the deployment's namespace (`detail` names it), a "
    "token that allows that namespace and service; and nobody approves their own deployment "
    '("You asked for this deployment; someone else must approve it.").'
)
CONFLICT = error_response(
    "The deployment is not awaiting approval (it was queued, rejected, expired or cancelled "
    "already), or you have decided on it already: each person decides once."
)


def decided(request, pk: int, decision: str, input_serializer) -> Response:
    """The view's work for both decisions: find, validate, decide, answer the deployment."""
    deployment = visible_or_404(request, Deployment.objects.select_related(*RELATED), pk)
    if not isinstance(request.data, dict):
        raise exceptions.ValidationError("The body must be a JSON object.")
    given = input_serializer(data=request.data)
    given.is_valid(raise_exception=True)
    comment = given.validated_data["comment"]
    try:
        if decision == Approval.Decision.APPROVE:
            services.approve(deployment, request.user, comment, token=request.auth)
        else:
            services.reject(deployment, request.user, comment, token=request.auth)
    except access.Forbidden as refusal:
        raise exceptions.PermissionDenied(str(refusal)) from None
    except (services.NotAwaiting, services.AlreadyDecided) as error:
        raise Conflict(str(error)) from None
    except locks.Locked as error:
        raise locked(request, error) from None
    except ValueError as error:
        raise exceptions.ValidationError({"comment": [str(error)]}) from None
    deployment = (
        Deployment.objects.select_related(*RELATED).prefetch_related("approvals__user").get(pk=pk)
    )
    return Response(DeploymentDetailSerializer(deployment, context={"request": request}).data)


class ApproveApi(APIView):
    @extend_schema(
        summary="Approve a deployment that waits for approval",
        description=(
            "For people holding `deployer` on the deployment's namespace, other than the one who "
            "asked for it (docs/approvals.md). The approval that reaches the namespace's "
            "`required_approvals` queues the deployment (`pending`). If the target is locked "
            "then, the answer is 423 and nothing is recorded: approve again once it is unlocked."
        ),
        request=ApproveInputSerializer,
        responses={
            200: OpenApiResponse(
                DeploymentDetailSerializer,
                description="Recorded: the deployment with its `approvals`; `status` is "
                "`pending` once enough people approved.",
            ),
            403: FORBIDDEN,
            404: NOT_VISIBLE,
            409: CONFLICT,
            423: OpenApiResponse(
                LockedErrorSerializer,
                description="This approval would queue the deployment, but its target is locked: "
                "`detail` says by whom, since when and why, `lock` is the lock. Nothing is "
                "recorded.",
            ),
        },
    )
    def post(self, request, pk: int):
        return decided(request, pk, Approval.Decision.APPROVE, ApproveInputSerializer)


class RejectApi(APIView):
    @extend_schema(
        summary="Reject a deployment that waits for approval",
        description=(
            "For people holding `deployer` on the deployment's namespace, other than the one who "
            "asked for it. It ends `rejected` at once, with the comment (required) in its reason."
        ),
        request=RejectInputSerializer,
        responses={
            200: OpenApiResponse(
                DeploymentDetailSerializer,
                description="Rejected: the deployment (`status` is `rejected`) with its approvals.",
            ),
            403: FORBIDDEN,
            404: NOT_VISIBLE,
            409: CONFLICT,
        },
    )
    def post(self, request, pk: int):
        return decided(request, pk, Approval.Decision.REJECT, RejectInputSerializer)
