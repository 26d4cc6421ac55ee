"""Text PostgreSQL cannot store, and hand-made cursors: a 400 with a sentence, never a 500.

PostgreSQL's text and jsonb refuse NUL (U+0000) and UTF-8 cannot encode a lone surrogate.
The address and query string are checked once for every URL (kubernaut/middleware.py), API
bodies by the parsers (kubernaut/parsers.py), page forms by Django's form fields.
"""

import base64
import json

import pytest
from django.test import Client

from releases.serializers import AttributesField
from tests.conftest import HELLO_TEMPLATE, open_to_teams, release_body

pytestmark = pytest.mark.django_db


def cursor(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def assert_json_400(response, *words: str) -> dict:
    assert response.status_code == 400, response.content[:300]
    assert response["Content-Type"] == "application/json"
    body = response.json()
    for word in words:
        assert word in body["detail"], body
    return body


@pytest.mark.parametrize(
    "url",
    [
        "/api/releases?service=a%00b",
        "/api/releases?created_by=%00",
        "/api/releases?a%00=1",
        "/api/releases/%00",
        "/api/releases/1%00",
        "/api/deployments?cluster=staging%00",
        "/api/deployments/1/log?after=%00",
        "/api/schema/?format=json%00",
    ],
)
def test_nul_in_an_api_address_is_a_400(alice_api, url):
    assert_json_400(alice_api.get(url), "NUL character", "remove it")


@pytest.mark.parametrize(
    "url",
    [
        "/?q=a%00b",
        "/services/%00/",
        "/services/hello%00world/",
        "/releases/?service=a%00b",
        "/deployments/?service=%00",
        "/admin/releases/release/?q=a%00b",
        "/admin/clusters/namespace/?q=%00",
    ],
)
def test_nul_in_a_page_address_is_a_400_page(admin_user, client, url):
    client.force_login(admin_user)
    response = client.get(url)
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")
    assert "NUL character" in response.content.decode()
    assert "<h1>Bad request</h1>" in response.content.decode()


def test_nul_in_a_cookie_is_a_400_before_the_session_is_looked_up():
    client = Client()
    client.cookies["sessionid"] = "abcdefgh\x00ijkl"
    response = client.get("/")
    assert response.status_code == 400
    assert "cookie" in response.content.decode()


RAW_BODIES = {
    "template": '"template": "kind: x\\u0000"',
    "comment": '"comment": "built\\u0000"',
    "attribute value": '"attributes": {"image": "repo/app:1\\u0000"}',
    "attribute name": '"attributes": {"im\\u0000age": "repo/app:1"}',
    "unknown nested field": '"extra": {"deep": ["fine", {"x": "\\u0000"}]}',
    "lone surrogate": '"comment": "\\ud800"',
}


@pytest.mark.parametrize("field", RAW_BODIES)
def test_unstorable_text_anywhere_in_a_json_release_is_a_400(alice_api, field):
    body = json.dumps(release_body())[:-1] + ", " + RAW_BODIES[field] + "}"
    response = alice_api.post("/api/releases", data=body, content_type="application/json")
    assert_json_400(response, "cannot store")
    assert alice_api.get("/api/releases").json()["results"] == []


def test_the_message_names_where_the_nul_is(alice_api):
    body = json.dumps(release_body())[:-1] + ', "attributes": {"image": "a\\u0000"}}'
    response = alice_api.post("/api/releases", data=body, content_type="application/json")
    assert_json_400(response, "attributes.image")


def test_nul_in_a_deployment_attribute_is_a_400(alice_api, make_release):
    release = make_release()
    body = json.dumps({"release": release.pk, "cluster": "c", "namespace": "n"})
    body = body[:-1] + ', "attributes": {"replicas": "2\\u0000"}}'
    response = alice_api.post("/api/deployments", data=body, content_type="application/json")
    assert_json_400(response, "attributes.replicas")


def test_nul_in_a_multipart_attribute_is_a_400(alice_api):
    form = {
        "service": "hello-world",
        "version": "1.0.0",
        "template": HELLO_TEMPLATE,
        "image": "repo/app:1\x00",
        "replicas": "2",
    }
    assert_json_400(alice_api.post("/api/releases", data=form), "image", "NUL")


def test_nul_in_a_multipart_template_file_is_a_400(alice_api):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("kubernetes.yaml", HELLO_TEMPLATE.encode() + b"\x00")
    form = {"service": "hello-world", "version": "1.0.0", "template": upload, "image": "a"}
    body = assert_json_400(alice_api.post("/api/releases", data=form))
    assert "template" in body["errors"]


def test_attributes_refuse_nul_whoever_calls_them():
    # The deploy page's form and the services validate attributes with this field too.
    with pytest.raises(Exception, match="Null characters"):
        AttributesField().run_validation({"image": "a\x00"})


@pytest.mark.parametrize(
    "given",
    [
        cursor("p=2026-01-01"),
        cursor("p=-1"),
        cursor("p=99999999999999999999999"),
        cursor("p=١٢"),  # digits to str.isdigit(), not to PostgreSQL
        cursor("o=-5"),
        "not base64 at all!",
    ],
)
@pytest.mark.parametrize("endpoint", ["/api/releases", "/api/deployments"])
def test_a_hand_made_cursor_is_a_400(alice_api, make_release, endpoint, given):
    make_release()
    body = assert_json_400(alice_api.get(endpoint, {"cursor": given}), "cursor")
    assert body["errors"]["cursor"] == [
        "This cursor is not valid: use the next or previous link as given."
    ]


def test_a_cursor_the_server_gave_still_works(alice_api, make_release):
    for number in range(3):
        make_release(version=f"1.0.{number}")
    first = alice_api.get("/api/releases?limit=2").json()
    second = alice_api.get(first["next"])
    assert second.status_code == 200
    assert [row["version"] for row in second.json()["results"]] == ["1.0.0"]


@pytest.mark.parametrize("limit", ["²", "١", "1" + "0" * 5000, "0", "501", "-1", ""])
def test_a_limit_that_is_not_1_to_500_is_a_400(alice_api, limit):
    body = assert_json_400(alice_api.get("/api/releases", {"limit": limit}))
    assert "limit" in body["errors"]


def test_a_log_position_beyond_any_id_is_a_400(alice_api, alice, make_release):
    from clusters.models import Cluster, Namespace
    from deployments import services

    cluster = Cluster(name="c", timeout_seconds=30)
    cluster.set_kubeconfig("apiVersion: v1\nkind: Config\n")
    cluster.save()
    namespace = open_to_teams(Namespace.objects.create(cluster=cluster, name="n", attributes={}))
    deployment = services.create_deployment(
        release=make_release(), namespace=namespace, attributes={}, user=alice
    )
    url = f"/api/deployments/{deployment.pk}/log"
    assert alice_api.get(url, {"after": "0"}).status_code == 200
    body = assert_json_400(alice_api.get(url, {"after": "9" * 30}))
    assert "after" in body["errors"]


@pytest.mark.parametrize("value", ["\\u0000", "\\ud800"])
def test_unstorable_text_in_a_namespace_s_attributes_in_the_admin_is_a_form_error(
    admin_user, client, value
):
    from clusters.models import Cluster, Namespace

    cluster = Cluster(name="c", timeout_seconds=30)
    cluster.set_kubeconfig("apiVersion: v1\nkind: Config\n")
    cluster.save()
    client.force_login(admin_user)
    form = {"cluster": cluster.pk, "name": "n1", "attributes": '{"replicas": "' + value + '"}'}
    response = client.post("/admin/clusters/namespace/add/", form)
    assert response.status_code == 200
    assert "replicas has a NUL character" in response.content.decode()
    assert not Namespace.objects.exists()
