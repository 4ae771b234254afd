"""Hostile and broken input: oversized bodies, malformed JSON, wrong types, unknown fields,
injection strings in names and filters. Each gets a clear 4xx naming the problem, and
nothing is written; strings are stored and returned exactly as given, never interpreted."""

from __future__ import annotations

import json

import pytest

from inventory.models import Rack, Site
from power.models import PowerCommand

pytestmark = pytest.mark.django_db

API = "/api/v1"
INJECTIONS = [
    "'; DROP TABLE inventory_rack; --",
    '" OR 1=1 --',
    "<script>alert(1)</script>",
    "{{7*7}} ${7*7} %(x)s",
    "../../etc/passwd",
    "R\u0000null",
    "\u202eevil",
    "ﾠ" * 3,
]


def raw_post(api, path: str, body: bytes, content_type: str = "application/json"):
    return api.generic("POST", path, body, content_type=content_type)


def test_malformed_json_is_a_400_that_says_so(api, site):
    response = raw_post(api, f"{API}/racks/", b'{"site": 1, "name": ')
    assert response.status_code == 400
    assert "JSON parse error" in response.data["detail"]
    assert not Rack.objects.exists()


def test_an_oversized_body_is_refused(api, site, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    body = json.dumps({"site": site.pk, "name": "R1", "description": "x" * 20_000}).encode()
    response = raw_post(api, f"{API}/racks/", body)
    assert response.status_code in (400, 413)
    assert not Rack.objects.exists()


def test_a_body_that_is_not_json_at_all(api, site):
    response = raw_post(api, f"{API}/racks/", b"name=R1", content_type="text/plain")
    assert response.status_code == 415
    assert not Rack.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"site": "one", "name": "R1"}, "site"),
        ({"site": [1], "name": "R1"}, "site"),
        ({"name": {"a": 1}}, "name"),
        ({"u_height": "tall", "name": "R1"}, "u_height"),
        ({"u_height": 10**30, "name": "R1"}, "u_height"),
        ({"name": "R1", "colour": "red"}, "colour"),
    ],
)
def test_wrong_types_and_unknown_fields_name_the_field(api, site, body, field):
    body = {"site": site.pk, **body}
    response = api.post(f"{API}/racks/", body, format="json")
    assert response.status_code == 400
    assert field in response.data
    assert not Rack.objects.exists()


def test_a_json_array_where_an_object_belongs(api, site):
    response = raw_post(api, f"{API}/power/commands/", b"[1, 2, 3]")
    assert response.status_code == 400
    assert not PowerCommand.objects.exists()


@pytest.mark.parametrize("text", INJECTIONS)
def test_injection_strings_are_stored_and_returned_verbatim(api, site, text):
    name = text.replace("\u0000", "")  # PostgreSQL text cannot hold NUL: refused below
    response = api.post(
        f"{API}/racks/", {"site": site.pk, "name": name[:100], "description": name}, format="json"
    )
    assert response.status_code == 201, response.data
    assert response.data["description"] == name
    assert Rack.objects.get(pk=response.data["id"]).name == name[:100]
    found = api.get(f"{API}/racks/", {"q": name}).data
    assert [r["id"] for r in found["results"]] == [response.data["id"]]
    assert Rack.objects.count() == 1  # and the table is still there


def test_a_nul_character_is_refused_not_crashed_on(api, site):
    response = api.post(f"{API}/racks/", {"site": site.pk, "name": "R\u00001"}, format="json")
    assert response.status_code == 400
    assert "name" in response.data
    assert not Rack.objects.exists()


@pytest.mark.parametrize("text", INJECTIONS)
def test_injection_strings_in_filters_find_nothing_and_break_nothing(api, site, text):
    text = text.replace("\u0000", "")
    for params in ({"name": text}, {"q": text}, {"site_slug": text}):
        response = api.get(f"{API}/racks/", params)
        assert response.status_code == 200
        assert response.data["count"] == 0
    assert Site.objects.count() == 1


@pytest.mark.parametrize("query", ["id__in=1,2%s" % ("9" * 40), "id=" + "9" * 40])
def test_an_id_beyond_the_databases_integers_is_a_400(api, site, query):
    """PostgreSQL refuses it (DataError); SQLite's driver cannot even send it
    (OverflowError): either way a 400, never a 500."""
    answer = api.get(f"/api/v1/sites/?{query}")
    assert answer.status_code in (200, 400), answer.content
    if answer.status_code == 400:
        assert "range" in json.dumps(answer.json())


@pytest.mark.parametrize(
    "path", [f"{API}/sites/not-a-number/", f"{API}/hosts/1.5/power/cycle/", f"{API}/nothing/"]
)
def test_an_api_url_no_view_matches_is_a_json_404(api, path):
    response = api.get(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Not found."}


def test_other_urls_keep_django_s_html_404(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_an_api_crash_is_a_json_500_with_no_details(api, monkeypatch):
    api.raise_request_exception = False
    monkeypatch.setattr(
        "inventory.api.views.SiteViewSet.list",
        lambda *args, **kwargs: 1 / 0,
    )
    response = api.get(f"{API}/sites/")
    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "detail": "Internal server error; the request id is in X-Request-ID."
    }
    assert response["X-Request-ID"]
