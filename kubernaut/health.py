"""Probes for Kubernetes: /healthz (the process answers) and /readyz (it can serve requests).

They need no login: a probe has no credentials, and the answers reveal nothing.
"""

from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor
from django.http import JsonResponse

_migrated = False  # once true for this process, it stays true


def healthz(request):
    return JsonResponse({"status": "ok"})


def readyz(request):
    global _migrated
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        if not _migrated:
            executor = MigrationExecutor(connection)
            pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
            if pending:
                return JsonResponse(
                    {"status": "unready", "reason": f"{len(pending)} migrations not applied"},
                    status=503,
                )
            _migrated = True
    except DatabaseError as error:
        return JsonResponse(
            {"status": "unready", "reason": f"database unreachable: {type(error).__name__}"},
            status=503,
        )
    return JsonResponse({"status": "ready"})
