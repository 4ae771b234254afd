"""Live reads ask the PDU now, through its site's worker, and record what it said."""

import pytest

from inventory.models import Outlet
from power.live import pdu_read_live
from simulators.fleet import FleetSpec, fleet_in_thread
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def fleet():
    spec = FleetSpec.parse(
        {
            "time_scale": 100,
            "defaults": {"outlets": 4, "loads_w": 250},
            "pdus": [{"name": "A", "profile": "servertech_sentry4", "port": 0}],
        }
    )
    with fleet_in_thread(spec) as running:
        yield running


@pytest.fixture
def pdu(fleet, rack):
    host, port = fleet.address("A")
    return factories.make_pdu(
        rack=rack,
        name="A",
        vendor_profile="servertech_sentry4",
        management_host=host,
        management_port=port,
        outlet_count=4,
    )


def test_a_live_read_returns_the_device_state_and_records_it(fleet, pdu):
    fleet.switch("A", 2, False)
    result = pdu_read_live(pdu_id=pdu.pk)
    assert result["error"] is None and result["vendor"] == "servertech_sentry4"
    assert [o["state"] for o in result["outlets"]] == ["on", "off", "on", "on"]
    outlet = Outlet.objects.get(pdu=pdu, number=1)
    assert outlet.state == "on" and outlet.state_seen_at is not None
    assert outlet.power_w == pytest.approx(250, rel=0.02)
    assert Outlet.objects.get(pdu=pdu, number=2).state == "off"


def test_a_dead_pdu_is_an_answer_with_the_error_not_an_exception(fleet, pdu):
    fleet.inject("A", unresponsive=True)
    try:
        result = pdu_read_live(pdu_id=pdu.pk)
    finally:
        fleet.clear("A")
    assert result["error"]["kind"] == "timeout"
    assert Outlet.objects.get(pdu=pdu, number=1).state == "unknown"  # nothing recorded


def test_the_api_says_when_no_worker_answers(api, pdu, settings):
    settings.POWER_LIVE_READ_TIMEOUT_S = 0.3
    response = api.get(f"/api/v1/pdus/{pdu.pk}/live/")
    assert response.status_code == 504
    assert "No worker for site" in response.data["detail"]
    assert api.get("/api/v1/pdus/999999/live/").status_code == 404
