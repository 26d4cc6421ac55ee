"""The deployments API: ask for a deployment, follow it, cancel it, redeploy or promote it."""

import contextlib
from collections.abc import Iterator

from django.urls import reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import APIView

from deployments import services
from deployments.models import AlreadyFinished, Deployment, LogEntry
from deployments.serializers import (
    DEPLOYMENT_ROW_ANNOTATIONS,
    DEPLOYMENT_ROW_VALUES,
    DeploymentDetailSerializer,
    DeploymentFilterSerializer,
    DeploymentInputSerializer,
    DeploymentSerializer,
    LogEntrySerializer,
    LogFilterSerializer,
    LogPageSerializer,
    ManifestErrorSerializer,
    PromoteInputSerializer,
    RedeployInputSerializer,
    deployment_rows,
)
from kubernaut.api import (
    PAGE_PARAMETERS,
    Conflict,
    Locked,
    PolicyViolation,
    page_of_rows,
    paginated,
)
from kubernaut.schema import error_response
from locks import services as locks
from locks.serializers import LockedErrorSerializer, LockSerializer
from releases.templating import TemplateProblem
from teams import access
from teams.models import Role

RELATED = (
    "release",
    "service",
    "namespace__cluster",
    "created_by",
    "rolled_back_by",
    "cancelled_by",
)
NOT_VISIBLE = error_response(
    "There is no such deployment, or it is in a namespace where you have no role (it needs "
    "`viewer` there): both answer 404, so the answer does not tell which deployments exist."
)
MANIFEST_REFUSED = OpenApiResponse(
    ManifestErrorSerializer,
    description="The request is invalid, the manifest cannot be rendered or fails the "
    "Kubernetes schema, or the namespace's deploy policy refuses it (then `violations` lists "
    "each object, field and rule). Nothing is queued.",
)


TARGET_LOCKED = OpenApiResponse(
    LockedErrorSerializer,
    description="The target (the namespace, or this service in it) is locked: `detail` says by "
    "whom, since when and why, `lock` is the lock. Nothing is queued. An admin of the namespace "
    "may send `override_lock` with a reason (docs/locks.md).",
)
FORBIDDEN = error_response(
    "You may not deploy this service there: `detail` names the role (`deployer` as a member of "
    "the service's team, or `admin`) and the namespace that would allow it, or what your token "
    "is limited to; or you sent `override_lock` without the admin role there."
)


def locked(request, error: locks.Locked) -> Locked:
    return Locked(str(error), LockSerializer(error.lock, context={"request": request}).data)


def refused(error: services.PolicyViolated) -> PolicyViolation:
    return PolicyViolation(str(error), [violation.as_dict() for violation in error.violations])


@contextlib.contextmanager
def deploy_refusals(request) -> Iterator[None]:
    """What every door that queues a deployment answers when it is refused: 423 for a lock,
    400 with the violations for the namespace's policy, 400 for a manifest that cannot be used.
    Forbidden (403) is the views' exception handler's."""
    try:
        yield
    except locks.Locked as error:
        raise locked(request, error) from None
    except services.PolicyViolated as error:
        raise refused(error) from None
    except TemplateProblem as problem:
        raise exceptions.ValidationError({"manifest": [str(problem)]}) from None


def visible_or_404(request, deployments, pk: int) -> Deployment:
    """The deployment, if the user (and token) may see its namespace; 404 alike when it does
    not exist and when it is out of sight (docs/teams.md)."""
    deployment = deployments.filter(pk=pk).first()
    if deployment is None or not access.may_view(
        request.user, deployment.namespace, token=request.auth
    ):
        raise exceptions.NotFound(
            f"There is no deployment {pk} that you may see: it needs the viewer role on its "
            "namespace."
        )
    return deployment


def accepted(request, deployment: Deployment) -> Response:
    deployment = Deployment.objects.select_related(*RELATED).get(pk=deployment.pk)
    body = DeploymentDetailSerializer(deployment, context={"request": request}).data
    location = request.build_absolute_uri(reverse("deployment-detail", args=[deployment.pk]))
    return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": location})


