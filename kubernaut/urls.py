from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from approvals import views as approval_views
from approvals.api import ApproveApi, RejectApi
from audit import views as audit_views
from audit.api import AuditListApi
from clusters.api import ClusterListApi, NamespaceDetailApi, NamespaceListApi
from delivery import views as delivery_views
from delivery.api import AutoDeployDetailApi, AutoDeployListApi, AutoDeployResumeApi
from deployments import views as deployment_views
from deployments.api import (
    CancelApi,
    DeploymentDetailApi,
    DeploymentListApi,
    DeploymentLogApi,
    PromoteApi,
    RedeployApi,
)
from kubernaut import account, health, views
from kubernaut.api import api_not_found
from locks.api import LockDetailApi, LockListApi
from metrics import views as metrics_views
from metrics.api import DoraApi
from notifications.api import DeliveryListApi, WebhookDetailApi, WebhookListApi
from releases import views as release_views
from releases.api import ReleaseDetailApi, ReleaseDiffApi, ReleaseListApi
from sso import views as sso_views

admin.site.site_header = "Kubernaut administration"
admin.site.site_title = "Kubernaut admin"

api = [
    path("releases", ReleaseListApi.as_view(), name="release-list"),
    path("releases/<int:pk>", ReleaseDetailApi.as_view(), name="release-detail"),
    path("releases/<int:pk>/diff", ReleaseDiffApi.as_view(), name="release-diff"),
    path("deployments", DeploymentListApi.as_view(), name="deployment-list"),
    path("deployments/<int:pk>", DeploymentDetailApi.as_view(), name="deployment-detail"),
    path("deployments/<int:pk>/log", DeploymentLogApi.as_view(), name="deployment-log"),
    path("deployments/<int:pk>/redeploy", RedeployApi.as_view(), name="deployment-redeploy"),
    path("deployments/<int:pk>/cancel", CancelApi.as_view(), name="deployment-cancel"),
    path("deployments/<int:pk>/promote", PromoteApi.as_view(), name="deployment-promote"),
    path("deployments/<int:pk>/approve", ApproveApi.as_view(), name="deployment-approve"),
    path("deployments/<int:pk>/reject", RejectApi.as_view(), name="deployment-reject"),
    path("clusters", ClusterListApi.as_view(), name="cluster-list"),
    path("namespaces", NamespaceListApi.as_view(), name="namespace-list"),
    path("namespaces/<int:pk>", NamespaceDetailApi.as_view(), name="namespace-detail"),
    path("locks", LockListApi.as_view(), name="lock-list"),
    path("locks/<int:pk>", LockDetailApi.as_view(), name="lock-detail"),
    path("auto-deploys", AutoDeployListApi.as_view(), name="auto-deploy-list"),
    path("auto-deploys/<int:pk>", AutoDeployDetailApi.as_view(), name="auto-deploy-detail"),
    path("auto-deploys/<int:pk>/resume", AutoDeployResumeApi.as_view(), name="auto-deploy-resume"),
    path("audit", AuditListApi.as_view(), name="audit-list"),
    path("webhooks", WebhookListApi.as_view(), name="webhook-list"),
    path("webhooks/<int:pk>", WebhookDetailApi.as_view(), name="webhook-detail"),
    path("webhooks/<int:pk>/deliveries", DeliveryListApi.as_view(), name="webhook-deliveries"),
    path("metrics/dora", DoraApi.as_view(), name="metrics-dora"),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path(
        "docs/",
        SpectacularSwaggerView.as_view(url_name="api-schema", template_name="api/docs.html"),
        name="api-docs",
    ),
    # [\s\S], not `.`: a path segment may hold an encoded newline, which `.` does not match.
    re_path(r"^[\s\S]*$", api_not_found),
]

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    # Browsers ask for /favicon.ico whatever the page links; the page's SVG answers.
    path("favicon.ico", RedirectView.as_view(url=f"{settings.STATIC_URL}favicon.svg")),
    path("readyz", health.readyz, name="readyz"),
    path("", views.home, name="home"),
    path("login/", sso_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("sso/", include("sso.urls")),
    path("services/<str:name>/", release_views.service_detail, name="service"),
    path(
        "services/<str:name>/continuous-delivery",
        delivery_views.continuous_delivery,
        name="continuous-delivery",
    ),
    path("releases/", release_views.release_list, name="releases"),
    path("releases/<int:pk>/", release_views.release_detail, name="release"),
    path("releases/<int:pk>/compare", release_views.release_compare, name="release-compare"),
    path("releases/<int:release_id>/deploy", deployment_views.deploy, name="deploy"),
    path("deployments/", deployment_views.deployment_list, name="deployments"),
    path("deployments/<int:pk>/", deployment_views.deployment_detail, name="deployment"),
    path(
        "deployments/<int:pk>/progress",
        deployment_views.deployment_progress,
        name="deployment-progress",
    ),
    path("deployments/<int:pk>/drift", deployment_views.deployment_drift, name="drift"),
    path("deployments/<int:pk>/redeploy", deployment_views.redeploy, name="redeploy"),
    path("deployments/<int:pk>/rollback", deployment_views.rollback, name="rollback"),
    path("deployments/<int:pk>/cancel", deployment_views.cancel, name="cancel"),
    path("deployments/<int:pk>/promote", deployment_views.promote, name="promote"),
    path("deployments/<int:pk>/approve", approval_views.approve, name="approve"),
    path("deployments/<int:pk>/reject", approval_views.reject, name="reject"),
    path("account/tokens/", account.tokens, name="tokens"),
    path("account/tokens/<int:pk>/revoke", account.revoke, name="token-revoke"),
    path("audit/", audit_views.audit_list, name="audit"),
    path("metrics/", metrics_views.dora, name="metrics"),
    path("admin/", admin.site.urls),
    path("api/", include(api)),
]
