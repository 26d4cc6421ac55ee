from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from kubernaut import views
from kubernaut.api import api_not_found
from releases.api import ReleaseDetailApi, ReleaseListApi

api = [
    path("releases", ReleaseListApi.as_view(), name="release-list"),
    path("releases/<int:pk>", ReleaseDetailApi.as_view(), name="release-detail"),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    re_path(r"^.*$", api_not_found),
]

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/", include(api)),
]
