"""Every vendor profile carries out power commands end to end (switch, verify from its own
status object), and commands ride out dropped requests and an agent restart."""

import pytest

from inventory.models import Outlet
from power.choices import CommandStatus, OutletOutcome
from power.execution import ExecutionSettings, execute_command
from power.services import power_command_request
from simulators.fleet import FleetSpec, fleet_in_thread
from tests import factories

pytestmark = pytest.mark.django_db

# inventory vendor profile -> (simulator protocol, simulator profile)
VENDORS = {
    "apc_rpdu2": ("snmp", "apc_rpdu2"),
    "apc_masterswitch": ("snmp", "apc_masterswitch"),
    "raritan_px": ("snmp", "raritan_px"),
    "servertech_sentry4": ("snmp", "servertech_sentry4"),
    "servertech_sentry3": ("snmp", "servertech_sentry3"),
    "eaton_epdu": ("snmp", "eaton_epdu"),
    "cyberpower_epdu": ("snmp", "cyberpower_epdu"),
    "modbus_switched_pdu": ("modbus", "netio_switched_pdu"),
}
CONFIG = ExecutionSettings(
    verify_timeout_s=3,
    poll_interval_s=0.01,
    cycle_off_period_s=0.05,
    retries=3,
    retry_backoff_s=0.1,
    device_timeout_s=0.3,
    power_on_stagger_s=0.0,
)


@pytest.fixture(scope="module")
def fleet():
    spec = FleetSpec.parse(
        {
            "time_scale": 100,
            "defaults": {"outlets": 4, "relay_delay_s": 2, "seed": 7},
            "pdus": [
                {
                    "name": vendor,
                    "protocol": protocol,
                    "profile": profile,
                    "host": f"127.0.3.{index}",
                    "port": 0,
                }
                for index, (vendor, (protocol, profile)) in enumerate(VENDORS.items(), start=1)
            ],
        }
    )
    with fleet_in_thread(spec) as running:
        yield running


@pytest.fixture(autouse=True)
def _restore(fleet):
    yield
    for name in VENDORS:
        fleet.clear(name)
        for number in range(1, 5):
            fleet.switch(name, number, True)


def make_pdu(fleet, rack, vendor):
    host, port = fleet.address(vendor)
    protocol = "modbus_tcp" if VENDORS[vendor][0] == "modbus" else "snmp"
    return factories.make_pdu(
        rack=rack,
        name=vendor,
        vendor_profile=vendor,
        protocol=protocol,
        management_host=host,
        management_port=port,
        snmp_write_community="private",
        outlet_count=4,
    )


def run(admin_user, action, outlets, reason="test"):
    command = power_command_request(
        user=admin_user,
        action=action,
        outlet_ids=[o.pk for o in outlets],
        reason=reason,
        force=True,
    ).command
    return command, execute_command(command.pk, config=CONFIG)


@pytest.mark.parametrize("vendor", sorted(VENDORS))
def test_every_vendor_switches_and_verifies_each_action(fleet, rack, admin_user, vendor):
    pdu = make_pdu(fleet, rack, vendor)
    outlets = list(pdu.outlets.filter(number__in=[2, 3]))
    before = fleet.pdu(vendor).commands_received
    for action, expect_on in (("off", False), ("on", True), ("cycle", True)):
        command, status = run(admin_user, action, outlets)
        assert status == CommandStatus.SUCCEEDED, list(command.outlets.values("error"))
        truth = fleet.ground_truth(vendor)["outlets"]
        assert [truth[n - 1]["on"] for n in (2, 3)] == [expect_on, expect_on]
        assert set(command.outlets.values_list("state_after", flat=True)) == {
            "on" if expect_on else "off"
        }
    # off (2) + on (2) + cycle as off and on (4): every command exactly once per outlet.
    assert fleet.pdu(vendor).commands_received - before == 8
    assert set(
        Outlet.objects.filter(pdu=pdu, number__in=[2, 3]).values_list("state", flat=True)
    ) == {"on"}


def test_a_command_rides_out_dropped_requests(fleet, rack, admin_user):
    pdu = make_pdu(fleet, rack, "apc_rpdu2")
    fleet.inject("apc_rpdu2", drop_fraction=0.3)
    command, status = run(admin_user, "off", list(pdu.outlets.all()))
    assert status == CommandStatus.SUCCEEDED, list(command.outlets.values("error"))
    assert not any(o["on"] for o in fleet.ground_truth("apc_rpdu2")["outlets"])


def test_a_command_rides_out_an_agent_restart_that_keeps_state(fleet, rack, admin_user):
    pdu = make_pdu(fleet, rack, "eaton_epdu")
    fleet.restart("eaton_epdu", keep_state=True, down_for_s=20)  # 0.2 s real: the first tries
    command, status = run(admin_user, "off", list(pdu.outlets.filter(number=1)))
    assert status == CommandStatus.SUCCEEDED, list(command.outlets.values("error"))
    assert not fleet.ground_truth("eaton_epdu")["outlets"][0]["on"]


def test_an_agent_that_stays_down_fails_the_command_with_the_timeout(fleet, rack, admin_user):
    pdu = make_pdu(fleet, rack, "raritan_px")
    fleet.inject("raritan_px", unresponsive=True)
    command, status = run(admin_user, "cycle", list(pdu.outlets.filter(number=1)))
    assert status == CommandStatus.FAILED
    row = command.outlets.get()
    assert row.outcome == OutletOutcome.FAILED
    assert "off failed" in row.error and "no answer" in row.error
    assert "on not accepted" in row.error  # the on half was still tried
