"""Who may call which API endpoint (kept apart from kubernaut.api: DRF imports it early)."""

from rest_framework import permissions


class ModelPermissions(permissions.BasePermission):
    """Django's model permissions, including `view_*` for reads.

    A view names its model with `permission_model`; an admin grants users (e.g. a `jenkins` user)
    the permissions in the admin, singly or through groups. Views without one (deployments,
    clusters, namespaces) only need a signed-in user: roles on namespaces decide there
    (teams/access.py, docs/teams.md).
    """

    actions = {
        "GET": "view",
        "HEAD": "view",
        "POST": "add",
        "PUT": "change",
        "PATCH": "change",
        "DELETE": "delete",
    }

    def has_permission(self, request, view) -> bool:
        if not request.user or not request.user.is_authenticated:
            return False
        model = getattr(view, "permission_model", None)
        if model is None or request.method == "OPTIONS":
            return True
        action = getattr(view, "permission_actions", {}).get(request.method)
        action = action or self.actions.get(request.method)
        codename = f"{model._meta.app_label}.{action}_{model._meta.model_name}"
        if request.user.has_perm(codename):
            return True
        self.message = (
            f"Your account lacks the permission {codename}; ask an administrator to grant it."
        )
        return False
