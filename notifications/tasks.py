"""django-q2 entry points. Each takes ids, never objects, and is safe to run twice."""

from notifications import services


def deliver(delivery_id: int) -> str:
    return services.deliver(delivery_id)


def deliver_due() -> int:
    return services.deliver_due()
