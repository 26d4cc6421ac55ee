"""GET /api/metrics/dora: the DORA metrics of production deployments (docs/metrics.md)."""

from drf_spectacular.utils import extend_schema
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import APIView

from kubernaut.schema import error_response
from metrics import services
from metrics.serializers import DoraQuerySerializer, DoraSerializer


class DoraApi(APIView):
    @extend_schema(
        summary="DORA metrics of production deployments",
        description="Deployment frequency, change failure rate, lead time for changes and time "
        "to restore over the last 7, 30 or 90 days, for one service or all, counting only "
        "deployments to namespaces marked `production` where you hold a role. Definitions: "
        "docs/metrics.md.",
        operation_id="metrics_dora",
        parameters=[DoraQuerySerializer],
        responses={
            200: DoraSerializer,
            400: error_response("`days` is not 7, 30 or 90, or `service` is empty or too long."),
            401: error_response("No credentials, or a token that is unknown, revoked or expired."),
            403: error_response("Your session or token may not read this."),
            404: error_response("There is no service with this name."),
        },
    )
    def get(self, request):
        query = DoraQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        given = query.validated_data
        namespace_ids = services.counted_namespace_ids(request.user, token=request.auth)
        try:
            figures = services.dora_cached(
                namespace_ids, days=int(given["days"]), service=given.get("service")
            )
        except services.UnknownService as unknown:
            raise exceptions.NotFound(str(unknown)) from None
        return Response(figures.as_json())
