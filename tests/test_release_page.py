"""A release's page, the comparison of two releases (page and GET /api/releases/{id}/diff) and
the deploy page's link to the comparison with what is live."""

import time

import pytest
from django.conf import settings

from clusters.models import Namespace
from deployments.models import Deployment
from releases import compare as comparing
from releases.models import Release, Service
from tests.conftest import HELLO_TEMPLATE
from tests.test_pages_overview import deployed, make_place

pytestmark = pytest.mark.django_db

SECRET = "hunter2-do-not-show"
TEMPLATE_WITH_MARKUP = HELLO_TEMPLATE + "  # <script>alert('x')</script>\n"


def hidden_place(cluster_name: str, namespace_name: str) -> Namespace:
    """A namespace where nobody but superusers holds a role."""
    other = make_place(cluster_name, "scratch")  # makes the cluster
    return Namespace.objects.create(cluster=other.cluster, name=namespace_name)


def with_secret(make_release, version: str, template: str = HELLO_TEMPLATE, **attributes):
    base = {"image": f"registry.example/hello-world:{version}", "replicas": "2"}
    return make_release(version=version, template=template, attributes={**base, **attributes})


# The release page


def test_release_page_shows_what_the_release_holds(client, bob, make_release):
    release = make_release(
        version="1.2.3",
        template=TEMPLATE_WITH_MARKUP,
        comment="Fix the login <b>loop</b>",
        attributes={
            "image": "registry.example/hello:1.2.3",
            "replicas": "2",
            "db_password": SECRET,
        },
    )
    client.force_login(bob)

    response = client.get(f"/releases/{release.pk}/")

    assert response.status_code == 200
    page = response.content.decode()
    assert "<h1>hello-world 1.2.3</h1>" in page
    assert "Fix the login &lt;b&gt;loop&lt;/b&gt;" in page  # the comment, escaped
    assert "registered by alice" in page
    assert "<code>registry.example/hello:1.2.3</code>" in page
    assert "<code>db_password</code></td><td><code>********</code>" in page
    assert SECRET not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page  # the template, escaped
    assert "<script>alert" not in page
    assert "image: {{ image }}" in page


def test_release_page_lists_only_the_namespaces_the_person_sees(client, alice, bob, make_release):
    staging, hidden = make_place("main", "staging"), hidden_place("main", "secret-ns")
    release = make_release()
    deployed(release, staging, alice)
    deployed(release, hidden, alice)
    failed_there = deployed(release, make_place("main", "qa"), alice, status="failed")
    client.force_login(bob)

    page = client.get(f"/releases/{release.pk}/").content.decode()

    live = page.split('id="live-h"')[1].split("</section>")[0]
    assert "main / staging" in live
    assert "qa" not in live  # it failed there: not live
    assert "secret-ns" not in page
    deployments = page.split('id="deployments-h"')[1]
    assert f"#{failed_there.pk}" in deployments
    assert deployments.index(f"#{failed_there.pk}") < deployments.index("main / staging")
    assert Deployment.objects.filter(namespace=hidden).get().pk != failed_there.pk
    assert f"/deployments/{Deployment.objects.get(namespace=hidden).pk}/" not in page


def test_release_page_offers_the_comparison_with_what_runs_elsewhere(client, bob, make_release):
    staging = make_place("main", "staging")
    old, new = make_release(version="1.0.0"), make_release(version="2.0.0")
    deployed(old, staging, bob)
    client.force_login(bob)

    page = client.get(f"/releases/{new.pk}/").content.decode()

    assert f'href="/releases/{new.pk}/compare?against={old.pk}"' in page
    assert "Compare with what is live in main / staging: 1.0.0" in page
    assert f'<option value="{old.pk}">1.0.0</option>' in page  # the compare form


def test_a_person_without_roles_sees_the_release_but_no_deployments(client, make_release):
    from tests.conftest import make_user

    release = make_release()
    deployed(release, make_place("main", "staging"), release.created_by)
    client.force_login(make_user("dora", "view_release"))

    page = client.get(f"/releases/{release.pk}/").content.decode()

    assert "image: {{ image }}" in page
    assert "staging" not in page and "Deployments of" not in page


def test_unknown_and_deleted_releases_are_404(client, alice, make_release):
    release = make_release()
    release.soft_delete(by=alice)
    client.force_login(alice)

    assert client.get(f"/releases/{release.pk}/").status_code == 404
    assert client.get("/releases/999999/").status_code == 404
    assert client.get(f"/releases/{release.pk}/compare?against={release.pk}").status_code == 404


