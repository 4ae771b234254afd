"""A rack's elevation (telemetry/elevation.py): its data, the API's
GET /api/v1/racks/{id}/elevation/ and the admin's page, with who may see them."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from openapi_schema_validator import OAS30Validator
from rest_framework.test import APIClient

from inventory.choices import HostStatus, OutletState, PduMounting
from inventory.models import Outlet, Rack
from telemetry.choices import ReadingsState, SlotKind
from telemetry.elevation import rack_elevation, rack_elevation_prefetch
from telemetry.models import PduStatus
from tests import factories

pytestmark = pytest.mark.django_db

API = "/api/v1"


def set_outlet(pdu, number: int, *, state: str, current_a=None, power_w=None, **fields):
    Outlet.objects.filter(pdu=pdu, number=number).update(
        state=state, current_a=current_a, power_w=power_w, readings_at=timezone.now(), **fields
    )


def reading(pdu, watts: float | None, *, up: bool = True, age_s: int = 0) -> None:
    PduStatus.objects.update_or_create(
        pdu=pdu,
        defaults={
            "up": up,
            "power_w": watts,
            "readings_at": timezone.now() - timedelta(seconds=age_s),
        },
    )


@pytest.fixture
def r01(site):
    """A 12U rack: web01 at U1 (1U, active), db01 at U3-U4 (2U, maintenance, protected),
    stor01 at U8-U11 (4U, planned, one supply unplugged), spare01 without a position; empty
    U2, U5-U7 and U12. A and B PDUs on 5,888 W feeds, 8 outlets each."""
    rack = factories.make_rack(site=site, name="R01", u_height=12)
    feed_a = factories.make_feed(rack=rack, side="A")
    feed_b = factories.make_feed(rack=rack, side="B")
    pdu_a = factories.make_pdu(rack=rack, name="R01-PDU-A", feed=feed_a, outlet_count=8)
    pdu_b = factories.make_pdu(
        rack=rack,
        name="R01-PDU-B",
        feed=feed_b,
        outlet_count=8,
        mounting=PduMounting.ZERO_U_RIGHT,
    )
    web = factories.make_dual_psu_host(
        rack=rack, pdu_a=pdu_a, pdu_b=pdu_b, outlet=1, name="r01-web01", position_u=1
    )
    db = factories.make_dual_psu_host(
        rack=rack,
        pdu_a=pdu_a,
        pdu_b=pdu_b,
        outlet=3,
        name="r01-db01",
        position_u=3,
        u_height=2,
        status=HostStatus.MAINTENANCE,
        protected=True,
    )
    stor = factories.make_host(
        rack=rack, name="r01-stor01", position_u=8, u_height=4, status=HostStatus.PLANNED
    )
    factories.make_supply(host=stor, name="PSU1", outlet=pdu_a.outlets.get(number=5))
    factories.make_supply(host=stor, name="PSU2")
    spare = factories.make_host(rack=rack, name="r01-spare01")
    set_outlet(pdu_a, 1, state=OutletState.ON, current_a=1.25, power_w=250.0)
    set_outlet(pdu_b, 1, state=OutletState.OFF, current_a=0.0, power_w=0.0)
    set_outlet(pdu_a, 3, state=OutletState.ON, locked=True, lock_reason="fragile")
    return {"rack": rack, "pdu_a": pdu_a, "pdu_b": pdu_b, "web": web, "db": db}, stor, spare


def elevation_of(rack: Rack, **kwargs):
    return rack_elevation(rack_elevation_prefetch(Rack.objects.all()).get(pk=rack.pk), **kwargs)


# --- The data --------------------------------------------------------------------------------


def test_units_run_top_down_with_each_host_in_its_span_and_the_gaps_empty(r01):
    objs, _, _ = r01
    elevation = elevation_of(objs["rack"])
    spans = [(s.kind, s.top_u, s.position_u, s.host and s.host.name) for s in elevation.slots]
    assert spans == [
        (SlotKind.EMPTY, 12, 12, None),
        (SlotKind.HOST, 11, 8, "r01-stor01"),
        (SlotKind.EMPTY, 7, 7, None),
        (SlotKind.EMPTY, 6, 6, None),
        (SlotKind.EMPTY, 5, 5, None),
        (SlotKind.HOST, 4, 3, "r01-db01"),
        (SlotKind.EMPTY, 2, 2, None),
        (SlotKind.HOST, 1, 1, "r01-web01"),
    ]
    assert elevation.empty_units == [12, 7, 6, 5, 2]
    assert [h.name for h in elevation.unplaced_hosts] == ["r01-spare01"]
    assert (elevation.name, elevation.u_height, elevation.site_name) == (
        "R01",
        12,
        objs["rack"].site.name,
    )


def test_each_host_carries_its_supplies_and_their_outlets(r01):
    objs, _, _ = r01
    slots = {s.host.name: s for s in elevation_of(objs["rack"]).slots if s.host}
    db = slots["r01-db01"].host
    assert (db.status, db.protected, db.position_u, db.u_height, db.top_u) == (
        HostStatus.MAINTENANCE,
        True,
        3,
        2,
        4,
    )
    assert db.id == objs["db"].pk
    web = {s.name: s.outlet for s in slots["r01-web01"].host.supplies}
    assert (web["PSU1"].name, web["PSU1"].state, web["PSU1"].current_a, web["PSU1"].power_w) == (
        "R01-PDU-A:1",
        OutletState.ON,
        1.25,
        250.0,
    )
    assert (web["PSU2"].name, web["PSU2"].state) == ("R01-PDU-B:1", OutletState.OFF)
    assert {s.name: s.outlet.locked for s in db.supplies} == {"PSU1": True, "PSU2": False}
    stor = {s.name: s.outlet for s in slots["r01-stor01"].host.supplies}
    assert stor["PSU2"] is None and stor["PSU1"].name == "R01-PDU-A:5"
    # Never read: unknown, not zero.
    assert stor["PSU1"].state == OutletState.UNKNOWN and stor["PSU1"].current_a is None


def test_pdus_are_grouped_by_side_with_every_outlet_and_what_is_plugged_in(r01):
    objs, _, _ = r01
    sides = {s.side: s.pdus for s in elevation_of(objs["rack"]).sides}
    assert list(sides) == ["A", "B"]
    (pdu_a,) = sides["A"]
    (pdu_b,) = sides["B"]
    assert (pdu_a.name, pdu_b.name, pdu_b.mounting) == (
        "R01-PDU-A",
        "R01-PDU-B",
        PduMounting.ZERO_U_RIGHT,
    )
    assert [o.number for o in pdu_a.outlets] == list(range(1, 9))
    outlets = {o.number: o for o in pdu_a.outlets}
    assert outlets[1].host.name == "r01-web01" and outlets[1].power_supply == "PSU1"
    assert outlets[1].current_a == 1.25 and outlets[1].state == OutletState.ON
    assert outlets[3].locked is True and outlets[3].host.name == "r01-db01"
    assert outlets[2].host is None and outlets[2].current_a is None


def test_a_pdu_on_no_feed_is_grouped_apart_and_a_rack_unit_pdu_fills_its_units(r01):
    objs, _, _ = r01
    factories.make_pdu(
        rack=objs["rack"],
        name="R01-PDU-C",
        outlet_count=2,
        mounting=PduMounting.RACK_UNIT,
        position_u=6,
    )
    elevation = elevation_of(objs["rack"])
    assert [(s.side, [p.name for p in s.pdus]) for s in elevation.sides][-1] == (
        None,
        ["R01-PDU-C"],
    )
    six = next(s for s in elevation.slots if s.top_u == 6)
    assert six.kind == SlotKind.PDU and six.pdu.name == "R01-PDU-C"
    assert elevation.empty_units == [12, 7, 5, 2]


def test_measured_power_against_the_redundant_capacity_and_missing_readings(r01):
    objs, _, _ = r01
    # Outlet readings count where a PDU reports no total: PDU-A's outlet 1 (250 W).
    power = elevation_of(objs["rack"]).power
    assert power.measured_w == 250.0 and power.readings == ReadingsState.FRESH
    Outlet.objects.update(current_a=None, power_w=None, readings_at=None)
    power = elevation_of(objs["rack"]).power
    # Nothing read: unknown (None), not 0 W.
    assert power.measured_w is None and power.utilization_percent is None
    assert power.readings == ReadingsState.MISSING and power.readings_at is None
    assert (power.capacity_w, power.redundant, power.over_budget) == (5888, True, False)
    # Allocated: web01 and db01 2 x 200 W each, stor01 2 x 200 W (planned hosts count).
    assert power.allocated_w == 1200 and power.allocated_percent == pytest.approx(20.4)

    reading(objs["pdu_a"], 2000.0)
    power = elevation_of(objs["rack"]).power
    assert power.measured_w == 2000.0
    assert power.readings == ReadingsState.STALE  # PDU-B never read: the sum is partial

    reading(objs["pdu_b"], 4000.0)
    power = elevation_of(objs["rack"]).power
    assert power.readings == ReadingsState.FRESH
    assert power.measured_w == 6000.0 and power.utilization_percent == pytest.approx(101.9)
    assert power.over_budget is True and power.failover_overload is True


def test_old_readings_and_a_pdu_that_is_down_are_stale(r01):
    objs, _, _ = r01
    reading(objs["pdu_a"], 1000.0)
    reading(objs["pdu_b"], 1000.0, age_s=10 * 60)  # 30 s interval: 3 missed polls is 90 s
    elevation = elevation_of(objs["rack"])
    states = {p.name: p.readings for s in elevation.sides for p in s.pdus}
    assert states == {"R01-PDU-A": ReadingsState.FRESH, "R01-PDU-B": ReadingsState.STALE}
    assert elevation.power.readings == ReadingsState.STALE
    reading(objs["pdu_b"], 1000.0, up=False)
    assert elevation_of(objs["rack"]).power.readings == ReadingsState.STALE
    reading(objs["pdu_b"], 1000.0)
    assert elevation_of(objs["rack"]).power.readings == ReadingsState.FRESH


def test_the_query_count_does_not_grow_with_the_rack(r01, django_assert_num_queries):
    objs, _, _ = r01
    rack = objs["rack"]
    with django_assert_num_queries(7):
        elevation_of(rack)
    # Twice the hosts, supplies and PDUs: the same seven queries.
    big = factories.make_pdu(rack=rack, name="R01-PDU-A2", feed=objs["pdu_a"].feed)
    for i, u in enumerate((5, 6, 7, 12)):
        host = factories.make_host(rack=rack, name=f"r01-extra{u}", position_u=u)
        factories.make_supply(host=host, name="PSU1", outlet=big.outlets.get(number=u))
        b_outlet = objs["pdu_b"].outlets.get(number=4 + i)
        factories.make_supply(host=host, name="PSU2", outlet=b_outlet)
    reading(big, 100.0)
    with django_assert_num_queries(7):
        elevation = elevation_of(rack)
    assert elevation.empty_units == [2] and len(elevation.sides[0].pdus) == 2


# --- The API ---------------------------------------------------------------------------------


@pytest.fixture
def viewer_api(django_user_model):
    user = django_user_model.objects.create_user("vera", password="pw-viewer-12345")
    factories.grant(user, "viewer")
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_the_api_returns_the_elevation_to_a_viewer(viewer_api, r01):
    objs, _, _ = r01
    rack = objs["rack"]
    reading(objs["pdu_a"], 2000.0)
    Outlet.objects.filter(pdu=objs["pdu_b"]).update(current_a=None, power_w=None, readings_at=None)
    response = viewer_api.get(f"{API}/racks/{rack.pk}/elevation/")
    assert response.status_code == 200
    data = response.json()
    assert data["rack"]["name"] == "R01" and data["rack"]["u_height"] == 12
    assert data["rack"]["site"]["id"] == rack.site_id
    assert data["rack"]["url"].endswith(f"/api/v1/racks/{rack.pk}/")
    units = [(u["kind"], u["top_u"], u["position_u"]) for u in data["units"]]
    assert units[:2] == [("empty", 12, 12), ("host", 11, 8)]
    db = next(u["host"] for u in data["units"] if u["host"] and u["host"]["name"] == "r01-db01")
    assert (db["position_u"], db["top_u"], db["status"], db["protected"]) == (
        3,
        4,
        "maintenance",
        True,
    )
    assert db["url"].endswith(f"/api/v1/hosts/{objs['db'].pk}/")
    assert [s["outlet"]["name"] for s in db["supplies"]] == ["R01-PDU-A:3", "R01-PDU-B:3"]
    assert data["empty_units"] == [12, 7, 6, 5, 2]
    assert [h["name"] for h in data["unplaced_hosts"]] == ["r01-spare01"]
    a_side = data["sides"][0]
    assert a_side["side"] == "A" and a_side["pdus"][0]["power_w"] == 2000.0
    outlet_1 = a_side["pdus"][0]["outlets"][0]
    assert (outlet_1["state"], outlet_1["current_a"], outlet_1["host"]["name"]) == (
        "on",
        1.25,
        "r01-web01",
    )
    assert data["sides"][1]["pdus"][0]["readings"] == "missing"
    assert data["power"] == {
        "measured_w": 2000.0,
        "allocated_w": 1200,
        "capacity_w": 5888,
        "redundant": True,
        "utilization_percent": 34.0,
        "allocated_percent": 20.4,
        "over_budget": False,
        "failover_overload": False,
        "readings_at": data["power"]["readings_at"],
        "readings": "stale",
    }
    assert data["power"]["readings_at"] is not None


def test_the_api_refuses_strangers_and_unknown_racks(anon, viewer_api, r01, django_user_model):
    rack = r01[0]["rack"]
    assert anon.get(f"{API}/racks/{rack.pk}/elevation/").status_code == 401
    nobody = APIClient()
    nobody.force_authenticate(django_user_model.objects.create_user("nobody"))
    assert nobody.get(f"{API}/racks/{rack.pk}/elevation/").status_code == 403
    assert viewer_api.get(f"{API}/racks/999999/elevation/").status_code == 404


def test_the_schema_documents_the_elevation_and_the_answer_matches_it(api, r01):
    objs, _, _ = r01
    reading(objs["pdu_a"], 2000.0)
    schema = api.get(f"{API}/schema/?format=json").json()
    operation = schema["paths"][f"{API}/racks/{{id}}/elevation/"]["get"]
    ref = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert ref.endswith("/RackElevation")
    components = schema["components"]["schemas"]
    assert set(components["RackElevation"]["properties"]) == {
        "rack",
        "units",
        "empty_units",
        "unplaced_hosts",
        "sides",
        "power",
    }
    root = {"$ref": ref, "components": schema["components"]}
    OAS30Validator(root).validate(api.get(f"{API}/racks/{objs['rack'].pk}/elevation/").json())


# --- The admin page --------------------------------------------------------------------------


def _staff(django_user_model, client, name: str, role: str | None):
    user = django_user_model.objects.create_user(name, password=f"pw-{name}-12345", is_staff=True)
    if role:
        factories.grant(user, role)
    client.force_login(user)
    return client


def _page_url(rack) -> str:
    return f"/admin/inventory/rack/{rack.pk}/elevation/"


def _tag(page: str, attr: str) -> str:
    """The opening tag that carries ``attr`` (e.g. 'data-host="r01-db01"')."""
    match = re.search(rf"<[a-z]+[^>]*{re.escape(attr)}[^>]*>", page)
    assert match, f"no element with {attr}"
    return match.group(0)


def test_the_page_draws_each_host_in_its_units_with_its_outlets(client, django_user_model, r01):
    objs, _, _ = r01
    rack = objs["rack"]
    reading(objs["pdu_a"], 2000.0)
    reading(objs["pdu_b"], 1000.0)
    assert reverse("rack-elevation", kwargs={"rack_id": rack.pk}) == _page_url(rack)
    viewer = _staff(django_user_model, client, "vic", "viewer")
    response = viewer.get(_page_url(rack))
    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="site-name"' in page and 'class="breadcrumbs"' in page  # the admin's frame
    for name, bottom, top, status in (
        ("r01-web01", 1, 1, "active"),
        ("r01-db01", 3, 4, "maintenance"),
        ("r01-stor01", 8, 11, "planned"),
    ):
        tag = _tag(page, f'data-host="{name}" data-host-id=')
        assert f'data-u-bottom="{bottom}"' in tag and f'data-u-top="{top}"' in tag, tag
        assert f'data-status="{status}"' in tag
    # Each host links to its admin page; each outlet to its own.
    assert f'href="/admin/inventory/host/{objs["db"].pk}/change/"' in page
    outlet_a1 = objs["pdu_a"].outlets.get(number=1)
    tag = _tag(page, 'data-outlet="R01-PDU-A:1" data-state="on"')
    assert f'href="/admin/inventory/outlet/{outlet_a1.pk}/change/"' in tag
    assert 'data-host="r01-web01"' in tag
    assert 'data-outlet="R01-PDU-B:1" data-state="off"' in page
    assert 'data-outlet="R01-PDU-A:2" data-state="unknown"' in page
    assert "1.25 A" in page
    assert 'data-supply="PSU2" data-outlet="" data-state="unplugged"' in page
    for unit in (12, 7, 6, 5, 2):
        assert f'data-empty-u="{unit}"' in page
    # The A side on the left of the rack, the B side on its right.
    assert page.index('data-pdu="R01-PDU-A"') < page.index('id="rack-units"')
    assert page.index('id="rack-units"') < page.index('data-pdu="R01-PDU-B"')
    # Power against capacity, in numbers.
    assert 'data-measured-w="3000.0"' in page and 'data-capacity-w="5888"' in page
    assert "3000 W" in page and "5888 W" in page and "1200 W" in page
    assert "51.0 %" in page
    # Colours are named in text too: the legend and each host's status.
    for label in ("Active", "Planned", "Maintenance", "Decommissioned", "On", "Off", "Unknown"):
        assert f"</span>{label}</li>" in page
    assert "<title>r01-db01: U3-U4, maintenance" in page
    assert "Maintenance, protected</text>" in page and "3 on, locked</text>" in page
    assert 'data-host="r01-spare01"' in page  # in the rack, without a position


def test_the_page_says_when_nothing_was_read(admin_client, r01):
    rack = r01[0]["rack"]
    Outlet.objects.update(current_a=None, power_w=None, readings_at=None)
    page = admin_client.get(_page_url(rack)).content.decode()
    assert "No readings yet" in page and 'data-readings="missing"' in page
    assert 'data-measured-w=""' in page and 'id="power-bar-measured"' not in page


def test_the_page_needs_a_role_and_a_known_rack(client, django_user_model, r01):
    rack = r01[0]["rack"]
    anonymous = client.get(_page_url(rack))
    assert anonymous.status_code == 302 and "/admin/login/" in anonymous["Location"]
    nobody = _staff(django_user_model, client, "nobody", None)
    assert nobody.get(_page_url(rack)).status_code == 403
    viewer = _staff(django_user_model, client, "vic", "viewer")
    assert viewer.get("/admin/inventory/rack/999999/elevation/").status_code == 404


def test_the_rack_page_and_the_rack_list_link_to_the_elevation(
    client, admin_client, django_user_model, r01
):
    rack = r01[0]["rack"]
    viewer = _staff(django_user_model, client, "vic", "viewer")
    link = f'href="{_page_url(rack)}"'
    change = viewer.get(f"/admin/inventory/rack/{rack.pk}/change/")
    assert change.status_code == 200 and link in change.content.decode()
    listing = viewer.get("/admin/inventory/rack/")
    assert listing.status_code == 200 and link in listing.content.decode()
    # A rack being added has no elevation yet.
    add = admin_client.get("/admin/inventory/rack/add/").content.decode()
    assert "Drawn once the rack is saved." in add and "rack-elevation-link" not in add
