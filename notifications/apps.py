from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"

    def ready(self) -> None:
        from deployments.models import deployment_finished, deployment_started
        from notifications import services

        deployment_started.connect(
            services.on_deployment_started, dispatch_uid="notifications.deployment_started"
        )
        deployment_finished.connect(
            services.on_deployment_finished, dispatch_uid="notifications.deployment_finished"
        )
