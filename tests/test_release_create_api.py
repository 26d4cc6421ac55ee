"""POST /api/releases: JSON and the CLI's multipart form, and every way it can be refused."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from releases import templating
from releases.models import Release, Service
from tests.conftest import HELLO_TEMPLATE, release_body

pytestmark = pytest.mark.django_db


def test_json_release_is_created_with_location(alice_api, alice):
    response = alice_api.post("/api/releases", release_body(), format="json")

    assert response.status_code == 201, response.json()
    body = response.json()
    release = Release.objects.get(pk=body["id"])
    assert response["Location"] == f"http://testserver/api/releases/{release.pk}"
    assert body["service"] == "hello-world"
    assert body["version"] == "1.0.0"
    assert body["template"] == HELLO_TEMPLATE
    assert body["attributes"] == {"image": "registry.example/hello-world:1.0.0", "replicas": "2"}
    assert body["created_by"] == "alice"
    assert release.created_by == alice
    assert release.comment == "first"


def test_first_release_creates_the_service_and_later_ones_reuse_it(alice_api):
    alice_api.post("/api/releases", release_body(version="1"), format="json")
    alice_api.post("/api/releases", release_body(version="2"), format="json")

    assert list(Service.objects.values_list("name", flat=True)) == ["hello-world"]
    assert Release.objects.filter(service__name="hello-world").count() == 2


def test_multipart_form_as_the_kubernaut_cli_sends_it(alice_api):
    upload = SimpleUploadedFile("kubernetes.yaml", HELLO_TEMPLATE.encode(), "text/yaml")
    response = alice_api.post(
        "/api/releases",
        {
            "service": "hello-world",
            "version": "2.0.0",
            "comment": "from jenkins",
            "template": upload,
            "image": "registry.example/hello-world:2.0.0",
            "replicas": "3",
        },
        format="multipart",
    )

    assert response.status_code == 201, response.json()
    release = Release.objects.get(pk=response.json()["id"])
    assert release.template == HELLO_TEMPLATE
    assert release.attributes == {"image": "registry.example/hello-world:2.0.0", "replicas": "3"}
    assert release.comment == "from jenkins"


def test_multipart_template_must_be_utf8(alice_api):
    upload = SimpleUploadedFile("t.yaml", b"\xff\xfe\x00bad", "text/yaml")
    response = alice_api.post(
        "/api/releases",
        {"service": "a", "version": "1", "template": upload},
        format="multipart",
    )
    assert response.status_code == 400
    assert "UTF-8" in response.json()["detail"]


def test_multipart_other_files_are_refused(alice_api):
    response = alice_api.post(
        "/api/releases",
        {
            "service": "a",
            "version": "1",
            "template": SimpleUploadedFile("t.yaml", HELLO_TEMPLATE.encode()),
            "image": SimpleUploadedFile("image.bin", b"x"),
        },
        format="multipart",
    )
    assert response.status_code == 400
    assert "Only the template" in response.json()["detail"]


def test_duplicate_version_gets_409_and_keeps_the_first(alice_api):
    first = alice_api.post("/api/releases", release_body(comment="first"), format="json")
    second = alice_api.post("/api/releases", release_body(comment="second"), format="json")

    assert first.status_code == 201
    assert second.status_code == 409
    assert "already has a release '1.0.0'" in second.json()["detail"]
    assert list(Release.objects.values_list("comment", flat=True)) == ["first"]


def test_version_can_be_registered_again_after_delete(alice_api):
    first = alice_api.post("/api/releases", release_body(), format="json").json()
    assert alice_api.delete(f"/api/releases/{first['id']}").status_code == 204

    again = alice_api.post("/api/releases", release_body(comment="again"), format="json")

    assert again.status_code == 201
    assert Release.all_objects.filter(version="1.0.0").count() == 2


def test_template_syntax_error_names_the_line(alice_api):
    template = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ service }\n"
    response = alice_api.post("/api/releases", release_body(template=template), format="json")

    assert response.status_code == 400
    assert "line 4" in response.json()["detail"]
    assert not Release.objects.exists()


def test_unknown_template_variables_are_listed(alice_api):
    template = HELLO_TEMPLATE + "---\n# {{ region }} {{ tier }}\n"
    response = alice_api.post("/api/releases", release_body(template=template), format="json")

    assert response.status_code == 400
    detail = response.json()["detail"]
    assert "region, tier" in detail
    assert "image" not in detail.split("variables:")[0]


def test_deploy_time_variables_are_known(alice_api):
    template = (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ service }}-{{ deployment_id }}\n"
        "data:\n  where: '{{ cluster }}/{{ namespace }}'\n"
        "  what: '{{ version }} {{ release_id }}'\n"
    )
    response = alice_api.post(
        "/api/releases", release_body(template=template, attributes={}), format="json"
    )
    assert response.status_code == 201, response.json()


def test_mustache_style_variables_work_unchanged(alice_api):
    template = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{name}}\n"
    response = alice_api.post(
        "/api/releases", release_body(template=template, attributes={"name": "x"}), format="json"
    )
    assert response.status_code == 201, response.json()


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("kind: ConfigMap\nmetadata: {name: a}\n", "Document 1 of the rendered template"),
        ("apiVersion: v1\nmetadata: {name: a}\n", "has no kind"),
        (
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n",
            "(kind ConfigMap) has no metadata.name",
        ),
        ("apiVersion: v1\nkind: A\nmetadata: {name: a}\n---\n- x\n", "Document 2"),
        ("apiVersion: v1\nkind: A\nmetadata: {name: a\n", "not valid YAML on line"),
        ("# nothing\n", "contains no Kubernetes objects"),
    ],
)
def test_rendered_documents_must_be_kubernetes_objects(alice_api, template, expected):
    response = alice_api.post(
        "/api/releases", release_body(template=template, attributes={}), format="json"
    )
    assert response.status_code == 400
    assert expected in response.json()["detail"]


def test_template_cannot_reach_python_internals(alice_api):
    template = (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n"
        "  name: {{ image.__class__.__mro__[1].__subclasses__() }}\n"
    )
    response = alice_api.post("/api/releases", release_body(template=template), format="json")
    assert response.status_code == 400
    assert "not allowed" in response.json()["detail"] or "unsafe" in response.json()["detail"]


def test_template_arithmetic_on_strings_is_a_clear_400(alice_api):
    template = "apiVersion: v1\nkind: A\nmetadata:\n  name: a{{ replicas - 1 }}\n"
    response = alice_api.post("/api/releases", release_body(template=template), format="json")
    assert response.status_code == 400
    assert "failed to render" in response.json()["detail"]


def test_oversized_template_gets_413(alice_api, settings):
    settings.KUBERNAUT_MAX_TEMPLATE_BYTES = 2048
    template = HELLO_TEMPLATE + "# " + "x" * 3000 + "\n"
    response = alice_api.post("/api/releases", release_body(template=template), format="json")
    assert response.status_code == 413
    assert "limit is 2048 bytes" in response.json()["detail"]


def test_oversized_request_body_gets_413_before_parsing(alice_api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100_000
    response = alice_api.post("/api/releases", release_body(comment="x" * 200_000), format="json")
    assert response.status_code == 413
    assert "limit is 100000 bytes" in response.json()["detail"]


def test_malformed_json_gets_400(alice_api):
    response = alice_api.post("/api/releases", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert "JSON parse error" in response.json()["detail"]


def test_json_that_is_not_an_object_gets_400(alice_api):
    response = alice_api.post("/api/releases", [1, 2], format="json")
    assert response.status_code == 400
    assert "JSON object" in response.json()["detail"]


def test_missing_fields_are_named(alice_api):
    response = alice_api.post("/api/releases", {"comment": "x"}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert set(body["errors"]) == {"service", "version", "template"}
    assert "service: This field is required." in body["detail"]


@pytest.mark.parametrize(
    ("overrides", "field", "expected"),
    [
        ({"service": "Hello_World"}, "service", "lower-case letters"),
        ({"service": 12}, "service", "Not a valid string"),
        ({"version": "1.0 beta"}, "version", "Docker image tag"),
        ({"version": ["1"]}, "version", "Not a valid string"),
        ({"template": 5}, "template", "Not a valid string"),
        ({"attributes": ["image"]}, "attributes", "JSON object of strings"),
        ({"attributes": {"replicas": 2}}, "attributes", 'write "2" instead'),
        ({"attributes": {"replicas": None}}, "attributes", "must be a string"),
        ({"attributes": {"image-tag": "x"}}, "attributes", "not a valid attribute name"),
        ({"attributes": {"namespace": "x"}}, "attributes", "deploy-time variable"),
    ],
)
def test_wrong_types_and_values_get_400_naming_the_field(alice_api, overrides, field, expected):
    response = alice_api.post("/api/releases", release_body(**overrides), format="json")
    assert response.status_code == 400
    body = response.json()
    assert field in body["errors"]
    assert expected in body["detail"]
    assert not Release.all_objects.exists()


def test_without_credentials_gets_401():
    response = APIClient().post("/api/releases", release_body(), format="json")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Token")


def test_bad_token_gets_401_with_a_hint(db):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token kn_not-a-real-key")
    response = client.post("/api/releases", release_body(), format="json")
    assert response.status_code == 401
    assert "create_api_token" in response.json()["detail"]


def test_read_only_user_gets_403_naming_the_permission(bob_api):
    response = bob_api.post("/api/releases", release_body(), format="json")
    assert response.status_code == 403
    assert "releases.add_release" in response.json()["detail"]
    assert not Release.objects.exists()


def test_session_login_works_and_needs_csrf(alice):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(alice)
    refused = client.post("/api/releases", release_body(), format="json")
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["detail"]

    client.get("/login/")
    token = client.cookies["csrftoken"].value
    accepted = client.post("/api/releases", release_body(), format="json", HTTP_X_CSRFTOKEN=token)
    assert accepted.status_code == 201


def test_template_with_runaway_loops_gets_400(alice_api, monkeypatch):
    # The work budget must answer, not the wall clock (slower on a loaded machine).
    monkeypatch.setattr(templating, "RENDER_SECONDS", 10.0)
    template = (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n"
        "# {% for a in image %}{% for b in image %}{% endfor %}{% endfor %}\n"
    )
    response = alice_api.post(
        "/api/releases",
        release_body(template=template, attributes={"image": "x" * 16000}),
        format="json",
    )
    assert response.status_code == 400
    assert "too much work" in response.json()["detail"]
