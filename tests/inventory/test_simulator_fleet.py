"""The simulator fleet generated from the inventory answers at the inventory's addresses, with
its credentials, and carries the allocated draw of what is plugged into each outlet."""

import asyncio
import io

import pytest
import yaml
from django.core.management import call_command
from pysnmp.hlapi.v3arch.asyncio import (
    CommunityData,
    ContextData,
    ObjectIdentity,
    ObjectType,
    SnmpEngine,
    UdpTransportTarget,
    get_cmd,
)

from inventory.choices import VendorProfile
from inventory.demo import demo_inventory_load
from inventory.models import PDU
from inventory.simulation import SIMULATOR_PROFILES
from simulators.fleet import FleetSpec, fleet_in_thread
from tests import factories

pytestmark = pytest.mark.django_db

SYS_NAME = "1.3.6.1.2.1.1.5.0"
SYS_OBJECT_ID = "1.3.6.1.2.1.1.2.0"


def fleet_yaml(*args) -> dict:
    out = io.StringIO()
    call_command("simulator_fleet", *args, stdout=out)
    return yaml.safe_load(out.getvalue())


def test_the_demo_fleet_mirrors_the_inventory():
    demo_inventory_load()
    description = fleet_yaml()
    pdus = {p["name"]: p for p in description["pdus"]}
    assert set(pdus) == set(PDU.objects.values_list("name", flat=True))
    apc = pdus["R01-PDU-A"]
    assert (apc["protocol"], apc["profile"]) == ("snmp", "apc_rpdu2")
    assert (apc["host"], apc["port"]) == ("127.0.10.1", 161)
    assert apc["snmp"] == {"read_communities": ["public"], "write_communities": ["private"]}
    assert apc["outlets"] == 24
    # Outlet 2 of each A PDU feeds the rack's database host: 350 W allocated per supply.
    assert apc["loads_w"][1] == 350.0
    assert apc["loads_w"][10:] == [0.0] * 14  # nothing plugged in
    assert {p["profile"] for p in pdus.values()} == {
        "apc_rpdu2",
        "raritan_px",
        "servertech_sentry4",
        "eaton_epdu",
    }
    FleetSpec.parse(description)  # the simulators accept it


def test_three_phase_feeds_and_modbus_pdus(rack):
    feed = factories.make_feed(rack=rack, voltage=400, amperage=16, phase="three")
    factories.make_pdu(
        rack=rack,
        name="MB",
        vendor_profile="modbus_switched_pdu",
        protocol="modbus_tcp",
        modbus_unit_id=7,
        feed=feed,
        outlet_count=8,
    )
    (entry,) = fleet_yaml()["pdus"]
    assert (entry["protocol"], entry["profile"]) == ("modbus", "netio_switched_pdu")
    assert entry["modbus"] == {"unit_id": 7}
    assert entry["port"] == 502
    assert (entry["phases"], entry["nominal_voltage"]) == (3, 231)


def test_every_inventory_vendor_profile_has_a_simulator():
    assert set(SIMULATOR_PROFILES) == set(VendorProfile) - {VendorProfile.AUTO}


@pytest.mark.parametrize(
    ("vendor_profile", "profile", "sys_object_id"),
    [
        ("apc_masterswitch", "apc_masterswitch", "1.3.6.1.4.1.318.1.3.4.2"),
        ("servertech_sentry3", "servertech_sentry3", "1.3.6.1.4.1.1718.3"),
        ("cyberpower_epdu", "cyberpower_epdu", "1.3.6.1.4.1.3808.1.1.3"),
    ],
)
def test_legacy_and_cyberpower_pdus_are_simulated(rack, vendor_profile, profile, sys_object_id):
    factories.make_pdu(rack=rack, name="P", vendor_profile=vendor_profile, outlet_count=8)
    description = fleet_yaml("--port", "0")
    (entry,) = description["pdus"]
    assert (entry["protocol"], entry["profile"]) == ("snmp", profile)
    with fleet_in_thread(FleetSpec.parse(description)) as fleet:
        host, port = fleet.address("P")
        assert asyncio.run(_get(host, port, "public", SYS_OBJECT_ID)) == sys_object_id


def test_pdus_without_a_simulator_are_reported_and_skipped(rack, monkeypatch):
    # Every inventory profile has a simulator now: take one away to see the report.
    monkeypatch.delitem(SIMULATOR_PROFILES, VendorProfile.APC_MASTERSWITCH)
    factories.make_pdu(rack=rack, name="OLD", vendor_profile="apc_masterswitch")
    factories.make_pdu(rack=rack, name="AUTO", vendor_profile="auto")
    err = io.StringIO()
    out = io.StringIO()
    call_command("simulator_fleet", stdout=out, stderr=err)
    names = [p["name"] for p in yaml.safe_load(out.getvalue())["pdus"]]
    assert names == ["AUTO"]  # simulated as --auto-profile (APC rPDU2 by default)
    assert "OLD: no simulator for vendor profile 'apc_masterswitch'" in err.getvalue()


def test_duplicate_pdu_names_are_qualified(site):
    for rack_name in ("R1", "R2"):
        factories.make_pdu(rack=factories.make_rack(site=site, name=rack_name), name="PDU-A")
    names = sorted(p["name"] for p in fleet_yaml()["pdus"])
    assert names == [f"{site.slug}/R1/PDU-A", f"{site.slug}/R2/PDU-A"]


async def _get(host: str, port: int, community: str, oid: str):
    engine = SnmpEngine()
    try:
        target = await UdpTransportTarget.create((host, port), timeout=1, retries=1)
        error, status, _, var_binds = await get_cmd(
            engine,
            CommunityData(community, mpModel=1),
            target,
            ContextData(),
            ObjectType(ObjectIdentity(oid)),
            lookupMib=False,
        )
        assert error is None and not status, (error, status)
        return var_binds[0][1].prettyPrint()
    finally:
        engine.close_dispatcher()


def test_the_generated_fleet_answers_at_the_inventory_addresses(tmp_path):
    demo_inventory_load()
    path = tmp_path / "fleet.yaml"
    # Port 0: the inventory's port 161 may be taken on a shared machine; the addresses stay.
    call_command("simulator_fleet", "--output", str(path), "--port", "0", stdout=io.StringIO())
    with fleet_in_thread(FleetSpec.load(path)) as fleet:
        for pdu in PDU.objects.select_related("rack"):
            host, port = fleet.address(pdu.name)
            assert host == pdu.management_host
            assert asyncio.run(_get(host, port, pdu.snmp_read_community, SYS_NAME)) == pdu.name
        host, port = fleet.address("R02-PDU-B")
        assert asyncio.run(_get(host, port, "public", SYS_OBJECT_ID)) == "1.3.6.1.4.1.13742.6"
