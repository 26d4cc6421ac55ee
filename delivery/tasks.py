"""django-q2 entry points of continuous delivery."""

from delivery import services


def deploy_release(release_id: int) -> str:
    """Deploy a new release wherever continuous delivery of its service is on."""
    made = services.deploy_release(release_id)
    return ", ".join(f"#{deployment.pk}" for deployment in made) or "nothing deployed"