# Deployments are governed by roles on their namespaces (teams/access.py), not by Django's
# model permissions: no `permission_model`, so any signed-in user or token gets in and the
# roles decide what they see and do.
class DeploymentListApi(APIView):
    @extend_schema(
        summary="List deployments, newest first",
        description="Only deployments in namespaces where you hold a role (`viewer` or more) "
        "are listed.",
        operation_id="deployments_list",
        parameters=[DeploymentFilterSerializer, *PAGE_PARAMETERS],
        responses=paginated(DeploymentSerializer),
    )
    def get(self, request):
        filters = DeploymentFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        deployments = access.limit_to_visible(
            services.filter_deployments(filters.validated_data), request.user, token=request.auth
        )
        rows = deployments.values(*DEPLOYMENT_ROW_VALUES, **DEPLOYMENT_ROW_ANNOTATIONS)
        return page_of_rows(request, self, rows, deployment_rows)

    @extend_schema(
        summary="Deploy a release to a namespace of a cluster",
        description=(
            "Name the release by `release` (its id) or by `service` and `version`. The manifest "
            "is rendered and every object checked against the Kubernetes schema and the "
            "namespace's deploy policy (docs/policies.md) before anything is queued; a worker "
            "then checks the policy again, applies it and follows the rollout."
        ),
        request=DeploymentInputSerializer,
        responses={
            202: DeploymentDetailSerializer,
            400: MANIFEST_REFUSED,
            403: FORBIDDEN,
            404: error_response("There is no such release, cluster or namespace."),
            423: TARGET_LOCKED,
        },
    )
    def post(self, request):
        if not isinstance(request.data, dict):
            raise exceptions.ValidationError("The body must be a JSON object.")
        given = DeploymentInputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        data = given.validated_data
        try:
            release = services.find_release(
                release_id=data.get("release"),
                service=data.get("service", ""),
                version=data.get("version", ""),
            )
            namespace = services.find_namespace(data["cluster"], data["namespace"])
        except services.NotFound as error:
            raise exceptions.NotFound(str(error)) from None
        with deploy_refusals(request):
            deployment = services.create_deployment(
                release=release,
                namespace=namespace,
                attributes=data["attributes"],
                user=request.user,
                timeout_seconds=data.get("timeout_seconds"),
                token=request.auth,
                override_lock=data.get("override_lock", ""),
            )
        return accepted(request, deployment)


class DeploymentDetailApi(APIView):
    @extend_schema(
        summary="A deployment with its status, objects and log",
        responses={200: DeploymentDetailSerializer, 404: NOT_VISIBLE},
    )
    def get(self, request, pk: int):
        deployment = visible_or_404(
            request,
            # approvals: the approvals app's rows, read through the reverse relation
            Deployment.objects.select_related(*RELATED).prefetch_related("approvals__user"),
            pk,
        )
        return Response(DeploymentDetailSerializer(deployment, context={"request": request}).data)


class DeploymentLogApi(APIView):
    @extend_schema(
        summary="Log lines of a deployment after a given line id",
        parameters=[LogFilterSerializer],
        responses={200: LogPageSerializer, 404: NOT_VISIBLE},
    )
    def get(self, request, pk: int):
        deployment = visible_or_404(
            request,
            Deployment.objects.select_related("namespace__cluster").only(
                "id", "status", "namespace"
            ),
            pk,
        )
        filters = LogFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        entries = LogEntry.objects.filter(
            deployment=deployment, id__gt=filters.validated_data["after"]
        )[: filters.validated_data["limit"]]
        return Response(
            {
                "status": deployment.status,
                "finished": deployment.is_finished,
                "log": LogEntrySerializer(entries, many=True).data,
            }
        )


