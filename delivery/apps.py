from django.apps import AppConfig


class DeliveryConfig(AppConfig):
    name = "delivery"
    verbose_name = "Continuous delivery"

    def ready(self) -> None:
        from delivery import services
        from deployments.models import deployment_finished, deployment_started
        from releases.signals import release_created

        release_created.connect(services.on_release_created, dispatch_uid="delivery.release")
        deployment_started.connect(
            services.on_deployment_started, dispatch_uid="delivery.deployment_started"
        )
        deployment_finished.connect(
            services.on_deployment_finished, dispatch_uid="delivery.deployment_finished"
        )
