"""Every injectable fault, seen over the wire by a real SNMP client (pysnmp, v2c).

One fleet serves the module, one PDU per scenario so that no test disturbs another; device time
runs x100, so a 0.5 s relay delay takes 5 ms. Status is read from APC's
rPDU2OutletSwitchedStatusState (off 1, on 2) and switched with rPDU2OutletSwitchedControlCommand
(immediateOn 1, immediateOff 2).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from simulators.fleet import Fleet, FleetSpec, fleet_in_thread
from tests.simulators.snmpclient import SYS_NAME, SYS_UPTIME, snmp_get, snmp_gets, snmp_set

TIME_SCALE = 100.0
APC_OUTLET_STATUS = "1.3.6.1.4.1.318.1.1.26.9.2.3.1.5.{}"
APC_OUTLET_CONTROL = "1.3.6.1.4.1.318.1.1.26.9.2.4.1.5.{}"
STATUS_OFF, STATUS_ON = 1, 2
IMMEDIATE_OFF = 2

PDUS = ["LATENCY", "DROP", "DEAD", "STUCK", "REJECT", "RESTART-WARM", "RESTART-COLD", "AUTH"]


@pytest.fixture(scope="module")
def fleet():
    spec = FleetSpec.parse(
        {
            "time_scale": TIME_SCALE,
            "defaults": {
                "profile": "apc_rpdu2",
                "host": "127.0.0.1",
                "port": 0,
                "outlets": 4,
                "relay_delay_s": 0.5,
                "seed": 42,
            },
            "pdus": [{"name": name} for name in PDUS if name != "AUTH"]
            + [
                {
                    "name": "AUTH",
                    "snmp": {"read_communities": ["ro-auth"], "write_communities": ["rw-auth"]},
                }
            ],
        }
    )
    with fleet_in_thread(spec) as running:
        yield running


@pytest.fixture(autouse=True)
def _clear_faults(fleet):
    yield
    for name in PDUS:
        fleet.clear(name)


def status(fleet: Fleet, name: str, outlet: int) -> int:
    return int(snmp_get(fleet.address(name), APC_OUTLET_STATUS.format(outlet)).value)


def wait_for(condition: Callable[[], bool], *, real_seconds: float = 3.0) -> bool:
    deadline = time.monotonic() + real_seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def test_a_healthy_pdu_answers(fleet):
    answer = snmp_get(fleet.address("LATENCY"), SYS_NAME)
    assert answer.ok
    assert str(answer.value) == "LATENCY"


def test_latency_delays_every_answer_by_at_least_the_latency(fleet):
    latency = 0.3
    fleet.inject("LATENCY", latency_s=latency)
    for _ in range(2):
        # The answer comes late, but comes: the upper bound leaves room for a loaded CI
        # machine (once 1.1 s where 0.3 s is usual), well inside the client's timeout.
        answer = snmp_get(fleet.address("LATENCY"), SYS_NAME, timeout=latency + 3.0)
        assert answer.ok
        assert latency <= answer.seconds < latency + 2.0
    fleet.clear("LATENCY")
    assert snmp_get(fleet.address("LATENCY"), SYS_NAME).seconds < latency


def test_drop_fraction_drops_about_that_share_of_requests(fleet):
    fleet.inject("DROP", drop_fraction=0.5)
    answers = snmp_gets(fleet.address("DROP"), SYS_NAME, 40, timeout=0.5)
    timed_out = sum(answer.timed_out for answer in answers)
    assert 10 <= timed_out <= 30  # seeded, but the bounds would hold for most seeds
    answered = [answer for answer in answers if not answer.timed_out]
    assert all(answer.ok and str(answer.value) == "DROP" for answer in answered)

    fleet.clear("DROP")
    answers = snmp_gets(fleet.address("DROP"), SYS_NAME, 10, timeout=0.5)
    assert all(answer.ok for answer in answers)


def test_an_unresponsive_pdu_times_out_until_the_fault_is_cleared(fleet):
    fleet.inject("DEAD", unresponsive=True)
    answer = snmp_get(fleet.address("DEAD"), SYS_NAME, timeout=0.3)
    assert answer.timed_out
    assert 0.3 <= answer.seconds < 1.0
    # A SET is swallowed too, and does nothing.
    assert snmp_set(fleet.address("DEAD"), APC_OUTLET_CONTROL.format(1), 2, timeout=0.3).timed_out
    fleet.clear("DEAD")
    assert str(snmp_get(fleet.address("DEAD"), SYS_NAME).value) == "DEAD"
    assert fleet.ground_truth("DEAD")["outlets"][0]["on"] is True
    assert fleet.ground_truth("DEAD")["commands_received"] == 0


def test_a_stuck_relay_accepts_the_command_and_never_moves(fleet):
    fleet.inject("STUCK", stuck_outlets=[1])
    address = fleet.address("STUCK")
    for outlet in (1, 2):
        answer = snmp_set(address, APC_OUTLET_CONTROL.format(outlet), IMMEDIATE_OFF)
        assert answer.ok, answer
    # Outlet 2 moving shows that the relay delay has passed for outlet 1 too.
    assert wait_for(lambda: status(fleet, "STUCK", 2) == STATUS_OFF)
    time.sleep(5 * 0.5 / TIME_SCALE)  # and five relay delays more
    assert status(fleet, "STUCK", 1) == STATUS_ON
    truth = fleet.ground_truth("STUCK")
    assert truth["commands_received"] == 2
    assert (truth["outlets"][0]["on"], truth["outlets"][0]["pending"]) == (True, None)


def test_a_rejected_command_is_answered_with_gen_err_and_changes_nothing(fleet):
    address = fleet.address("REJECT")
    fleet.inject("REJECT", reject_commands=True)
    answer = snmp_set(address, APC_OUTLET_CONTROL.format(1), IMMEDIATE_OFF)
    assert answer.error_indication is None
    assert answer.error_status == "genErr"
    time.sleep(5 * 0.5 / TIME_SCALE)
    assert status(fleet, "REJECT", 1) == STATUS_ON
    assert fleet.ground_truth("REJECT")["outlets"][0]["pending"] is None

    fleet.clear("REJECT")
    fleet.inject("REJECT", reject_outlets=[2])
    assert snmp_set(address, APC_OUTLET_CONTROL.format(2), IMMEDIATE_OFF).error_status == "genErr"
    assert snmp_set(address, APC_OUTLET_CONTROL.format(3), IMMEDIATE_OFF).ok
    assert wait_for(lambda: status(fleet, "REJECT", 3) == STATUS_OFF)
    assert status(fleet, "REJECT", 2) == STATUS_ON


@pytest.mark.parametrize(
    ("name", "keep_state", "outlet_1_after"),
    [("RESTART-WARM", True, STATUS_OFF), ("RESTART-COLD", False, STATUS_ON)],
)
def test_agent_restart_goes_silent_then_uptime_restarts(fleet, name, keep_state, outlet_1_after):
    address = fleet.address(name)
    assert snmp_set(address, APC_OUTLET_CONTROL.format(1), IMMEDIATE_OFF).ok
    assert wait_for(lambda: status(fleet, name, 1) == STATUS_OFF)
    # Let the agent be up a while (100 device seconds) so that a fresh uptime stands out.
    pdu = fleet.pdu(name)
    assert wait_for(lambda: pdu.uptime_s() >= 100.0, real_seconds=3.0)
    uptime_before = int(snmp_get(address, SYS_UPTIME).value)
    assert uptime_before >= 10000  # hundredths of a second

    # 2 s real: room for one GET to time out (0.3 s) inside it even on a loaded machine (at
    # 0.6 s, CI's GET once went out after the agent was back).
    down_for_s = 200.0
    fleet.restart(name, keep_state=keep_state, down_for_s=down_for_s)
    assert snmp_get(address, SYS_NAME, timeout=0.3).timed_out
    assert fleet.clock.now() < pdu.down_until  # the silence was the restart's, not chance

    time.sleep(max(0.0, (pdu.down_until - fleet.clock.now()) / TIME_SCALE) + 0.02)
    answer = snmp_get(address, SYS_UPTIME)
    assert answer.ok, answer
    uptime_after = int(answer.value)
    # Counted from the end of the down time, not from the first start.
    assert uptime_after <= pdu.uptime_s() * 100 + 1
    assert uptime_after < uptime_before / 2
    assert status(fleet, name, 1) == outlet_1_after
    assert status(fleet, name, 2) == STATUS_ON


def test_a_wrong_community_gets_no_answer(fleet):
    address = fleet.address("AUTH")
    # "public" and "private" are known to the fleet's shared engine (other PDUs use them),
    # but not to this PDU: no answer, like a real agent.
    assert snmp_get(address, SYS_NAME, community="public", timeout=0.3).timed_out
    assert snmp_get(address, SYS_NAME, community="nobody", timeout=0.3).timed_out
    refused = snmp_set(address, APC_OUTLET_CONTROL.format(1), IMMEDIATE_OFF, timeout=0.3)
    assert refused.timed_out
    assert str(snmp_get(address, SYS_NAME, community="ro-auth").value) == "AUTH"
    # A read community may not write.
    read_only = snmp_set(address, APC_OUTLET_CONTROL.format(1), IMMEDIATE_OFF, community="ro-auth")
    assert read_only.error_indication is None
    assert read_only.error_status == "noAccess"
    assert fleet.ground_truth("AUTH")["commands_received"] == 0
    assert snmp_set(address, APC_OUTLET_CONTROL.format(1), IMMEDIATE_OFF, community="rw-auth").ok
    assert fleet.ground_truth("AUTH")["commands_received"] == 1