def test_release_pages_need_the_view_release_permission(client, charlie, make_release):
    release = make_release()

    anonymous = client.get(f"/releases/{release.pk}/")
    assert anonymous.status_code == 302 and "/login/" in anonymous["Location"]

    client.force_login(charlie)
    refused = client.get(f"/releases/{release.pk}/")
    assert refused.status_code == 403
    assert "releases.view_release" in refused.content.decode()
    compare = client.get(f"/releases/{release.pk}/compare?against={release.pk}")
    assert compare.status_code == 403


def test_release_page_queries_do_not_grow_with_rows(
    client, alice, make_release, django_assert_max_num_queries
):
    namespaces = [make_place("main", f"ns{n}") for n in range(5)]
    release = make_release(version="2.0")
    for number in range(10):
        other = make_release(version=f"1.{number}")
        for namespace in namespaces:
            deployed(other, namespace, alice)
            deployed(release, namespace, alice)
    client.force_login(alice)

    # Session, user, permissions (2), the release, roles (teams, grants), visible namespaces,
    # the newest successes, their rows, the deployments, the releases to compare with: 12,
    # however many namespaces, deployments and releases there are. Two to spare.
    with django_assert_max_num_queries(14):
        response = client.get(f"/releases/{release.pk}/")
    assert response.status_code == 200
    assert response.content.decode().count("<tr><td>main / ns") == 5  # live in all five


def test_versions_link_to_the_release_page(client, alice, make_release):
    release = make_release()
    deployment = deployed(release, make_place("main", "staging"), alice)
    client.force_login(alice)
    link = f'href="/releases/{release.pk}/"'

    assert link in client.get("/releases/").content.decode()
    assert link in client.get("/services/hello-world/").content.decode()
    assert link in client.get(f"/deployments/{deployment.pk}/").content.decode()
    assert link in client.get("/deployments/").content.decode()


def test_deployments_of_a_release_are_a_filter_of_the_list(client, alice, make_release):
    staging = make_place("main", "staging")
    one, two = make_release(version="1.0"), make_release(version="2.0")
    first, second = deployed(one, staging, alice), deployed(two, staging, alice)
    client.force_login(alice)

    page = client.get("/deployments/?service=hello-world&version=1.0").content.decode()

    assert f"/deployments/{first.pk}/" in page and f"/deployments/{second.pk}/" not in page


# Comparing


def test_compare_page_shows_the_diff_the_attribute_changes_and_what_ships(
    client, bob, make_release
):
    old = with_secret(make_release, "1.0.0", db_password="old-" + SECRET, debug="true")
    middle = make_release(version="1.1.0", comment="the one in between")
    new = with_secret(
        make_release,
        "2.0.0",
        template=HELLO_TEMPLATE.replace("replicas: {{ replicas }}", "replicas: 3"),
        db_password=SECRET,
        region="eu",
    )
    client.force_login(bob)

    response = client.get(f"/releases/{new.pk}/compare?against={old.pk}")

    assert response.status_code == 200
    page = response.content.decode()
    assert "hello-world: 1.0.0 → 2.0.0" in page
    assert '<span class="remove">-  replicas: {{ replicas }}</span>' in page
    assert '<span class="add">+  replicas: 3</span>' in page
    assert '<span class="hunk">@@ ' in page
    assert '<tr class="add"><td><code>region</code></td><td>added</td>' in page
    assert '<tr class="remove"><td><code>debug</code></td><td>removed</td>' in page
    assert "<code>image</code></td><td>changed</td>" in page
    assert "<code>db_password</code></td><td>changed</td><td><code>********</code>" in page
    assert SECRET not in page
    shipped = page.split('id="between-h"')[1].split("</section>")[0]
    assert "Releases being shipped" in shipped and "the one in between" in shipped
    assert shipped.index("2.0.0") < shipped.index("1.1.0")
    assert ">1.0.0<" not in shipped
    assert f'href="/releases/{middle.pk}/"' in shipped


