"""GET /api/audit: the audit trail, newest first, for those allowed to read it."""

from drf_spectacular.utils import extend_schema
from rest_framework.views import APIView

from audit import services
from audit.models import AuditEntry
from audit.serializers import AuditEntrySerializer, AuditFilterSerializer
from kubernaut.api import PAGE_PARAMETERS, page_of_rows, paginated


class AuditListApi(APIView):
    # Reading needs audit.view_auditentry (superusers have it): the trail names everyone's
    # actions, objects and addresses.
    permission_model = AuditEntry

    @extend_schema(
        summary="List audit entries, newest first",
        description="Every recorded change, from any door (web, api, admin, command, worker): "
        "who acted, through which door and token, from which address, on which object, and "
        "what changed. Filters combine; times are ISO 8601. Needs the permission "
        "audit.view_auditentry (docs/audit.md).",
        operation_id="audit_list",
        parameters=[AuditFilterSerializer, *PAGE_PARAMETERS],
        responses=paginated(AuditEntrySerializer),
    )
    def get(self, request):
        filters = AuditFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        entries = services.filter_entries(filters.validated_data)
        return page_of_rows(
            request,
            self,
            entries,
            lambda page, _: AuditEntrySerializer(page, many=True).data,
        )
