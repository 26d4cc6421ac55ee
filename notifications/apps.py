from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"

    def ready(self) -> None:
        from deployments.models import deployment_finished, deployment_started
        from locks.signals import lock_created, lock_deleted
        from notifications import services

        deployment_started.connect(
            services.on_deployment_started, dispatch_uid="notifications.deployment_started"
        )
        deployment_finished.connect(
            services.on_deployment_finished, dispatch_uid="notifications.deployment_finished"
        )
        lock_created.connect(services.on_lock_created, dispatch_uid="notifications.lock_created")
        lock_deleted.connect(services.on_lock_deleted, dispatch_uid="notifications.lock_deleted")
