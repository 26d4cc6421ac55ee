from django.urls import path

from sso import views

urlpatterns = [
    path("login", views.start, name="sso-login"),
    path("callback", views.callback, name="sso-callback"),
]