class RedeployApi(APIView):
    @extend_schema(
        summary="Deploy the same release to the same place again",
        description="The way to roll back is to redeploy an earlier deployment. This door is "
        "for scripts and the CLI and queues at once; the web pages show the diff first.",
        request=RedeployInputSerializer,
        responses={
            202: DeploymentDetailSerializer,
            400: MANIFEST_REFUSED,
            403: FORBIDDEN,
            404: NOT_VISIBLE,
            423: TARGET_LOCKED,
        },
    )
    def post(self, request, pk: int):
        original = visible_or_404(request, Deployment.objects.select_related(*RELATED), pk)
        given = RedeployInputSerializer(data=request.data if isinstance(request.data, dict) else {})
        given.is_valid(raise_exception=True)
        if original.namespace.is_deleted or original.namespace.cluster.is_deleted:
            raise exceptions.NotFound("The namespace or cluster of that deployment was deleted.")
        with deploy_refusals(request):
            deployment = services.redeploy(
                original,
                user=request.user,
                timeout_seconds=given.validated_data.get("timeout_seconds"),
                token=request.auth,
                override_lock=given.validated_data.get("override_lock", ""),
            )
        return accepted(request, deployment)


class PromoteApi(APIView):
    @extend_schema(
        summary="Deploy the same release to the next stage",
        description="Promotes a succeeded deployment: the very same release, with the same "
        "override attributes (`requested_attributes`), is deployed to the next stage of its "
        "namespace (`next_stage`, e.g. staging -> production; docs/stages.md). The new "
        "deployment's `promoted_from` names this one. Deploying there needs the same role as "
        "any deployment there, and a lock there holds it as any other.",
        request=PromoteInputSerializer,
        responses={
            202: DeploymentDetailSerializer,
            400: MANIFEST_REFUSED,
            403: FORBIDDEN,
            404: NOT_VISIBLE,
            409: error_response(
                "The deployment did not succeed, its namespace has no next stage (an admin of "
                "it sets `next_stage`), or its release was deleted: `detail` says which. "
                "Nothing is queued."
            ),
            423: TARGET_LOCKED,
        },
    )
    def post(self, request, pk: int):
        original = visible_or_404(request, Deployment.objects.select_related(*RELATED), pk)
        given = PromoteInputSerializer(data=request.data if isinstance(request.data, dict) else {})
        given.is_valid(raise_exception=True)
        with deploy_refusals(request):
            try:
                deployment = services.promote(
                    original,
                    user=request.user,
                    token=request.auth,
                    override_lock=given.validated_data.get("override_lock", ""),
                    timeout_seconds=given.validated_data.get("timeout_seconds"),
                )
            except services.NotPromotable as error:
                raise Conflict(str(error)) from None
        return accepted(request, deployment)


class CancelApi(APIView):
    # Whoever holds `deployer` on a namespace may stop any deployment there (an outage does not
    # wait for the owning team).

    @extend_schema(
        summary="Cancel a deployment",
        description=(
            "A pending deployment (or one awaiting approval) never starts: it is `cancelled` at "
            "once (200). A running one "
            "stops being followed: the answer (202) comes at once, and the worker ends it "
            "`cancelled` within a few seconds, its log saying who cancelled and which objects it "
            "had already applied (they stay in the cluster as they are; nothing is undone)."
        ),
        request=None,
        responses={
            200: OpenApiResponse(
                DeploymentDetailSerializer,
                description="It was pending (or awaiting approval) and is now cancelled.",
            ),
            202: OpenApiResponse(
                DeploymentDetailSerializer,
                description="It is running; its worker stops following it and ends it.",
            ),
            403: error_response(
                "Cancelling needs the `deployer` role on the deployment's namespace: `detail` "
                "names it."
            ),
            404: NOT_VISIBLE,
            409: error_response("The deployment has already ended: there is nothing to cancel."),
        },
    )
    def post(self, request, pk: int):
        deployment = visible_or_404(request, Deployment.objects.select_related(*RELATED), pk)
        access.require(
            request.user,
            Role.DEPLOYER,
            deployment.namespace,
            token=request.auth,
            action=f"Cancelling deployment {pk}",
        )
        try:
            ended = deployment.cancel(by=request.user)
        except AlreadyFinished as error:
            raise Conflict(str(error)) from None
        deployment = Deployment.objects.select_related(*RELATED).get(pk=pk)
        body = DeploymentDetailSerializer(deployment, context={"request": request}).data
        return Response(body, status=status.HTTP_200_OK if ended else status.HTTP_202_ACCEPTED)
