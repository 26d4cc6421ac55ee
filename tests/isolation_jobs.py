"""Jobs for tests/test_templating.py to run in releases.isolation's children (no Django here)."""


def remember(payload: str, memo: bytes | None) -> tuple[str | None, bytes]:
    """Answers with the memo it was given and leaves its payload as the next job's memo."""
    return (memo.decode() if memo is not None else None), payload.encode()


def fail_after_leaving(payload: str, memo: bytes | None):
    raise RuntimeError(payload)
