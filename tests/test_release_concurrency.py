"""Two CI jobs registering the same version at once: exactly one wins."""

import json
import threading
import urllib.error
import urllib.request

import pytest

from accounts.models import ApiToken
from releases.models import Release
from tests.conftest import make_user, release_body


@pytest.mark.django_db(transaction=True)
def test_concurrent_posts_of_one_version_give_one_201_and_one_409(live_server):
    user = make_user("ci", "add_release", "view_release")
    _, key = ApiToken.issue(user)
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def post(comment: str) -> None:
        request = urllib.request.Request(
            f"{live_server.url}/api/releases",
            data=json.dumps(release_body(comment=comment)).encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Token {key}"},
            method="POST",
        )
        barrier.wait()
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                statuses.append(response.status)
        except urllib.error.HTTPError as error:
            statuses.append(error.code)

    threads = [threading.Thread(target=post, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(statuses) == [201, 409]
    assert Release.objects.filter(version="1.0.0").count() == 1
