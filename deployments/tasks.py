"""django-q2 entry points. Each takes ids, never objects, and is safe to run twice."""

import logging

from deployments import runner, services

logger = logging.getLogger(__name__)


def run_deployment(deployment_id: int) -> None:
    runner.run(deployment_id)


def check_unfinished_deployments() -> int:
    return services.check_unfinished_deployments()


# The check's name before migration 0007: a run the scheduler queued before the upgrade still works.
fail_stale_deployments = check_unfinished_deployments


def worker_started(sender, proc_name: str = "", **kwargs) -> None:
    """django-q's post_spawn: a worker process starts, maybe in place of one that died."""
    try:
        services.requeue_deployments_of_dead_workers()
    except Exception:
        # Never keep a worker from starting: the scheduled check catches up.
        logger.exception("could not look for deployments of dead workers")
