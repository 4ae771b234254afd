"""Polling simulated PDUs of every vendor profile over the wire: the stored readings equal the
simulators' ground truth, an outlet switched behind dcpower's back is drift (once), a dead or
slow PDU neither stalls a round nor goes unnoticed (logged and recorded once when it starts,
once on recovery), and racks are measured against their budget."""

from __future__ import annotations

import time

import pytest

from inventory.models import Outlet
from power.services import power_command_request
from simulators.fleet import FleetSpec, fleet_in_thread
from telemetry.choices import EventKind
from telemetry.models import Event, PduStatus, RackStatus
from telemetry.polling import poll_pdus
from tests import factories
from tests.power.test_drivers_simulators import CASES, NOISE, loads

pytestmark = pytest.mark.django_db

FLEET = {
    "time_scale": 50,
    "defaults": {
        "relay_delay_s": 0,
        "power_factor": 0.95,
        "snmp": {"read_communities": ["public"], "write_communities": ["private"]},
    },
    "pdus": [
        {
            "name": case.name,
            "protocol": case.protocol,
            "profile": case.simulator,
            "host": "127.0.0.1",
            "port": 0,
            "outlets": case.outlets,
            "phases": case.phases,
            "loads_w": loads(case.outlets),
            "nominal_voltage": case.nominal_voltage,
            "seed": 7,
        }
        for case in CASES
    ],
}
WITH_OUTLETS = [case for case in CASES if case.switched]


@pytest.fixture(scope="module")
def fleet():
    with fleet_in_thread(FleetSpec.parse(FLEET)) as running:
        yield running


@pytest.fixture(autouse=True)
def _restore(fleet):
    yield
    for case in CASES:
        fleet.clear(case.name)
        for number in fleet.pdu(case.name).outlets:
            fleet.switch(case.name, number, on=True)


@pytest.fixture
def inventory(fleet, rack, feeds, settings):
    """One inventory PDU per simulated one, at its address, alternately on the A and B feed."""
    settings.TELEMETRY_DEVICE_TIMEOUT_S = 0.3
    settings.TELEMETRY_POLL_BUDGET_S = 2.0
    pdus = {}
    for position, case in enumerate(CASES):
        host, port = fleet.address(case.name)
        pdus[case.vendor] = factories.make_pdu(
            rack=rack,
            name=case.name,
            feed=feeds[position % 2],
            protocol="snmp" if case.protocol == "snmp" else "modbus_tcp",
            vendor_profile=case.vendor,
            management_host=host,
            management_port=port,
            snmp_write_community="private",
            outlet_count=max(case.outlets, 1),
        )
    return pdus


def poll(pdus) -> dict[int, object]:
    return {o.pdu_id: o for o in poll_pdus([pdu.pk for pdu in pdus])}


def truth(fleet, case) -> dict[int, dict]:
    return {o["number"]: o for o in fleet.ground_truth(case.name)["outlets"]}


def close_to(value, expected: float, rounding: float) -> bool:
    return value is not None and abs(value - expected) <= 2 * NOISE * abs(expected) + rounding


def test_one_round_stores_every_vendors_readings(fleet, inventory):
    for case in WITH_OUTLETS:
        fleet.switch(case.name, 2, on=False)
    outcomes = poll(inventory.values())
    assert all(outcome.ok for outcome in outcomes.values()), outcomes
    for case in CASES:
        pdu = inventory[case.vendor]
        status = PduStatus.objects.get(pdu=pdu)
        assert status.up is True and status.last_success_at and status.polls_total == 1
        assert status.readings_at is not None and status.poll_duration_s > 0
        _, _, watts_round, _ = case.total_rounding
        on_watts = sum(o["load_w"] for o in truth(fleet, case).values() if o["on"])
        if watts_round is None:
            assert status.power_w is None, case
        else:
            assert close_to(status.power_w, on_watts, watts_round), (case, status.power_w)
        assert len(status.phases) == (case.phases if case.phase_rounding else 0), case
        if not case.switched:
            continue
        _, outlet_watts_round, _ = case.outlet_rounding
        for outlet in Outlet.objects.filter(pdu=pdu):
            real = truth(fleet, case)[outlet.number]
            assert outlet.state == ("on" if real["on"] else "off"), (case, outlet.number)
            assert outlet.readings_at == status.readings_at
            if outlet_watts_round is None:
                assert outlet.power_w is None
            else:
                expected = real["load_w"] if real["on"] else 0.0
                assert close_to(outlet.power_w, expected, outlet_watts_round), (case, outlet)
    assert not Event.objects.filter(kind=EventKind.DRIFT).exists()  # a first sight is no drift


