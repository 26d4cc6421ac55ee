"""The OpenAPI document tells the truth: page shapes, limits, error answers, unknown paths."""

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema(bob_api) -> dict:
    response = bob_api.get("/api/schema/?format=json")
    assert response.status_code == 200
    return response.json()


def resolve(schema: dict, node: dict) -> dict:
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    return node


def response_schema(schema: dict, path: str, method: str, status: str) -> dict:
    content = schema["paths"][path][method]["responses"][status]["content"]
    return resolve(schema, content["application/json"]["schema"])


@pytest.mark.parametrize(
    ("path", "row"), [("/api/releases", "Release"), ("/api/deployments", "Deployment")]
)
def test_lists_are_documented_as_pages_not_arrays(schema, path, row):
    page = response_schema(schema, path, "get", "200")
    assert page["type"] == "object"
    assert set(page["required"]) == {"next", "previous", "results"}
    assert page["properties"]["next"]["type"] == ["string", "null"]
    assert page["properties"]["results"]["items"] == {"$ref": f"#/components/schemas/{row}"}


def test_the_log_is_documented_as_the_object_it_is(schema, alice_api):
    log = response_schema(schema, "/api/deployments/{id}/log", "get", "200")
    assert set(log["properties"]) == {"status", "finished", "log"}
    assert log["properties"]["log"]["type"] == "array"
    after = next(
        parameter
        for parameter in schema["paths"]["/api/deployments/{id}/log"]["get"]["parameters"]
        if parameter["name"] == "after"
    )
    assert after["schema"]["minimum"] == 0


@pytest.mark.parametrize("path", ["/api/releases", "/api/deployments"])
def test_page_size_limits_are_documented(schema, path):
    parameters = {p["name"]: p["schema"] for p in schema["paths"][path]["get"]["parameters"]}
    assert parameters["limit"]["minimum"] == 1
    assert parameters["limit"]["maximum"] == 500


def test_every_operation_documents_its_error_answers(schema):
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            statuses = set(operation["responses"])
            expected = {"400", "401", "403", "414"}
            if "{" in path:
                expected.add("404")
            if "requestBody" in operation:
                expected.add("413")
            assert expected <= statuses, (method, path, statuses)
    assert "409" in schema["paths"]["/api/releases"]["post"]["responses"]
    assert "404" in schema["paths"]["/api/deployments"]["post"]["responses"]
    error = response_schema(schema, "/api/releases", "post", "409")
    assert error["required"] == ["detail"]
    assert error["properties"]["errors"]["type"] == "object"


def test_the_token_scheme_is_documented(schema):
    scheme = schema["components"]["securitySchemes"]["tokenAuth"]
    assert scheme == {**scheme, "type": "apiKey", "in": "header", "name": "Authorization"}
    assert {"tokenAuth": []} in schema["paths"]["/api/releases"]["get"]["security"]


def test_the_multipart_form_is_documented_flat_with_attributes_as_fields(schema):
    form = schema["paths"]["/api/releases"]["post"]["requestBody"]["content"][
        "multipart/form-data"
    ]["schema"]
    assert set(form["required"]) == {"service", "version", "template"}
    assert form["additionalProperties"]["type"] == "string"


def test_a_deployment_names_its_release_one_way_only(schema, alice_api, make_release):
    body = resolve(schema, {"$ref": "#/components/schemas/DeploymentInputRequest"})
    assert body["oneOf"] == [{"required": ["release"]}, {"required": ["service"]}]
    release = make_release()
    both = {"release": release.pk, "service": "hello-world", "version": "1.0.0"}
    response = alice_api.post(
        "/api/deployments", {**both, "cluster": "c", "namespace": "n"}, format="json"
    )
    assert response.status_code == 400


def test_an_error_about_the_whole_body_still_keys_errors_by_field(alice_api):
    response = alice_api.post("/api/releases", [1, 2], format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {
        "non_field_errors": ["The body must be a JSON object with service, version and template."]
    }


@pytest.mark.parametrize("query", ["service=", "created_by=", "version="])
def test_an_empty_filter_is_refused_not_ignored(alice_api, make_release, query):
    make_release()
    response = alice_api.get(f"/api/releases?{query}")
    assert response.status_code == 400
    name = query.rstrip("=")
    assert response.json()["errors"] == {name: ["Give a value, or leave the parameter out."]}


def test_an_empty_deployment_filter_is_refused(alice_api):
    response = alice_api.get("/api/deployments?status=")
    assert response.status_code == 400
    assert "status" in response.json()["errors"]


@pytest.mark.parametrize("method", ["get", "post", "put", "patch", "delete", "head", "options"])
@pytest.mark.parametrize(
    "path", ["/api/nothing", "/api/releases/abc", "/api/releases/1/x", "/api/deployments/a%0Ab"]
)
def test_unknown_api_paths_are_a_json_404_whatever_the_method(alice, method, path):
    # A browser session with CSRF checks on: the unknown path must not answer CSRF's HTML 403.
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    response = getattr(client, method)(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    if method != "head":
        assert response.json()["detail"].startswith("There is no API endpoint at /api/")


def test_unknown_api_paths_are_a_json_404_without_credentials_too():
    response = Client(enforce_csrf_checks=True).post("/api/releases/1/x", {"a": "b"})
    assert response.status_code == 404
    assert response.json()["detail"].startswith("There is no API endpoint")
