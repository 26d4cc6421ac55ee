"""django-q2 entry points. Safe to run twice: a deployment ends `expired` once."""

from approvals import services


def expire_awaiting() -> int:
    return services.expire_awaiting()
