"""kubernaut.env: malformed configuration stops start-up with the variable's name."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from kubernaut import env


@pytest.mark.parametrize(("value", "expected"), [("true", True), ("0", False), ("Yes", True)])
def test_env_bool(monkeypatch, value, expected):
    monkeypatch.setenv("FLAG", value)
    assert env.env_bool("FLAG", default=False) is expected


def test_env_bool_rejects_other_words(monkeypatch):
    monkeypatch.setenv("DEBUG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="DEBUG must be true or false"):
        env.env_bool("DEBUG", default=False)


def test_env_int_names_the_variable(monkeypatch):
    monkeypatch.setenv("KUBERNAUT_WORKERS", "two")
    with pytest.raises(ImproperlyConfigured, match="KUBERNAUT_WORKERS must be a whole number"):
        env.env_int("KUBERNAUT_WORKERS", 2)


def test_env_list_rejects_empty_items(monkeypatch):
    monkeypatch.setenv("ALLOWED_HOSTS", "a.example,,b.example")
    with pytest.raises(ImproperlyConfigured, match="ALLOWED_HOSTS"):
        env.env_list("ALLOWED_HOSTS", [])


def test_file_variant_reads_mounted_secret(monkeypatch, tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("s3cret\n")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("SECRET_KEY_FILE", str(secret))
    assert env.env_str("SECRET_KEY") == "s3cret"


def test_unreadable_file_variant_names_the_variable(monkeypatch, tmp_path):
    monkeypatch.setenv("SECRET_KEY_FILE", str(tmp_path / "missing"))
    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY_FILE names"):
        env.env_str("SECRET_KEY")


def test_database_url():
    parsed = env.parse_database_url("DATABASE_URL", "postgresql://u:p%40ss@db.example:6543/kn")
    assert (parsed["USER"], parsed["PASSWORD"], parsed["HOST"], parsed["PORT"], parsed["NAME"]) == (
        "u",
        "p@ss",
        "db.example",
        "6543",
        "kn",
    )


def test_database_url_with_socket_folder():
    parsed = env.parse_database_url("DATABASE_URL", "postgres:///kn?host=/run/pg&sslmode=disable")
    assert parsed["HOST"] == "/run/pg"
    assert parsed["OPTIONS"] == {"sslmode": "disable"}


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mysql://x/y", "must start with postgresql://"),
        ("postgresql://h:notaport/db", "port that is not a number"),
        ("postgresql://host", "must name a database"),
    ],
)
def test_bad_database_url_names_the_variable(url, expected):
    with pytest.raises(ImproperlyConfigured, match=expected) as raised:
        env.parse_database_url("DATABASE_URL", url)
    assert "DATABASE_URL" in str(raised.value)


def test_dotenv_does_not_override_the_environment(monkeypatch, tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_text("# comment\nKN_A=from-file\nKN_B=from-file\n")
    monkeypatch.setenv("KN_A", "from-env")
    monkeypatch.delenv("KN_B", raising=False)
    env.load_dotenv(dotenv)
    import os

    assert (os.environ["KN_A"], os.environ["KN_B"]) == ("from-env", "from-file")
    monkeypatch.delenv("KN_B")


def test_settings_module_refuses_a_malformed_debug(tmp_path):
    import os
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-c", "import kubernaut.settings"],
        env={**os.environ, "DEBUG": "sometimes", "KUBERNAUT_ENV_FILE": ""},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "DEBUG must be true or false" in result.stderr


def test_settings_module_requires_a_secret_key():
    import os
    import subprocess
    import sys

    environment = {k: v for k, v in os.environ.items() if not k.startswith("SECRET_KEY")}
    result = subprocess.run(
        [sys.executable, "-c", "import kubernaut.settings"],
        env={**environment, "KUBERNAUT_ENV_FILE": ""},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "SECRET_KEY (or SECRET_KEY_FILE) must be set" in result.stderr


def test_settings_module_refuses_a_heartbeat_judged_stale_too_soon():
    import os
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-c", "import kubernaut.settings"],
        env={**os.environ, "KUBERNAUT_ENV_FILE": "", "KUBERNAUT_HEARTBEAT_SECONDS": "5",
             "KUBERNAUT_HEARTBEAT_STALE_SECONDS": "10"},
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip
    assert result.returncode != 0
    assert "KUBERNAUT_HEARTBEAT_STALE_SECONDS must be at least three" in result.stderr


@pytest.mark.parametrize(
    "value",
    ["https://idp.example/realms/main", "http://localhost:8080", "http://127.0.0.1:5556/dex"],
)
def test_env_url_takes_https_and_loopback_http(monkeypatch, value):
    monkeypatch.setenv("KUBERNAUT_OIDC_ISSUER", value)
    assert env.env_url("KUBERNAUT_OIDC_ISSUER") == value


@pytest.mark.parametrize("value", ["http://idp.example", "http://localhost.evil.example", "idp"])
def test_env_url_refuses_plain_http_over_a_network(monkeypatch, value):
    monkeypatch.setenv("KUBERNAUT_OIDC_ISSUER", value)
    with pytest.raises(ImproperlyConfigured, match="KUBERNAUT_OIDC_ISSUER must be an https://"):
        env.env_url("KUBERNAUT_OIDC_ISSUER")


def test_env_url_unset_is_empty(monkeypatch):
    monkeypatch.delenv("KUBERNAUT_OIDC_ISSUER", raising=False)
    assert env.env_url("KUBERNAUT_OIDC_ISSUER") == ""


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("KUBERNAUT_BASE_URL", "kubernaut.example", "KUBERNAUT_BASE_URL must be the address"),
        ("KUBERNAUT_WEBHOOK_ALLOW_PRIVATE", "maybe", "KUBERNAUT_WEBHOOK_ALLOW_PRIVATE must be"),
    ],
)
def test_settings_module_refuses_malformed_notification_settings(variable, value, message):
    import os
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-c", "import kubernaut.settings"],
        env={**os.environ, "KUBERNAUT_ENV_FILE": "", variable: value},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert message in result.stderr


def test_settings_module_refuses_a_queue_poll_that_would_busy_loop():
    import os
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-c", "import kubernaut.settings"],
        env={**os.environ, "KUBERNAUT_ENV_FILE": "", "KUBERNAUT_QUEUE_POLL_MS": "5"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "KUBERNAUT_QUEUE_POLL_MS must be at least 20" in result.stderr


def test_queue_poll_is_read_in_milliseconds():
    import os
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-c",
         "from kubernaut import settings; print(settings.Q_CLUSTER['poll'])"],
        env={**os.environ, "KUBERNAUT_ENV_FILE": "", "SECRET_KEY": "x",
             "KUBERNAUT_QUEUE_POLL_MS": "250"},
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert result.stdout.strip() == "0.25"
