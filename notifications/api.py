"""The webhooks API: add, list, read and delete webhooks, and read each one's delivery log.

Superusers (and accounts with the notifications.*_webhook permissions) manage every webhook; the
admins of a namespace manage the webhooks filtered to it (notifications/services.py `authorize`).
A webhook someone may not manage does not exist for them (404).
"""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import APIView

from kubernaut.api import PAGE_PARAMETERS, page_of_rows, paginated
from kubernaut.schema import error_response
from notifications import services
from notifications.models import Delivery, Webhook
from notifications.serializers import (
    DELIVERY_ROW_VALUES,
    DeliverySerializer,
    WebhookInputSerializer,
    WebhookSerializer,
    delivery_rows,
)
from teams.access import Forbidden

NOT_YOURS = error_response(
    "There is no such webhook, it was deleted, or you may not manage it (superusers and the "
    "admins of its namespace may)."
)


def visible(request):
    return services.visible_webhooks(request.user, token=request.auth)


class WebhookListApi(APIView):
    @extend_schema(
        summary="List the webhooks you may manage, newest first",
        description="Their addresses with the path hidden, never their secrets.",
        operation_id="webhooks_list",
        parameters=PAGE_PARAMETERS,
        responses=paginated(WebhookSerializer),
    )
    def get(self, request):
        webhooks = visible(request).select_related("created_by")
        return page_of_rows(
            request,
            self,
            webhooks,
            lambda page, _: WebhookSerializer(page, many=True, context={"request": request}).data,
        )

    @extend_schema(
        summary="Add a webhook",
        description=(
            "Kubernaut POSTs each event you name to `url`: `kind` slack sends Slack's "
            "incoming-webhook message, `kind` generic sends Kubernaut's JSON signed with "
            "HMAC-SHA256 over `<timestamp>.<body>` with `secret`, as `X-Kubernaut-Signature: "
            "t=<timestamp>,v1=<hex>`. `cluster`, `namespace` and `service` limit it to the "
            "events there. A webhook without a namespace needs a superuser (or the permission "
            "notifications.add_webhook); one with a namespace, an admin of that namespace. "
            "Deliveries to loopback, private and link-local addresses are refused unless "
            "KUBERNAUT_WEBHOOK_ALLOW_PRIVATE is true (docs/notifications.md)."
        ),
        request=WebhookInputSerializer,
        responses={
            201: WebhookSerializer,
            403: error_response(
                "You may not add a webhook there: the sentence says which role or permission "
                "would allow it."
            ),
        },
    )
    def post(self, request):
        if not services.may_add_some_webhook(request.user):
            # Before the body is read: its answers would say which namespaces exist.
            raise exceptions.PermissionDenied(services.ADD_NEEDS)
        if not isinstance(request.data, dict):
            raise exceptions.ValidationError(
                'The body must be a JSON object, like {"url": "https://...", "kind": "slack", '
                '"events": ["deployment.succeeded"]}.'
            )
        given = WebhookInputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        data = given.validated_data
        try:
            cluster, namespace, service = services.find_filters(
                data.get("cluster"), data.get("namespace"), data.get("service")
            )
            services.authorize(
                request.user,
                namespace,
                service,
                token=request.auth,
                action="Adding a webhook",
                perm="add",
            )
        except services.Invalid as error:
            raise exceptions.ValidationError(error.errors) from None
        except Forbidden as error:
            raise exceptions.PermissionDenied(str(error)) from None
        webhook = services.create_webhook(
            user=request.user,
            kind=data["kind"],
            url=data["url"],
            secret=data.get("secret", ""),
            events=data["events"],
            cluster=cluster,
            namespace=namespace,
            service=service,
        )
        webhook = Webhook.objects.select_related(
            "cluster", "namespace", "service", "created_by"
        ).get(pk=webhook.pk)
        body = WebhookSerializer(webhook, context={"request": request}).data
        return Response(body, status=status.HTTP_201_CREATED)


class WebhookDetailApi(APIView):
    @extend_schema(summary="A webhook", responses={200: WebhookSerializer, 404: NOT_YOURS})
    def get(self, request, pk: int):
        webhook = get_object_or_404(visible(request).select_related("created_by"), pk=pk)
        return Response(WebhookSerializer(webhook, context={"request": request}).data)

    @extend_schema(
        summary="Delete a webhook",
        description="It gets nothing more; attempts still waiting are marked failed. Its "
        "delivery log is kept.",
        responses={
            204: OpenApiResponse(description="Deleted."),
            403: error_response("You may see this webhook but not delete it."),
            404: NOT_YOURS,
        },
    )
    def delete(self, request, pk: int):
        webhook = get_object_or_404(visible(request), pk=pk)
        try:
            services.authorize(
                request.user,
                webhook.namespace,
                webhook.service,
                token=request.auth,
                action="Deleting a webhook",
                perm="delete",
            )
        except Forbidden as error:
            raise exceptions.PermissionDenied(str(error)) from None
        if not services.delete_webhook(webhook, user=request.user):
            raise exceptions.NotFound("This webhook was deleted meanwhile.")
        return Response(status=status.HTTP_204_NO_CONTENT)


class DeliveryListApi(APIView):
    @extend_schema(
        summary="A webhook's delivery log, newest first",
        description="Every attempt to deliver every event: its state, the receiver's status "
        "code, why it failed, when it started and how long it took, and the body sent. A "
        "failed attempt is followed by the next (up to 5) after 30 s, 2 min, 10 min and 1 h.",
        operation_id="webhooks_deliveries_list",
        parameters=PAGE_PARAMETERS,
        responses={200: paginated(DeliverySerializer), 404: NOT_YOURS},
    )
    def get(self, request, pk: int):
        webhook = get_object_or_404(visible(request), pk=pk)
        rows = Delivery.objects.filter(webhook=webhook).values(*DELIVERY_ROW_VALUES)
        return page_of_rows(request, self, rows, delivery_rows)
