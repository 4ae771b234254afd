"""The audit trail: every inventory change through the API or the admin is recorded with
who, when, the request id, and each changed field before and after (secrets masked); the
trail is filterable in the API, read-only everywhere, and visible to admins only."""

from __future__ import annotations

import pytest

from dcpower.models import AuditEntry
from inventory.models import Rack
from tests import factories

pytestmark = pytest.mark.django_db

API = "/api/v1"


def test_api_changes_are_recorded_with_who_when_and_the_request(api, site, admin_user):
    created = api.post(
        f"{API}/racks/", {"site": site.pk, "name": "R9"}, headers={"X-Request-ID": "chg-1"}
    )
    assert created.status_code == 201
    rack_id = str(created.data["id"])
    api.patch(f"{API}/racks/{rack_id}/", {"room": "1.02"}, headers={"X-Request-ID": "chg-2"})
    api.delete(f"{API}/racks/{rack_id}/", headers={"X-Request-ID": "chg-3"})
    entries = list(
        AuditEntry.objects.filter(model="inventory.rack", object_id=rack_id).order_by("id")
    )
    assert [(e.action, e.request_id, e.username) for e in entries] == [
        ("create", "chg-1", admin_user.username),
        ("update", "chg-2", admin_user.username),
        ("delete", "chg-3", admin_user.username),
    ]
    create, update, delete = entries
    assert create.changes["name"] == [None, "R9"] and create.site_id == site.pk
    assert update.changes == {"room": ["", "1.02"]}  # only what changed
    assert delete.changes["name"] == ["R9", None]
    assert all(e.model == "inventory.rack" and e.object_repr == "R9" for e in entries)


def test_secrets_are_masked_in_the_trail(api, rack):
    response = api.post(
        f"{API}/pdus/",
        {
            "rack": rack.pk,
            "name": "PDU-Z",
            "management_host": "10.0.0.9",
            "outlet_count": 4,
            "snmp_read_community": "super-secret-community",
        },
    )
    assert response.status_code == 201, response.data
    entry = AuditEntry.objects.get(model="inventory.pdu", action="create")
    assert entry.changes["snmp_read_community"] == [None, "***"]
    assert "super-secret-community" not in str(AuditEntry.objects.values_list("changes"))


def test_admin_changes_are_recorded_with_the_session_user(admin_client, rack, admin_user):
    response = admin_client.post(
        f"/admin/inventory/rack/{rack.pk}/change/",
        {
            "site": rack.site_id,
            "name": "R-renamed",
            "status": rack.status,
            "u_height": 42,
            "room": "",
            "row": "",
            "serial": "",
            "asset_tag": "",
            "description": "",
            "pdus-TOTAL_FORMS": "0",
            "pdus-INITIAL_FORMS": "0",
            "pdus-MIN_NUM_FORMS": "0",
            "pdus-MAX_NUM_FORMS": "1000",
            "hosts-TOTAL_FORMS": "0",
            "hosts-INITIAL_FORMS": "0",
            "hosts-MIN_NUM_FORMS": "0",
            "hosts-MAX_NUM_FORMS": "1000",
        },
    )
    assert response.status_code == 302, response.content.decode()[-2000:]
    entry = AuditEntry.objects.get(model="inventory.rack", object_id=str(rack.pk), action="update")
    assert entry.username == admin_user.username and entry.changes["name"][1] == "R-renamed"
    assert len(entry.request_id) == 32  # made by the middleware


def test_the_trail_is_filterable_and_read_only(api, site):
    api.post(f"{API}/racks/", {"site": site.pk, "name": "RA"})
    api.post(f"{API}/racks/", {"site": site.pk, "name": "RB"})
    rb = Rack.objects.get(name="RB")
    listed = api.get(f"{API}/audit/", {"model": "inventory.rack", "object_id": rb.pk}).data
    assert [e["object_repr"] for e in listed["results"]] == ["RB"]
    assert api.get(f"{API}/audit/", {"objekt": 1}).status_code == 400
    assert api.post(f"{API}/audit/", {}).status_code == 405
    assert api.delete(f"{API}/audit/{listed['results'][0]['id']}/").status_code == 405


def test_only_admins_read_the_trail(anon, django_user_model, site):
    tech = django_user_model.objects.create_user("tech", password="pw-tech-12345")
    factories.grant(tech, "technician")
    anon.force_authenticate(tech)
    assert anon.get(f"{API}/audit/").status_code == 403
    boss = django_user_model.objects.create_user("boss", password="pw-boss-12345")
    factories.grant(boss, "admin")
    anon.force_authenticate(boss)
    assert anon.get(f"{API}/audit/").status_code == 200
