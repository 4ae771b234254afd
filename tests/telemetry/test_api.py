"""Telemetry in the REST API: the latest readings in the PDU and rack resources, a rack's power
summary against its redundant capacity, and the events list with its filters."""

from __future__ import annotations

import pytest
from django.utils import timezone
from openapi_spec_validator import validate

from inventory.models import Outlet
from telemetry.choices import EventKind
from telemetry.models import Event, PduStatus
from telemetry.services import event_record, racks_update
from tests import factories

pytestmark = pytest.mark.django_db

API = "/api/v1"


def reading(pdu, watts: float | None, *, up: bool = True) -> None:
    PduStatus.objects.update_or_create(
        pdu=pdu,
        defaults={"up": up, "power_w": watts, "readings_at": timezone.now(), "voltage_v": 230.0},
    )


def test_a_pdu_shows_its_latest_poll(api, pdus):
    pdu = pdus[0]
    never_polled = api.get(f"{API}/pdus/{pdu.pk}/").data["telemetry"]
    assert never_polled["up"] is None and never_polled["power_w"] is None
    reading(pdu, 1234.5)
    PduStatus.objects.filter(pdu=pdu).update(
        phases=[{"phase": 1, "voltage_v": 230.0, "current_a": 5.4, "power_w": 1234.5}]
    )
    telemetry = api.get(f"{API}/pdus/{pdu.pk}/").data["telemetry"]
    assert telemetry["up"] is True and telemetry["power_w"] == 1234.5
    assert telemetry["voltage_v"] == 230.0 and telemetry["phases"][0]["current_a"] == 5.4
    listed = api.get(f"{API}/pdus/").data["results"]
    up = {p["id"]: p["telemetry"]["up"] for p in listed}
    assert up == {pdus[0].pk: True, pdus[1].pk: None}


def test_the_telemetry_block_is_read_only(api, pdus):
    # Like every read-only field (the API's convention): accepted, and changes nothing.
    response = api.patch(f"{API}/pdus/{pdus[0].pk}/", {"telemetry": {"up": False}}, format="json")
    assert response.status_code == 200
    assert response.data["telemetry"]["up"] is None
    assert not PduStatus.objects.exists()


def test_rack_power_summary_against_its_redundant_capacity(api, rack, pdus, feeds):
    pdu_a, pdu_b = pdus
    response = api.get(f"{API}/racks/{rack.pk}/power/")
    assert response.status_code == 200
    assert response.data["power_w"] is None and response.data["over_budget"] is False

    reading(pdu_a, 2000.0)
    reading(pdu_b, 2500.0)
    data = api.get(f"{API}/racks/{rack.pk}/power/").data
    assert data["redundant"] is True and data["capacity_w"] == 5888  # one side's 5,888 W
    assert data["power_w"] == 4500.0
    assert data["utilization_percent"] == pytest.approx(76.4, abs=0.1)
    assert data["over_budget"] is False and data["failover_overload"] is False
    sides = {s["side"]: s for s in data["sides"]}
    assert sides["A"]["power_w"] == 2000.0 and sides["B"]["power_w"] == 2500.0
    (feed_a,) = sides["A"]["feeds"]
    assert feed_a["feed"]["id"] == feeds[0].pk and feed_a["overloaded"] is False
    assert {p["pdu"]["id"]: p["power_w"] for p in data["pdus"]} == {
        pdu_a.pk: 2000.0,
        pdu_b.pk: 2500.0,
    }

    # 3,000 + 3,500 W: each side is within its feed, but either side's loss puts 6,500 W on
    # the other's 5,888 W.
    reading(pdu_a, 3000.0)
    reading(pdu_b, 3500.0)
    data = api.get(f"{API}/racks/{rack.pk}/power/").data
    assert data["over_budget"] is True and data["failover_overload"] is True
    assert all(not f["overloaded"] for s in data["sides"] for f in s["feeds"])