def test_an_outlet_switched_behind_dcpowers_back_is_drift_once(fleet, inventory):
    case = WITH_OUTLETS[0]
    pdu = inventory[case.vendor]
    poll([pdu])
    fleet.switch(case.name, 3, on=False)  # through the simulator, as at the PDU's web page
    poll([pdu])
    (event,) = Event.objects.filter(kind=EventKind.DRIFT)
    outlet = Outlet.objects.get(pdu=pdu, number=3)
    assert event.outlet == outlet and event.pdu == pdu and event.rack_id == pdu.rack_id
    assert event.data == {"before": "on", "seen": "off"}
    assert "no dcpower command switched it" in event.message
    assert outlet.state == "off"
    poll([pdu])
    assert Event.objects.filter(kind=EventKind.DRIFT).count() == 1  # known now: not again


def test_an_outlet_under_a_command_is_not_drift(fleet, inventory, admin_user):
    case = WITH_OUTLETS[0]
    pdu = inventory[case.vendor]
    poll([pdu])
    outlet = Outlet.objects.get(pdu=pdu, number=4)
    power_command_request(
        user=admin_user, action="off", outlet_ids=[outlet.pk], reason="test", force=True
    )  # pending: not run here
    fleet.switch(case.name, 4, on=False)
    poll([pdu])
    assert not Event.objects.filter(kind=EventKind.DRIFT).exists()
    outlet.refresh_from_db()
    assert outlet.state == "on"  # the command will say; the readings are updated meanwhile
    assert outlet.readings_at == PduStatus.objects.get(pdu=pdu).readings_at


def test_a_dead_and_a_slow_pdu_do_not_stall_a_round(fleet, inventory, settings, caplog):
    dead, slow = WITH_OUTLETS[0], WITH_OUTLETS[1]
    fleet.inject(dead.name, unresponsive=True)
    fleet.inject(slow.name, latency_s=5.0)  # far beyond the budget
    started = time.monotonic()
    outcomes = poll(inventory.values())
    elapsed = time.monotonic() - started
    # Bounded by one PDU's budget (2 s), not the sum of the failures.
    assert elapsed < settings.TELEMETRY_POLL_BUDGET_S + 3, elapsed
    failed = {pdu_id for pdu_id, outcome in outcomes.items() if not outcome.ok}
    assert failed == {inventory[dead.vendor].pk, inventory[slow.vendor].pk}
    for case in CASES:
        status = PduStatus.objects.get(pdu=inventory[case.vendor])
        if case in (dead, slow):
            assert status.up is False and status.down_since and status.last_error
            assert status.poll_errors_total == 1
        else:
            assert status.up is True, (case, status.last_error)
            assert status.poll_duration_s < settings.TELEMETRY_POLL_BUDGET_S
    downs = Event.objects.filter(kind=EventKind.PDU_DOWN)
    assert {e.pdu_id for e in downs} == failed
    assert sum("is down" in r.message for r in caplog.records) == 2

    # Still down: recorded, not announced again.
    caplog.clear()
    poll([inventory[dead.vendor]])
    assert Event.objects.filter(kind=EventKind.PDU_DOWN).count() == 2
    assert not any("is down" in r.message for r in caplog.records)
    status = PduStatus.objects.get(pdu=inventory[dead.vendor])
    assert status.poll_errors_total == 2 and status.polls_total == 2

    fleet.clear(dead.name)
    poll([inventory[dead.vendor]])
    (up,) = Event.objects.filter(kind=EventKind.PDU_UP)
    assert up.pdu == inventory[dead.vendor]
    status = PduStatus.objects.get(pdu=inventory[dead.vendor])
    assert status.up is True and status.down_since is None


def test_rack_power_is_measured_against_its_redundant_capacity(fleet, inventory, rack, feeds):
    poll(inventory.values())
    status = RackStatus.objects.get(rack=rack)
    statuses = PduStatus.objects.filter(pdu__rack=rack)
    measured = sum(
        s.power_w
        if s.power_w is not None
        else sum(o.power_w or 0 for o in Outlet.objects.filter(pdu=s.pdu))
        for s in statuses
    )
    assert status.power_w == pytest.approx(measured)
    # Two feeds of 5,888 W: the redundant capacity is one side's; the fleet draws far more.
    assert status.capacity_w == 5888
    assert status.power_w > 5888
    assert status.over_budget and status.failover_overload
    (event,) = Event.objects.filter(kind=EventKind.RACK_OVER_BUDGET)
    assert event.rack == rack and event.data["capacity_w"] == 5888
    poll(inventory.values())
    assert Event.objects.filter(kind=EventKind.RACK_OVER_BUDGET).count() == 1  # still over
