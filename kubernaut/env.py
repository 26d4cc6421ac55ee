"""Strict readers for configuration from environment variables.

Every reader raises ImproperlyConfigured with the variable's name when a value is malformed, so a
typo stops start-up with a message a person can act on instead of running half-configured.
"""

import os
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off", ""}


def load_dotenv(path: Path) -> None:
    """Put KEY=VALUE lines of a `.env` file into os.environ, never overriding what is set.

    `make run` writes this file so that `manage.py` run beside it finds the same database.
    """
    if not str(path) or not path.is_file():
        return
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise ImproperlyConfigured(f"{path}, line {number}: expected KEY=VALUE, got {line!r}")
        os.environ.setdefault(key.strip(), value.strip())


def env_str(name: str, default: str | None = None) -> str | None:
    """The variable's value, or the contents of the file that NAME_FILE names (mounted secrets)."""
    file_name = os.environ.get(f"{name}_FILE")
    if file_name:
        try:
            return Path(file_name).read_text().strip()
        except OSError as error:
            raise ImproperlyConfigured(
                f"{name}_FILE names {file_name!r}, which cannot be read: {error.strerror}"
            ) from error
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    word = value.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false (1/0, yes/no, on/off), got {value!r}")


def env_int(name: str, default: int, minimum: int | None = None) -> int:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, got {value!r}") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {number}")
    return number


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None:
        return default
    items = [item.strip() for item in value.split(",")]
    if any(not item for item in items):
        raise ImproperlyConfigured(f"{name} must be a comma-separated list without empty items")
    return items


LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}


def env_url(name: str) -> str:
    """An https:// address ("" when unset); plain http:// only on this machine, where nothing
    travels over a network."""
    value = (env_str(name) or "").strip()
    if not value:
        return ""
    parts = urlsplit(value)
    if parts.scheme == "https" and parts.hostname:
        return value
    if parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS:
        return value
    raise ImproperlyConfigured(
        f"{name} must be an https:// address (plain http:// only on localhost), got {value!r}"
    )


def parse_database_url(name: str, url: str) -> dict:
    """Django DATABASES entry for a postgres:// or postgresql:// URL.

    A unix socket folder can be given as `?host=/path` or as a percent-encoded host.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql"):
        raise ImproperlyConfigured(
            f"{name} must start with postgresql:// (Kubernaut runs on PostgreSQL only), got {url!r}"
        )
    try:
        port = parts.port
    except ValueError:
        raise ImproperlyConfigured(f"{name} has a port that is not a number: {url!r}") from None
    database = unquote(parts.path.lstrip("/"))
    if not database:
        raise ImproperlyConfigured(
            f"{name} must name a database, as in postgresql://host/kubernaut"
        )
    query = parse_qs(parts.query)
    host = unquote(parts.hostname or "") if parts.hostname else ""
    if "host" in query:
        host = query.pop("host")[0]
    options = {key: values[-1] for key, values in query.items()}
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": database,
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": host,
        "PORT": str(port or ""),
        "OPTIONS": options,
    }
