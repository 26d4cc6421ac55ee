from django.apps import AppConfig


class DeploymentsConfig(AppConfig):
    name = "deployments"

    def ready(self) -> None:
        from django_q.signals import post_spawn

        from deployments.tasks import worker_started

        post_spawn.connect(worker_started, dispatch_uid="deployments.worker_started")
