"""The kubernaut CLI's unhappy paths that need no worker: one line on stderr, a distinct exit
code, never a traceback."""

import pytest

from accounts.models import ApiToken
from kubernaut_cli.main import main
from tests.test_pipeline_support import free_port, kubernaut

pytestmark = pytest.mark.django_db(transaction=True)


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_unreachable_server_is_one_line_and_exit_3(capsys):
    code, _, err = run(capsys, "--url", f"http://127.0.0.1:{free_port()}", "--token", "x",
                       "releases")  # fmt: skip
    assert code == 3
    assert err.startswith("kubernaut: cannot reach Kubernaut at http://127.0.0.1:")
    assert err.count("\n") == 1


def test_missing_url_or_token_says_which(capsys, monkeypatch):
    monkeypatch.delenv("KUBERNAUT_URL", raising=False)
    monkeypatch.delenv("KUBERNAUT_TOKEN", raising=False)
    code, _, err = run(capsys, "releases")
    assert (code, err.split(":")[1].strip()) == (2, "KUBERNAUT_URL is not set")
    code, _, err = run(capsys, "--url", "http://127.0.0.1:1", "releases")
    assert code == 2
    assert "KUBERNAUT_TOKEN is not set" in err


def test_bad_token_exits_4(capsys, live_server):
    code, _, err = run(capsys, "--url", live_server.url, "--token", "kn_wrong", "releases")
    assert code == 4
    assert "KUBERNAUT_TOKEN" in err
    assert err.count("\n") == 1


def test_missing_permission_exits_4(capsys, live_server, charlie):
    _, key = ApiToken.issue(charlie)
    # Releases are behind Django's permissions; deployments answer by roles (an empty list).
    code, _, err = run(capsys, "--url", live_server.url, "--token", key, "releases")
    assert code == 4
    assert "permission" in err.lower()


def test_not_kubernaut_is_said_plainly(capsys, live_server, alice):
    # A wrong URL that answers HTML (here: the login page of the web UI).
    _, key = ApiToken.issue(alice)
    code, _, err = run(capsys, "--url", live_server.url + "/login", "--token", key, "releases")
    assert code in (2, 3)
    assert err.startswith("kubernaut: ") and err.count("\n") == 1


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["deploy", "--service", "s"], "the following arguments are required"),
        (
            [
                "deploy",
                "--service",
                "s",
                "--version",
                "1",
                "--cluster",
                "c",
                "--namespace",
                "n",
                "-a",
                "novalue",
            ],
            "key=value",
        ),  # fmt: skip
        (
            [
                "deploy",
                "--service",
                "s",
                "--version",
                "1",
                "--cluster",
                "c",
                "--namespace",
                "n",
                "--timeout",
                "5",
            ],
            "10 to 1800",
        ),  # fmt: skip
    ],
)
def test_usage_errors_are_one_line_and_exit_2(capsys, argv, message):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    err = capsys.readouterr().err
    assert exit_.value.code == 2
    assert message in err
    assert err.count("\n") == 1


def test_unreadable_template_is_one_line(capsys, tmp_path):
    code, _, err = run(capsys, "--url", "http://127.0.0.1:1", "--token", "x", "release",
                       "--service", "s", "--version", "1", "--template",
                       str(tmp_path / "missing.yaml"))  # fmt: skip
    assert code == 2
    assert "cannot read the template" in err


def test_console_script_is_installed_and_has_no_traceback(live_server):
    result = kubernaut("releases", url=live_server.url, token="kn_wrong", timeout=30)
    assert result.returncode == 4
    assert "Traceback" not in result.stderr


def test_cli_needs_only_the_standard_library():
    # -S: no site-packages, so neither Django nor anything from PyPI can be imported.
    import subprocess
    import sys

    from tests.test_pipeline_support import ROOT

    result = subprocess.run(
        [sys.executable, "-S", "-m", "kubernaut_cli", "--url", f"http://127.0.0.1:{free_port()}",
         "--token", "x", "deployments"],
        cwd=ROOT, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert result.returncode == 3, result.stderr
    assert result.stderr.startswith("kubernaut: cannot reach Kubernaut")
