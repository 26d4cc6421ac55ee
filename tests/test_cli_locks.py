"""`kubernaut lock`, `unlock`, `locks` and `deploy --override-lock` against a live Kubernaut."""

from datetime import UTC, datetime, timedelta

import pytest

from accounts.models import ApiToken
from audit.models import AuditEntry
from clusters.models import Cluster, Namespace
from deployments.models import Deployment
from kubernaut_cli.main import main
from locks.models import Lock
from tests import test_cli_commands
from tests.conftest import open_to_teams
from tests.test_cli_commands import release

cli = test_cli_commands.cli  # the fixture

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def staging(db) -> Namespace:
    cluster = Cluster(name="prod-eu")
    cluster.set_kubeconfig("apiVersion: v1\nclusters: []\ncontexts: []\n")
    cluster.save()
    return open_to_teams(Namespace.objects.create(cluster=cluster, name="staging"))


def deploy(cli, *extra: str):
    return cli("deploy", "--service", "hello-world", "--version", "1", "--cluster", "prod-eu",
               "--namespace", "staging", *extra)  # fmt: skip


def test_lock_refuses_deploys_with_exit_5_until_unlocked(cli, staging):
    assert release(cli, "1")[0] == 0

    code, out, err = cli("lock", "prod-eu/staging", "--reason", "release freeze", "--for", "2h")

    assert (code, err) == (0, "")
    lock = Lock.objects.get()
    assert out == f"Lock #{lock.pk}: {lock.sentence()}\n"
    assert out.startswith(f"Lock #{lock.pk}: prod-eu/staging is locked by alice since ")
    expected_end = datetime.now(UTC) + timedelta(hours=2)
    assert abs((lock.until - expected_end).total_seconds()) < 60

    code, out, _ = cli("locks")
    assert code == 0
    assert out.splitlines()[0].split() == ["ID", "TARGET", "SERVICE", "BY", "SINCE", "UNTIL",
                                           "REASON"]  # fmt: skip
    assert "prod-eu/staging" in out and "release freeze" in out

    code, _, err = deploy(cli)
    assert code == 5
    assert err.startswith("kubernaut: prod-eu/staging is locked by alice since ")
    assert ": release freeze. " in err and err.count("\n") == 1

    code, _, err = deploy(cli, "--override-lock", "hurry")  # alice is a deployer, not an admin
    assert code == 4
    assert "needs the admin role" in err
    assert not Deployment.objects.exists()

    code, out, err = cli("unlock", "prod-eu/staging")
    assert (code, out, err) == (0, f"Unlocked lock #{lock.pk}.\n", "")
    assert deploy(cli)[0] == 0


def test_unlock_by_id_and_what_is_not_locked(cli, staging):
    release(cli, "1")
    cli("lock", "prod-eu/staging", "--service", "hello-world", "--reason", "migration")
    lock = Lock.objects.get()
    assert lock.service.name == "hello-world"

    code, _, err = cli("unlock", "prod-eu/staging")
    assert code == 2 and err == (
        "kubernaut: prod-eu/staging is not locked (`kubernaut locks` lists the locks)\n"
    )
    assert cli("unlock", str(lock.pk))[0] == 0
    code, _, err = cli("unlock", str(lock.pk))
    assert code == 2 and "unlocked already" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["lock", "staging", "--reason", "x"], "name the target as CLUSTER/NAMESPACE"),
        (["lock", "prod-eu/staging", "--reason", "x", "--for", "soon"], "a duration like 2h"),
        (["lock", "prod-eu/staging"], "--reason"),
        (["lock", "prod-eu/staging", "--reason", "x", "--for", "1h", "--until", "2099-01-01"],
         "not allowed with argument"),
    ],
)  # fmt: skip
def test_lock_usage_errors_are_one_line_and_exit_2(capsys, argv, message):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    err = capsys.readouterr().err
    assert exit_.value.code == 2
    assert message in err and err.count("\n") == 1


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["lock", "prod-eu/staging", "--reason", "x", "--until", "2001-01-01T00:00Z"],
         "This time has passed"),
        (["lock", "prod-eu/staging", "--reason", " "], "Give the reason for the lock"),
        (["lock", "prod-eu/nowhere", "--reason", "x"], "There is no namespace 'nowhere'"),
        (["unlock", "nothing"], "name the lock by its id or as CLUSTER/NAMESPACE"),
    ],
)  # fmt: skip
def test_lock_refused_by_the_server_is_one_line_exit_2(cli, staging, argv, message):
    code, _, err = cli(*argv)
    assert code == 2
    assert message in err and err.count("\n") == 1
    assert not Lock.all_objects.exists()


def test_an_admin_overrides_from_the_cli_and_it_is_audited(
    live_server, admin_user, alice, staging, capsys, monkeypatch, cli
):
    release(cli, "1")
    cli("lock", "prod-eu/staging", "--reason", "release freeze")
    _, key = ApiToken.issue(admin_user)
    monkeypatch.setenv("KUBERNAUT_TOKEN", key)

    code = main(["deploy", "--service", "hello-world", "--version", "1", "--cluster", "prod-eu",
                 "--namespace", "staging", "--override-lock", "security fix"])  # fmt: skip

    out, err = capsys.readouterr()
    assert code == 0, err
    deployment = Deployment.objects.get()
    assert out.startswith(f"Deployment #{deployment.pk} of hello-world 1 to prod-eu/staging")
    entry = AuditEntry.objects.get(action="deployment.lock_overridden")
    assert entry.actor == admin_user and entry.message == "security fix"
