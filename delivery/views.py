"""The continuous delivery page of a service: where it is on, paused or off, with buttons."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render

from delivery import services
from delivery.models import AutoDeploy
from kubernaut.views import require_permission
from releases.models import Service
from teams import access


@require_permission("releases.view_release")
def continuous_delivery(request, name: str):
    """GET: each namespace the person sees that the service may go to, with its continuous
    delivery state, and On / Off / Resume buttons where they may deploy the service. POST
    (`action` on|off|resume with `namespace`): do it, say so, and come back here."""
    service = get_object_or_404(Service.objects.select_related("team"), name=name)
    visible = (
        access.visible_namespaces(request.user)
        .filter(cluster__deleted_at__isnull=True)
        .select_related("cluster")
        .order_by("cluster__name", "name")
    )
    if request.method == "POST":
        act(request, service, visible)
        return redirect("continuous-delivery", name=service.name)
    roles = access.roles_of(request.user)
    autos = {
        auto.namespace_id: auto
        for auto in AutoDeploy.objects.filter(
            service=service, namespace__in=visible
        ).select_related(*services.RELATED, "last_deployment__release")
    }
    rows = [
        {
            "namespace": namespace,
            "auto": autos.get(namespace.pk),
            "may_change": roles.may_deploy(service, namespace),
        }
        for namespace in visible
        if namespace.pk in autos or roles.may_deploy(service, namespace)
    ]
    return render(request, "delivery/service.html", {"service": service, "rows": rows})


def act(request, service: Service, visible) -> None:
    action = request.POST.get("action", "")
    namespace_id = request.POST.get("namespace", "")
    namespace = visible.filter(pk=int(namespace_id)).first() if namespace_id.isdigit() else None
    if namespace is None or action not in ("on", "off", "resume"):
        messages.error(request, "Choose a namespace and On, Off or Resume.")
        return
    auto = AutoDeploy.objects.filter(service=service, namespace=namespace).first()
    try:
        if action == "on":
            services.create_auto_deploy(service=service, namespace=namespace, user=request.user)
            messages.success(
                request,
                f"Continuous delivery of {service.name} to {namespace} is on: the next release "
                "is deployed there at once.",
            )
        elif auto is None:
            messages.error(request, f"Continuous delivery of {service.name} to {namespace} is off.")
        elif action == "off":
            services.delete_auto_deploy(auto, user=request.user)
            messages.success(request, f"Continuous delivery of {auto.target} is off.")
        else:
            services.resume_auto_deploy(auto, user=request.user)
            messages.success(
                request,
                f"Continuous delivery of {auto.target} is resumed: the next release is deployed.",
            )
    except (access.Forbidden, services.AlreadyOn, services.NotFound, services.NotPaused) as error:
        messages.error(request, str(error))
