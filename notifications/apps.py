from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"

    def ready(self) -> None:
        from approvals.signals import approval_given
        from deployments.models import (
            deployment_awaiting_approval,
            deployment_finished,
            deployment_started,
        )
        from locks.signals import lock_created, lock_deleted
        from notifications import services

        deployment_started.connect(
            services.on_deployment_started, dispatch_uid="notifications.deployment_started"
        )
        deployment_finished.connect(
            services.on_deployment_finished, dispatch_uid="notifications.deployment_finished"
        )
        deployment_awaiting_approval.connect(
            services.on_deployment_awaiting_approval,
            dispatch_uid="notifications.deployment_awaiting_approval",
        )
        approval_given.connect(
            services.on_approval_given, dispatch_uid="notifications.approval_given"
        )
        lock_created.connect(services.on_lock_created, dispatch_uid="notifications.lock_created")
        lock_deleted.connect(services.on_lock_deleted, dispatch_uid="notifications.lock_deleted")