def test_a_pdu_without_totals_is_measured_by_its_outlets(api, rack, pdus):
    pdu_a, _ = pdus
    reading(pdu_a, None)
    Outlet.objects.filter(pdu=pdu_a, number__in=[1, 2]).update(power_w=100.0)
    data = api.get(f"{API}/racks/{rack.pk}/power/").data
    assert {p["pdu"]["id"]: p["power_w"] for p in data["pdus"]}[pdu_a.pk] == 200.0


def test_a_single_sided_rack_has_no_failover(api, site):
    rack = factories.make_rack(site=site, name="R-single")
    feed = factories.make_feed(rack=rack, side="A")
    pdu = factories.make_pdu(rack=rack, name="PDU-1", feed=feed)
    reading(pdu, 6000.0)
    data = api.get(f"{API}/racks/{rack.pk}/power/").data
    assert data["redundant"] is False and data["capacity_w"] == 5888
    assert data["over_budget"] is True and data["failover_overload"] is False
    assert data["sides"][0]["feeds"][0]["overloaded"] is True


def test_the_rack_resource_shows_its_measured_power(api, rack, pdus):
    before = api.get(f"{API}/racks/{rack.pk}/").data["measured_power"]
    assert before["power_w"] is None and before["updated_at"] is None
    reading(pdus[0], 7000.0)
    racks_update([rack.pk])
    measured = api.get(f"{API}/racks/{rack.pk}/").data["measured_power"]
    assert measured["power_w"] == 7000.0 and measured["capacity_w"] == 5888
    assert measured["over_budget"] is True


def test_rack_power_of_a_missing_rack_is_404_and_needs_a_user(api, anon):
    assert api.get(f"{API}/racks/999999/power/").status_code == 404
    assert anon.get(f"{API}/racks/999999/power/").status_code == 401


@pytest.fixture
def events(rack, pdus):
    pdu_a, pdu_b = pdus
    outlet = pdu_a.outlets.get(number=3)
    return {
        "drift": event_record(
            EventKind.DRIFT, "drift", site_id=rack.site_id, rack=rack, pdu=pdu_a, outlet=outlet
        ),
        "down": event_record(EventKind.PDU_DOWN, "down", site_id=rack.site_id, pdu=pdu_b),
        "up": event_record(EventKind.PDU_UP, "up", site_id=rack.site_id, pdu=pdu_b),
    }


def test_events_are_listed_newest_first_and_filtered(api, events, pdus):
    def ids(**params):
        response = api.get(f"{API}/events/", params)
        assert response.status_code == 200, response.data
        return [e["id"] for e in response.data["results"]]

    e = {name: event.pk for name, event in events.items()}
    assert ids() == [e["up"], e["down"], e["drift"]]
    assert ids(kind="drift") == [e["drift"]]
    assert ids(kind=["pdu_down", "pdu_up"]) == [e["up"], e["down"]]
    assert ids(pdu=pdus[1].pk) == [e["up"], e["down"]]
    assert ids(outlet=events["drift"].outlet_id) == [e["drift"]]
    detail = api.get(f"{API}/events/{e['drift']}/").data
    assert detail["kind"] == "drift" and detail["outlet"]["number"] == 3
    assert detail["pdu"]["id"] == pdus[0].pk and detail["command"] is None


@pytest.mark.parametrize("params", [{"knd": "drift"}, {"kind": "flood"}])
def test_bad_event_filters_are_refused(api, events, params):
    response = api.get(f"{API}/events/", params)
    assert response.status_code == 400
    assert list(response.data) == list(params)


def test_events_are_read_only(api, events):
    assert api.post(f"{API}/events/", {"kind": "drift"}, format="json").status_code == 405
    assert api.delete(f"{API}/events/{events['up'].pk}/").status_code == 405
    assert Event.objects.count() == 3


def test_the_schema_documents_telemetry(api):
    schema = api.get(f"{API}/schema/?format=json").json()
    validate(schema)
    assert "get" in schema["paths"][f"{API}/racks/{{id}}/power/"]
    assert "get" in schema["paths"][f"{API}/events/"]
    pdu = schema["components"]["schemas"]["PDU"]["properties"]
    assert "telemetry" in pdu