def test_compare_page_refuses_bad_against_with_a_sentence(client, bob, make_release):
    release = make_release()
    other_service = make_release(service="other-service")
    client.force_login(bob)

    missing = client.get(f"/releases/{release.pk}/compare")
    assert missing.status_code == 400 and "?against=ID" in missing.content.decode()
    bad = client.get(f"/releases/{release.pk}/compare?against=abc")
    assert bad.status_code == 400 and "not a release id" in bad.content.decode()
    elsewhere = client.get(f"/releases/{release.pk}/compare?against={other_service.pk}")
    assert elsewhere.status_code == 400
    assert "only releases of the same service" in elsewhere.content.decode()
    assert client.get(f"/releases/{release.pk}/compare?against=999999").status_code == 404


def test_diff_api_answers_the_documented_shape(bob_api, make_release):
    old = with_secret(make_release, "1.0.0", api_key="old-" + SECRET, debug="true")
    middle = make_release(version="1.1.0", comment="in between")
    new = with_secret(
        make_release,
        "2.0.0",
        template=HELLO_TEMPLATE + "  # new last line\n",
        api_key=SECRET,
        token_key="new-" + SECRET,
        region="eu",
    )

    response = bob_api.get(f"/api/releases/{new.pk}/diff?against={old.pk}")

    assert response.status_code == 200
    body = response.json()
    assert body["release"] == {"id": new.pk, "version": "2.0.0"}
    assert body["against"] == {"id": old.pk, "version": "1.0.0"}
    assert body["template_diff"].startswith("--- hello-world 1.0.0\n+++ hello-world 2.0.0\n@@ ")
    assert "\n+  # new last line\n" in body["template_diff"]
    assert body["template_diff_skipped"] is None
    assert body["attributes"] == {
        "added": {"region": "eu", "token_key": "********"},
        "removed": {"debug": "true"},
        "changed": {
            "api_key": {"from": "********", "to": "********"},
            "image": {
                "from": "registry.example/hello-world:1.0.0",
                "to": "registry.example/hello-world:2.0.0",
            },
        },
    }
    assert SECRET not in response.content.decode()
    assert [row["version"] for row in body["releases_between"]] == ["2.0.0", "1.1.0"]
    assert body["releases_between"][1] == {
        "id": middle.pk,
        "version": "1.1.0",
        "comment": "in between",
        "created_by": "alice",
        "created_at": body["releases_between"][1]["created_at"],
    }
    assert body["releases_between_truncated"] is False


def test_diff_api_compares_back_to_an_older_release(bob_api, make_release):
    old, middle, new = (make_release(version=v) for v in ("1.0", "1.1", "1.2"))

    body = bob_api.get(f"/api/releases/{old.pk}/diff?against={new.pk}").json()

    # Rolling back from 1.2 to 1.0 takes away 1.1 and 1.0's successors; 1.0 itself is listed
    # as the release being deployed, 1.2 (the one live) is not.
    assert [row["id"] for row in body["releases_between"]] == [middle.pk, old.pk]
    assert body["template_diff"] == ""


def test_diff_api_caps_the_releases_between(bob_api, make_release, alice):
    first = make_release(version="0.1")
    service = first.service
    Release.objects.bulk_create(
        Release(service=service, version=f"1.{n}", template="x", created_by=alice)
        for n in range(comparing.MAX_RELEASES_BETWEEN + 1)
    )
    newest = Release.objects.filter(service=service).order_by("-id").first()

    body = bob_api.get(f"/api/releases/{newest.pk}/diff?against={first.pk}").json()

    assert len(body["releases_between"]) == comparing.MAX_RELEASES_BETWEEN
    assert body["releases_between"][0]["id"] == newest.pk
    assert body["releases_between_truncated"] is True


def test_diff_api_refuses_bad_requests_with_a_sentence(bob_api, make_release, alice):
    release = make_release()
    other_service = make_release(service="other-service")
    deleted = make_release(version="0.9")
    deleted.soft_delete(by=alice)
    url = f"/api/releases/{release.pk}/diff"

    for query, status, words in [
        ("", 400, "?against=ID"),
        ("?against=", 400, "?against=ID"),
        ("?against=1.5", 400, "not a release id"),
        ("?against=-3", 400, "not a release id"),
        (f"?against={other_service.pk}", 400, "only releases of the same service"),
        ("?against=999999", 404, "no release #999999"),
        ("?against=99999999999999999999999", 404, "no release #"),
        (f"?against={deleted.pk}", 404, "may have been deleted"),
    ]:
        response = bob_api.get(url + query)
        assert response.status_code == status, query
        assert words in response.json()["detail"], query
    missing = bob_api.get(f"/api/releases/999999/diff?against={release.pk}")
    assert missing.status_code == 404 and "no release #999999" in missing.json()["detail"]


