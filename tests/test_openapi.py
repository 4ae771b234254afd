"""The OpenAPI schema is valid, documents ids in requests and brief objects in responses, and
what the API actually returns matches it (so a generated client works)."""

import pytest
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate

from inventory.demo import demo_inventory_load

pytestmark = pytest.mark.django_db

LIST_PATHS = ["sites", "racks", "power-feeds", "pdus", "outlets", "hosts", "power-supplies"]


@pytest.fixture
def schema(api):
    response = api.get("/api/v1/schema/?format=json")
    assert response.status_code == 200
    return response.json()


def test_schema_is_valid_openapi_3(schema):
    validate(schema)
    assert schema["openapi"].startswith("3.")


def test_related_objects_are_ids_in_requests_and_brief_objects_in_responses(schema):
    components = schema["components"]["schemas"]
    assert components["RackRequest"]["properties"]["site"]["type"] == "integer"
    brief = components["Rack"]["properties"]["site"]
    assert brief["type"] == "object"
    assert set(brief["required"]) == {"id", "url", "name"}
    assert components["PDURequest"]["properties"]["snmp_read_community"]["writeOnly"] is True
    assert "snmp_read_community" not in components["PDU"]["properties"]


def test_every_endpoint_is_documented(schema):
    for path in LIST_PATHS:
        assert f"/api/v1/{path}/" in schema["paths"]
        assert f"/api/v1/{path}/{{id}}/" in schema["paths"]


def _validator_for(schema, component: str) -> OAS30Validator:
    # The component's $refs ("#/components/...") resolve against this root document.
    root = {"$ref": f"#/components/schemas/{component}", "components": schema["components"]}
    return OAS30Validator(root)


@pytest.mark.parametrize("path", LIST_PATHS)
def test_responses_match_the_schema(api, schema, path):
    demo_inventory_load()
    operation = schema["paths"][f"/api/v1/{path}/"]["get"]
    ref = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    page = api.get(f"/api/v1/{path}/?limit=20").json()
    _validator_for(schema, ref.rsplit("/", 1)[1]).validate(page)
    assert page["results"], "the demo inventory should give every list some rows"


def test_interactive_docs_are_served_without_a_cdn(api):
    response = api.get("/api/v1/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    assert "cdn.jsdelivr" not in html


def test_bulk_create_is_documented_as_one_object_or_a_list(schema):
    body = schema["paths"]["/api/v1/hosts/"]["post"]["requestBody"]["content"]["application/json"]
    one, many = body["schema"]["oneOf"]
    assert one["$ref"].endswith("/HostRequest")
    assert many["type"] == "array" and many["items"]["$ref"].endswith("/HostRequest")
    created = schema["paths"]["/api/v1/hosts/"]["post"]["responses"]["201"]["content"]
    assert created["application/json"]["schema"]["oneOf"][1]["items"]["$ref"].endswith("/Host")


def test_a_bulk_create_s_per_item_errors_are_documented(api):
    schema = api.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    error = schema["paths"]["/api/v1/racks/"]["post"]["responses"]["400"]
    one_or_many = error["content"]["application/json"]["schema"]["oneOf"]
    assert one_or_many[1]["type"] == "array"
