"""A small simulated data center for end-to-end tests (real workers, the live server, the CLI,
the browser): two simulated PDUs in a thread, and the inventory wired to them.

``fleet``: PDUs "A" (APC rPDU2) and "B" (Eaton ePDU), 8 outlets each, on loopback ports of
their own, device time 100x faster than real. ``dc``: those PDUs in ``rack`` on its A and B
feeds; web01 (in maintenance, so a reason is all a cycle needs) on outlet 1 of both, at U10;
db01 (active and protected: the guardrails refuse to cut it) on outlet 2 of both, at U20-21;
every outlet on.

The fixtures are in every test (tests/conftest.py); a module may define its own ``fleet``."""

from __future__ import annotations

import pytest

from inventory.choices import HostStatus
from inventory.models import Outlet
from simulators.fleet import FleetSpec, fleet_in_thread
from tests import factories


@pytest.fixture
def fleet():
    spec = FleetSpec.parse(
        {
            "time_scale": 100,
            "defaults": {"outlets": 8, "relay_delay_s": 2},
            "pdus": [
                {"name": "A", "profile": "apc_rpdu2", "host": "127.0.0.1", "port": 0},
                {"name": "B", "profile": "eaton_epdu", "host": "127.0.0.1", "port": 0},
            ],
        }
    )
    with fleet_in_thread(spec) as running:
        yield running


@pytest.fixture
def dc(fleet, site, rack, feeds):
    pdus = {}
    for name, feed, vendor in (("A", feeds[0], "apc_rpdu2"), ("B", feeds[1], "eaton_epdu")):
        host, port = fleet.address(name)
        pdus[name] = factories.make_pdu(
            rack=rack,
            name=name,
            feed=feed,
            vendor_profile=vendor,
            management_host=host,
            management_port=port,
            snmp_write_community="private",
            outlet_count=8,
        )
    web = factories.make_dual_psu_host(
        rack=rack,
        pdu_a=pdus["A"],
        pdu_b=pdus["B"],
        outlet=1,
        name="web01",
        position_u=10,
        status=HostStatus.MAINTENANCE,
    )
    db = factories.make_dual_psu_host(
        rack=rack,
        pdu_a=pdus["A"],
        pdu_b=pdus["B"],
        outlet=2,
        name="db01",
        position_u=20,
        u_height=2,
        status=HostStatus.ACTIVE,
        protected=True,
    )
    Outlet.objects.update(state="on")
    return {"site": site, "rack": rack, "pdus": pdus, "web": web, "db": db}


def received(fleet) -> dict[str, int]:
    """Switching commands each simulated PDU has received so far (its ground truth)."""
    return {name: fleet.ground_truth(name)["commands_received"] for name in ("A", "B")}


def relay_on(fleet, name: str, number: int) -> bool:
    return fleet.ground_truth(name)["outlets"][number - 1]["on"]
