"""The kubernaut CLI against a live Kubernaut (live server, real qcluster worker, sandbox)."""

import json

import pytest

from accounts.models import ApiToken
from kubernaut_cli.main import main
from tests.test_deployment_e2e import start_qcluster, stop
from tests.test_deployment_runner import TEMPLATE

pytestmark = pytest.mark.django_db(transaction=True)
ATTRIBUTES = ["-a", "image=registry.example/hello:1", "-a", "replicas=2", "-a", "deadline=600",
              "-a", "crash=0", "-a", "never_ready=0"]  # fmt: skip


@pytest.fixture
def worker():
    process = start_qcluster()
    yield process
    stop(process)


@pytest.fixture
def cli(live_server, alice, capsys, tmp_path, monkeypatch):
    """Run `kubernaut ARGS` in-process as alice; returns (exit code, stdout, stderr)."""
    _, key = ApiToken.issue(alice)
    monkeypatch.setenv("KUBERNAUT_URL", live_server.url)
    monkeypatch.setenv("KUBERNAUT_TOKEN", key)
    monkeypatch.setattr("kubernaut_cli.follow.POLL_SECONDS", 0.2)
    template = tmp_path / "kubernetes.yaml"
    template.write_text(TEMPLATE)

    def run(*argv: str) -> tuple[int, str, str]:
        argv = [str(template) if arg == "TEMPLATE" else arg for arg in argv]
        code = main(argv)
        out, err = capsys.readouterr()
        # Every line the CLI writes to stderr starts with "kubernaut:"; the in-process sandbox
        # may add tracebacks of watch connections the worker closed, which are not the CLI's.
        err = "".join(line for line in err.splitlines(True) if line.startswith("kubernaut:"))
        return code, out, err

    return run


def release(cli, version: str, *extra: str):
    return cli("release", "--service", "hello-world", "--version", version, "--template",
               "TEMPLATE", *ATTRIBUTES, *extra)  # fmt: skip


def deploy(cli, target, version: str, *extra: str):
    return cli("deploy", "--service", "hello-world", "--version", version, "--cluster",
               target.cluster.name, "--namespace", target.name, *extra)  # fmt: skip


def test_release_registers_the_template_and_attributes(cli):
    code, out, err = release(cli, "1.0.0", "-a", "image=registry.example/hello:1.0.0",
                             "--comment", "built by CI")  # fmt: skip
    assert (code, err) == (0, "")
    assert out.startswith("Registered release #")

    code, out, _ = cli("show", "--release", out.split("#")[1].split(":")[0], "--json")
    shown = json.loads(out)
    assert shown["template"] == TEMPLATE
    assert shown["attributes"]["image"] == "registry.example/hello:1.0.0"
    assert shown["comment"] == "built by CI"


def test_release_refused_by_the_server_is_one_line_exit_2(cli):
    release(cli, "1")
    code, _, err = release(cli, "1")
    assert code == 2
    assert err == (
        "kubernaut: Service 'hello-world' already has a release '1'; versions are unique per "
        "service. Register a new version, or delete the old release first.\n"
    )
    code, _, err = cli("release", "--service", "hello-world", "--version", "2", "--template",
                       "TEMPLATE")  # fmt: skip
    assert code == 2
    assert err.startswith("kubernaut: Invalid request: template:") and err.count("\n") == 1


def test_deploy_wait_streams_the_log_and_exits_0(cli, target, worker):
    release(cli, "1")
    code, out, err = deploy(cli, target, "1", "--wait")
    assert (code, err) == (0, "")
    assert "deployment.apps/hello-world created" in out
    assert out.rstrip().splitlines()[-1].startswith("Deployment #")
    assert "succeeded: Rolled out deployment/hello-world." in out


def test_deploy_without_wait_returns_at_once(cli, target):
    release(cli, "1")
    code, out, _ = deploy(cli, target, "1")
    assert code == 0
    assert ": pending (http" in out


def test_deploy_wait_of_a_failing_deployment_exits_1(cli, target, worker):
    release(cli, "1", "-a", "image=registry.example/hello:does-not-exist")
    code, out, err = deploy(cli, target, "1", "--wait")
    assert code == 1
    assert "not found" in err
    assert err.startswith("kubernaut: Deployment #") and " failed: " in err


def test_deploy_wait_of_a_rollout_that_cannot_finish_exits_70(cli, target, worker):
    release(cli, "1", "-a", "never_ready=1")
    code, out, err = deploy(cli, target, "1", "--wait", "--timeout", "10")
    assert code == 70
    assert "timed out: Not rolled out within 10 s" in err


def test_deploy_attribute_overrides_reach_the_server(cli, target):
    release(cli, "1")
    code, out, _ = deploy(cli, target, "1", "-a", "replicas=3", "--timeout", "45")
    deployment_id = out.split("#")[1].split(" ")[0]
    code, out, _ = cli("show", deployment_id, "--json")
    shown = json.loads(out)
    assert shown["requested_attributes"] == {"replicas": "3"}
    assert shown["timeout_seconds"] == 45


def test_deploy_to_an_unknown_namespace_is_one_line_exit_2(cli, target):
    release(cli, "1")
    code, _, err = cli("deploy", "--service", "hello-world", "--version", "1", "--cluster",
                       target.cluster.name, "--namespace", "nowhere")  # fmt: skip
    assert code == 2
    assert err.startswith("kubernaut: ") and "nowhere" in err and err.count("\n") == 1


def test_lists_and_show(cli, target, worker):
    release(cli, "1", "--comment", "first")
    release(cli, "2")
    deploy(cli, target, "1", "--wait")

    code, out, _ = cli("releases", "--service", "hello-world")
    lines = out.splitlines()
    assert code == 0
    assert lines[0].split() == ["ID", "SERVICE", "VERSION", "CREATED", "BY", "COMMENT"]
    assert [line.split()[2] for line in lines[1:]] == ["2", "1"]
    assert lines[2].endswith("first")

    code, out, _ = cli("deployments", "--namespace", target.name)
    lines = out.splitlines()
    assert lines[1].split()[1:5] == ["hello-world", "1", f"sandbox/{target.name}", "succeeded"]

    code, out, _ = cli("show", lines[1].split()[0])
    assert code == 0
    assert "Status: succeeded" in out
    assert "deployment/hello-world: 2/2 ready, succeeded" in out
    assert "deployment.apps/hello-world created" in out

    code, _, err = cli("show", "999999")
    assert code == 2
    assert err.startswith("kubernaut: ")


def test_cancel_a_pending_deployment_then_again_is_refused(cli, target):
    release(cli, "1")
    _, out, _ = deploy(cli, target, "1")
    deployment_id = out.split("#")[1].split(" ")[0]

    code, out, err = cli("cancel", deployment_id)
    assert (code, err) == (0, "")
    assert out == (
        f"Deployment #{deployment_id} is cancelled: Cancelled by alice before it started; "
        "nothing was applied.\n"
    )
    code, _, err = cli("cancel", deployment_id)
    assert code == 2
    assert err == (
        f"kubernaut: Deployment #{deployment_id} has already ended (Cancelled); there is "
        "nothing to cancel.\n"
    )
