"""django-q2 entry points. Each takes ids, never objects, and is safe to run twice."""

from deployments import runner, services


def run_deployment(deployment_id: int) -> None:
    runner.run(deployment_id)


def fail_stale_deployments() -> int:
    return services.fail_stale_deployments()
