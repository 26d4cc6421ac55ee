"""django-q2 entry point for the scheduled ANALYZE."""

from maintenance import services


def analyze_if_due() -> str:
    run = services.analyze_if_due()
    return (
        "not due" if run is None else f"analyzed {len(run.tables)} tables in {run.duration_ms} ms"
    )
