"""django-q2 entry points. Each takes ids, never objects, and is safe to run twice."""

from deployments import runner, services


def run_deployment(deployment_id: int) -> None:
    runner.run(deployment_id)


def check_unfinished_deployments() -> int:
    return services.check_unfinished_deployments()


# The check's name before migration 0007: a run the scheduler queued before the upgrade still works.
fail_stale_deployments = check_unfinished_deployments