def test_diff_api_needs_the_view_release_permission(charlie_api, make_release):
    release = make_release()
    response = charlie_api.get(f"/api/releases/{release.pk}/diff?against={release.pk}")
    assert response.status_code == 403
    assert "releases.view_release" in response.json()["detail"]


def test_diff_api_is_in_the_schema(bob_api):
    schema = bob_api.get("/api/schema/?format=json").json()
    operation = schema["paths"]["/api/releases/{id}/diff"]["get"]
    assert {"200", "400", "401", "403", "404"} <= operation["responses"].keys()
    assert [p["name"] for p in operation["parameters"] if p["in"] == "query"] == ["against"]
    diff = schema["components"]["schemas"]["ReleaseDiff"]["properties"]
    assert {"template_diff", "attributes", "releases_between", "releases_between_truncated"} <= (
        diff.keys()
    )


# Bounding the diff


def unsaved(version: str, template: str) -> Release:
    """A release in memory (ids made up): the diff needs no rows, only templates."""
    return Release(pk=int(version), service=Service(name="big"), version=version, template=template)


def test_a_final_newline_shows_as_a_change():
    diff = comparing.template_diff(unsaved("1", "a\nb"), unsaved("2", "a\nb\n"))
    assert "-b\n\\ No newline at end of file\n+b\n" in diff


def test_diff_of_two_max_size_templates_stays_within_its_budget():
    """Two templates of the largest size, alike but for every seventh line: difflib alone took
    7 s on them (quadratic matching). The diff gives up at its budget instead."""
    lines, size, number = [], 0, 0
    while size < settings.KUBERNAUT_MAX_TEMPLATE_BYTES - 40:
        line = f"  key{number}: value {number}\n"
        lines.append(line)
        size, number = size + len(line), number + 1
    before = "".join(lines)
    after = "".join(
        line.replace("value", "VALUE") if n % 7 == 0 else line for n, line in enumerate(lines)
    )
    assert len(after.encode()) <= settings.KUBERNAUT_MAX_TEMPLATE_BYTES

    started = time.monotonic()
    comparison = comparing.compare(unsaved("2", after), unsaved("1", before), seconds=0.5)
    elapsed = time.monotonic() - started

    # The budget plus one linear scan of the templates; generous for a busy machine.
    assert elapsed < 3
    if comparison.template_diff_skipped:
        assert "too many places" in comparison.template_diff_skipped
        assert comparison.template_diff == ""
    else:  # a fast machine finished within the budget
        assert comparison.template_diff.count("\n+  key") == len(range(0, number, 7))


def test_a_diff_over_budget_says_so():
    comparison = comparing.compare(unsaved("2", "a\nc\n"), unsaved("1", "a\nb\n"), seconds=0)
    assert comparison.template_diff == ""
    assert "compare them with a diff tool" in comparison.template_diff_skipped


# The deploy page


def test_deploy_page_links_the_comparison_with_what_is_live(client, alice, make_release):
    staging, production = make_place("main", "staging"), make_place("main", "production")
    old, new = make_release(version="1.0.0"), make_release(version="2.0.0")
    deployed(old, staging, alice)
    deployed(new, production, alice)  # the same release: nothing to compare
    deployed(old, hidden_place("main", "secret-ns"), alice)
    client.force_login(alice)

    page = client.get(f"/releases/{new.pk}/deploy").content.decode()

    assert (
        f'<a href="/releases/{new.pk}/compare?against={old.pk}">Compare with what is live in '
        "main / staging: 1.0.0</a>"
    ) in page
    assert page.count("Compare with what is live") == 1
    assert f'href="/releases/{new.pk}/"' in page


def test_deploy_page_compares_with_the_chosen_namespace_only(client, alice, make_release, target):
    elsewhere = make_place("main", "staging")
    old, new = make_release(version="1.0.0"), make_release(version="2.0.0")
    deployed(old, target, alice)
    deployed(old, elsewhere, alice)
    client.force_login(alice)

    page = client.post(
        f"/releases/{new.pk}/deploy",
        {"namespace": target.pk, "attributes": "", "action": "preview"},
    ).content.decode()

    assert f"Compare with what is live in sandbox / {target.name}: 1.0.0" in page
    assert "main / staging: 1.0.0" not in page
