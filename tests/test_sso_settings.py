"""Single sign-on configured halfway stops start-up with a sentence naming the variable."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def start_with(**variables: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "SECRET_KEY": "x", "KUBERNAUT_ENV_FILE": "", **variables}
    for name in ("KUBERNAUT_OIDC_CLIENT_ID", "KUBERNAUT_OIDC_SCOPES"):
        if name not in variables:
            env.pop(name, None)
    return subprocess.run(
        [sys.executable, "-c", "import kubernaut.settings"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"KUBERNAUT_OIDC_ISSUER": "https://idp.example"}, "KUBERNAUT_OIDC_CLIENT_ID must be set"),
        (
            {"KUBERNAUT_OIDC_ISSUER": "https://idp.example", "KUBERNAUT_OIDC_CLIENT_ID": "k",
             "KUBERNAUT_OIDC_SCOPES": "profile,email"},
            "KUBERNAUT_OIDC_SCOPES must include openid",
        ),
        ({"KUBERNAUT_OIDC_ISSUER": "http://idp.example"}, "must be an https:// address"),
    ],
)  # fmt: skip
def test_half_configured_sso_stops_start_up(variables, message):
    result = start_with(**variables)
    assert result.returncode != 0
    assert message in result.stderr


def test_sso_configured_starts(tmp_path):
    secret = tmp_path / "client-secret"
    secret.write_text("s3cret\n")
    result = start_with(
        KUBERNAUT_OIDC_ISSUER="https://idp.example",
        KUBERNAUT_OIDC_CLIENT_ID="kubernaut",
        KUBERNAUT_OIDC_CLIENT_SECRET_FILE=str(secret),
    )
    assert result.returncode == 0, result.stderr
