"""`kubernaut auto-deploy`, `auto-deploys` and `resume` against a live Kubernaut."""

import pytest

from audit.models import AuditEntry
from clusters.models import Cluster, Namespace
from delivery.models import AutoDeploy
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


def test_turn_on_list_resume_and_turn_off(cli, staging):
    assert release(cli, "1")[0] == 0

    code, out, err = cli("auto-deploy", "hello-world", "prod-eu/staging")

    auto = AutoDeploy.objects.get()
    assert (code, err) == (0, "")
    assert out == (
        f"Auto-deploy #{auto.pk}: every new release of hello-world is deployed to "
        "prod-eu/staging.\n"
    )
    code, _, err = cli("auto-deploy", "hello-world", "prod-eu/staging")
    assert code == 2 and "is on already" in err

    auto.pause("Deployment #7 failed; continuous delivery paused until someone resumes it")
    code, out, _ = cli("auto-deploys")
    assert code == 0
    assert out.splitlines()[0].split() == ["ID", "SERVICE", "TARGET", "STATE", "BY"]
    assert "prod-eu/staging  paused: Deployment #7 failed" in out

    code, out, _ = cli("resume", str(auto.pk))
    assert code == 0 and out.startswith(f"Auto-deploy #{auto.pk} is resumed")
    code, _, err = cli("resume", str(auto.pk))
    assert code == 2 and "is not paused" in err

    code, out, _ = cli("auto-deploy", "--off", "hello-world", "prod-eu/staging")
    assert code == 0 and out.startswith(f"Auto-deploy #{auto.pk} is off")
    assert not AutoDeploy.objects.exists()
    assert AuditEntry.objects.get(action="auto_deploy.resumed").door == "api"

    code, _, err = cli("auto-deploy", "--off", "hello-world", "prod-eu/staging")
    assert code == 2 and "is not on" in err


def test_unknown_service_and_bad_target_are_one_line(cli, staging):
    code, _, err = cli("auto-deploy", "nope", "prod-eu/staging")
    assert code == 2 and err.startswith("kubernaut: ") and "There is no service 'nope'" in err
    assert err.count("\n") == 1
    with pytest.raises(SystemExit) as exit_:
        cli("auto-deploy", "hello-world", "staging")
    assert exit_.value.code == 2
