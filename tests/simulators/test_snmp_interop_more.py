"""The APC MasterSwitch, ServerTech Sentry3 and CyberPower ePDU profiles speak real SNMP, as seen
by two independent clients: net-snmp's command-line tools and pysnmp's asyncio client (the
client machinery is test_snmp_interop.py's).

As there, the expected OIDs, index shapes, enums and scalings are written here from the vendors'
MIBs, never imported from ``simulators.snmp``:

- PowerNet-MIB 4.6.0, MasterSwitch (``.318.1.1.4``, index outlet): sPDUOutletControlTable
  ``.4.2.1`` {Index 1, sPDUOutletPending 2 (commandPending 1, noCommandPending 2), sPDUOutletCtl
  3 (GET outletOn 1 / outletOff 2; SET 1 on, 2 off, 3 reboot, 5-7 the same after a delay; 4
  outletUnknown is never written), sPDUOutletCtlName 4}; sPDUOutletConfigTable ``.5.2.1``
  {Index 1, PowerOnTime 2, Name 3, PowerOffTime 4, RebootDuration 5: 5, 10, 15, 20, 30, 45 or
  60 s, "a value other than a supported value ... is interpreted as the next lower acceptable
  value"}. No readings: the MasterSwitch meters nothing.
- Sentry3-MIB (``.1718.3``, index tower.infeed.outlet): outletTable ``.2.3.1`` {outletID 2,
  outletName 3, outletStatus 5 (off 0, on 1, offWait 2, onWait 3, ...), outletLoadValue 7
  (hundredth Amps), outletControlAction 11 (none 0, on 1, off 2, reboot 3), outletVoltage 13
  (tenth Volts), outletPower 14 (Watts), outletEnergy 18 (Watt-Hours)}; infeedTable ``.2.2.1``
  {infeedID 2, infeedLoadValue 7 (hundredth Amps), infeedVoltage 11 (tenth Volts), infeedPower
  12 (Watts), infeedEnergy 16 (tenth kWh)}; systemTotalPower ``.1.6.0`` (Watts);
  systemOutletRebootDelay ``.1.14.0`` (5..600 s, for all outlets). Outlets are numbered per
  infeed: the recorded three-phase CDU has outlets 1.1.1-1.1.10, 1.2.1-1.2.10, 1.3.1-1.3.10
  with outletIDs AA1.., AB1.., AC1...
- CPS-MIB 2.11 ePDU (``.3808.1.1.3``, index outlet): ePDUOutletControlOutletCommand
  ``.3.3.1.1.4`` (GET immediateOn 1 / immediateOff 2; SET 1 on, 2 off, 3 reboot, 4-6 delayed,
  7 cancelPendingCommand, 8 outletIdentify); ePDUOutletConfigTable ``.3.4.1.1`` {OutletName 2,
  PowerOnTime 4, PowerOffTime 5 (-1..7200 s), RebootDuration 6 (5..60 s)};
  ePDUOutletStatusTable ``.3.5.1.1`` {OutletName 2, OutletState 4 (on 1, off 2),
  CommandPending 5 (pending 1, none 2), Load 7 (Gauge, tenths of Amps), ActivePower 8 (Gauge,
  watts), Energy 13 (tenths of kWh)}; ePDULoadStatusTable ``.2.3.1.1`` {Load 2 (Gauge, tenths of
  Amps), Voltage 6 (0.1 V), ActivePower 7 (W), Energy 10 (0.1 kWh)}.

One test also compares the simulator with walks of real units (``../shared/reference/
device-recordings/``, read there, never copied): every OID both serve must have the same SNMP
type. The fleet runs at TIME_SCALE device seconds per real second.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pysnmp.hlapi.v3arch.asyncio import (
    CommunityData,
    ContextData,
    ObjectIdentity,
    ObjectType,
    SnmpEngine,
    UdpTransportTarget,
    bulk_walk_cmd,
)
from pysnmp.proto import rfc1902

from simulators.fleet import Fleet, FleetSpec, fleet_in_thread
from tests.simulators.test_snmp_interop import (
    CLIENTS,
    SYS_DESCR,
    SYS_NAME,
    SYS_OBJECT_ID,
    V2C_READ,
    V2C_WRITE,
    V3_READ_PRIV,
    V3_WRITE,
    WALKS,
    Answer,
    Client,
    Meter,
    Missing,
    NetSnmpSession,
    Pending,
    Sample,
    Session,
    Value,
    Varbind,
    poll_until,
    run_session,
    snmp_get,
    snmp_set,
    snmp_walk,
    switch_and_watch,
)

# --- Timing -------------------------------------------------------------------------------

TIME_SCALE = 100.0  # device seconds per real second
RELAY_DELAY_S = 60.0  # device seconds between a switching command and the relay moving
DEFAULT_OFF_S = 10.0  # reboot off period unless set over SNMP
SET_OFF_S = 30  # set over SNMP before a reboot; a value every vendor here accepts as it is
TIMING_SLACK_S = 0.5  # device seconds: readings are frozen for 0.2 s at a time
POLL_INTERVAL_S = 0.004  # real seconds between polls


def device_s(real_seconds: float) -> float:
    return real_seconds * TIME_SCALE


def real_s(device_seconds: float) -> float:
    return device_seconds / TIME_SCALE


# --- Vendor facts, from the MIBs ------------------------------------------------------------

SPDU = "1.3.6.1.4.1.318.1.1.4"  # PowerNet-MIB masterswitch
SENTRY3 = "1.3.6.1.4.1.1718.3"  # Sentry3-MIB
CPS = "1.3.6.1.4.1.3808.1.1.3"  # CPS-MIB ePDU

OUTLETS = 6
LOADS_W = [120.0, 250.0, 380.0, 510.0, 640.0, 770.0]  # distinct, so a wrong index shows
POWER_FACTOR = 0.9
NOMINAL_V = 230.0
SENTRY3_INFEEDS = 3  # one per phase, as on the recorded three-phase CDU
# Six outlets on three infeeds, numbered per infeed (tower 1).
SENTRY3_INDEX = {1: "1.1.1", 2: "1.1.2", 3: "1.2.1", 4: "1.2.2", 5: "1.3.1", 6: "1.3.2"}
SENTRY3_OUTLET_IDS = {1: "AA1", 2: "AA2", 3: "AB1", 4: "AB2", 5: "AC1", 6: "AC2"}


@dataclass(frozen=True)
class Vendor:
    profile: str
    pdu: str  # its name in the fleet
    phases: int
    sys_object_id: str
    sys_descr: str
    enterprise: str
    index: dict[int, str]  # outlet number -> its index in the vendor's outlet tables
    status_column: str
    on: int  # status when the relay is on and nothing is pending
    off: int
    relay_on_values: frozenset[int]  # status values meaning "the relay is on now"
    control_column: str  # the switching command
    commands: dict[str, int]  # "on" / "off" / "reboot" -> the value to SET
    invalid_commands: tuple[int, ...]  # refused with wrongValue
    pending: Pending | None
    off_period_column: str | None  # the per-outlet reboot off period (seconds) ...
    off_period_scalar: str | None = None  # ... or the unit-wide one
    # {phase: its outlets} -> the readings to check
    meters: Callable[[dict[int, tuple[int, ...]]], list[Meter]] = lambda phases: []

    def oid(self, column: str, outlet: int) -> str:
        return f"{column}.{self.index[outlet]}"

    def status(self, outlet: int) -> str:
        return self.oid(self.status_column, outlet)

    def control(self, outlet: int) -> str:
        return self.oid(self.control_column, outlet)

    def pending_oid(self, outlet: int) -> str:
        assert self.pending is not None
        return self.oid(self.pending.column, outlet)

    def off_period(self, outlet: int) -> str:
        if self.off_period_column is not None:
            return self.oid(self.off_period_column, outlet)
        assert self.off_period_scalar is not None
        return self.off_period_scalar


def sentry3_meters(phases: dict[int, tuple[int, ...]]) -> list[Meter]:
    meters = []
    for n in range(1, OUTLETS + 1):
        row = SENTRY3_INDEX[n]
        meters += [
            Meter(f"{SENTRY3}.2.3.1.7.{row}", "current", 0.01, (n,)),  # hundredth Amps
            Meter(f"{SENTRY3}.2.3.1.13.{row}", "voltage", 0.1, (n,)),  # tenth Volts
            Meter(f"{SENTRY3}.2.3.1.14.{row}", "power", 1.0, (n,)),  # Watts
            Meter(f"{SENTRY3}.2.3.1.18.{row}", "energy", 1.0, (n,)),  # Watt-Hours
        ]
    for infeed, members in phases.items():
        row = f"1.{infeed}"  # tower.infeed
        meters += [
            Meter(f"{SENTRY3}.2.2.1.7.{row}", "current", 0.01, members, total=True),
            Meter(f"{SENTRY3}.2.2.1.11.{row}", "voltage", 0.1, members, total=True),
            Meter(f"{SENTRY3}.2.2.1.12.{row}", "power", 1.0, members, total=True),
            Meter(f"{SENTRY3}.2.2.1.16.{row}", "energy", 100.0, members, total=True),
        ]
    every = tuple(range(1, OUTLETS + 1))
    meters.append(Meter(f"{SENTRY3}.1.6.0", "power", 1.0, every, total=True))  # systemTotalPower
    return meters


def cyberpower_meters(phases: dict[int, tuple[int, ...]]) -> list[Meter]:
    meters = []
    for n in range(1, OUTLETS + 1):
        meters += [
            Meter(f"{CPS}.3.5.1.1.7.{n}", "current", 0.1, (n,)),  # tenths of Amps
            Meter(f"{CPS}.3.5.1.1.8.{n}", "power", 1.0, (n,)),  # watts
            Meter(f"{CPS}.3.5.1.1.13.{n}", "energy", 100.0, (n,)),  # tenths of kWh
        ]
    for phase, members in phases.items():
        meters += [  # ePDULoadStatusTable row of the phase
            Meter(f"{CPS}.2.3.1.1.2.{phase}", "current", 0.1, members, total=True),
            Meter(f"{CPS}.2.3.1.1.6.{phase}", "voltage", 0.1, members, total=True),
            Meter(f"{CPS}.2.3.1.1.7.{phase}", "power", 1.0, members, total=True),
            Meter(f"{CPS}.2.3.1.1.10.{phase}", "energy", 100.0, members, total=True),
        ]
    return meters


VENDORS = {
    "apc_masterswitch": Vendor(
        profile="apc_masterswitch",
        pdu="APC-MS-1",
        phases=1,
        sys_object_id="1.3.6.1.4.1.318.1.3.4.2",  # the recorded AP9606
        sys_descr="APC Web/SNMP Management Card",
        enterprise="1.3.6.1.4.1.318",
        index={n: str(n) for n in range(1, OUTLETS + 1)},
        status_column=f"{SPDU}.4.2.1.3",  # sPDUOutletCtl reads outletOn 1 / outletOff 2
        on=1,
        off=2,
        relay_on_values=frozenset({1}),
        control_column=f"{SPDU}.4.2.1.3",
        commands={"on": 1, "off": 2, "reboot": 3},
        invalid_commands=(4, 8, 0),  # outletUnknown is read only; no cancel as on rPDU2
        # sPDUOutletPending: commandPending 1, noCommandPending 2
        pending=Pending(f"{SPDU}.4.2.1.2", going_off=1, going_on=1, idle_on=2, idle_off=2),
        off_period_column=f"{SPDU}.5.2.1.5",  # sPDUOutletRebootDuration
    ),
    "servertech_sentry3": Vendor(
        profile="servertech_sentry3",
        pdu="SENTRY3-1",
        phases=SENTRY3_INFEEDS,
        sys_object_id="1.3.6.1.4.1.1718.3",
        sys_descr="Sentry Switched CDU",
        enterprise="1.3.6.1.4.1.1718",
        index=SENTRY3_INDEX,
        status_column=f"{SENTRY3}.2.3.1.5",  # outletStatus
        on=1,
        off=0,
        relay_on_values=frozenset({1, 2}),  # offWait: still on, will go off
        control_column=f"{SENTRY3}.2.3.1.11",  # outletControlAction
        commands={"on": 1, "off": 2, "reboot": 3},
        invalid_commands=(4, -1),
        # outletStatus itself: offWait 2 (still on), onWait 3 (still off)
        pending=Pending(f"{SENTRY3}.2.3.1.5", going_off=2, going_on=3, idle_on=1, idle_off=0),
        off_period_column=None,
        off_period_scalar=f"{SENTRY3}.1.14.0",  # systemOutletRebootDelay, for all outlets
        meters=sentry3_meters,
    ),
    "cyberpower_epdu": Vendor(
        profile="cyberpower_epdu",
        pdu="CPS-EPDU-1",
        phases=1,
        sys_object_id="1.3.6.1.4.1.3808.1.1.3",
        sys_descr="CPS Power Distributed Unit",
        enterprise="1.3.6.1.4.1.3808",
        index={n: str(n) for n in range(1, OUTLETS + 1)},
        status_column=f"{CPS}.3.5.1.1.4",  # ePDUOutletStatusOutletState
        on=1,
        off=2,
        relay_on_values=frozenset({1}),
        control_column=f"{CPS}.3.3.1.1.4",  # ePDUOutletControlOutletCommand
        commands={"on": 1, "off": 2, "reboot": 3},
        invalid_commands=(0, 9),
        # ePDUOutletStatusCommandPending: pending 1, none 2
        pending=Pending(f"{CPS}.3.5.1.1.5", going_off=1, going_on=1, idle_on=2, idle_off=2),
        off_period_column=f"{CPS}.3.4.1.1.6",  # ePDUOutletConfigRebootDuration
        meters=cyberpower_meters,
    ),
}
PROFILES = list(VENDORS)
METERED = [p for p in PROFILES if p != "apc_masterswitch"]

# --- The fleet ------------------------------------------------------------------------------

READ_ONLY = [V2C_READ, V3_READ_PRIV]


def fleet_description() -> dict:
    snmp = {
        "read_communities": ["public"],
        "write_communities": ["private"],
        "v3_users": [V3_READ_PRIV.fleet_user(), V3_WRITE.fleet_user()],
    }
    return {
        "time_scale": TIME_SCALE,
        "defaults": {
            "outlets": OUTLETS,
            "loads_w": LOADS_W,
            "power_factor": POWER_FACTOR,
            "nominal_voltage": NOMINAL_V,
            "relay_delay_s": RELAY_DELAY_S,
            "reboot_off_s": DEFAULT_OFF_S,
        },
        "pdus": [
            {
                "name": vendor.pdu,
                "profile": vendor.profile,
                "host": f"127.0.0.{51 + i}",
                "phases": vendor.phases,
                "snmp": snmp,
            }
            for i, vendor in enumerate(VENDORS.values())
        ],
    }


@pytest.fixture(scope="module", autouse=True)
def _netsnmp_home(tmp_path_factory):
    """net-snmp reads no host or user configuration and writes its state in a temp dir."""
    home = tmp_path_factory.mktemp("net-snmp")
    NetSnmpSession.env = {**os.environ, "SNMPCONFPATH": str(home), "SNMP_PERSISTENT_DIR": str(home)}
    yield
    NetSnmpSession.env = {}


@pytest.fixture(scope="module")
def fleet() -> Iterator[Fleet]:
    with fleet_in_thread(FleetSpec.parse(fleet_description())) as running:
        yield running


@pytest.fixture
def address(fleet):
    """The address of one vendor's PDU: ``address(vendor)``."""
    return lambda vendor: fleet.address(vendor.pdu)


def all_on(fleet: Fleet, vendor: Vendor) -> None:
    """Every relay on, nothing pending: a known state to start from."""
    for n in range(1, OUTLETS + 1):
        fleet.switch(vendor.pdu, n, True)


def outlet_truth(fleet: Fleet, vendor: Vendor, outlet: int) -> dict:
    return fleet.ground_truth(vendor.pdu)["outlets"][outlet - 1]


def oid_key(oid: str) -> tuple[int, ...]:
    return tuple(int(part) for part in oid.split("."))


def command(vendor: Vendor, outlet: int, action: str) -> Varbind:
    return (vendor.control(outlet), "i", vendor.commands[action])


# --- System group -----------------------------------------------------------------------------


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize("profile", PROFILES)
def test_system_group_identifies_the_vendor(client, profile, address):
    vendor = VENDORS[profile]
    answer = snmp_get(client, address(vendor), V2C_READ, SYS_DESCR, SYS_OBJECT_ID, SYS_NAME)
    assert answer[SYS_DESCR].startswith(vendor.sys_descr)
    assert answer[SYS_OBJECT_ID] == vendor.sys_object_id
    assert answer[SYS_NAME] == vendor.pdu


# --- Outlet status walks ----------------------------------------------------------------------


@pytest.mark.parametrize(("client", "bulk"), WALKS)
@pytest.mark.parametrize("profile", PROFILES)
def test_walk_of_outlet_status_has_one_row_per_outlet_in_vendor_shape_and_enum(
    client, bulk, profile, fleet, address
):
    vendor = VENDORS[profile]
    patterns = [
        {n: n % 3 != 2 for n in range(1, OUTLETS + 1)},  # 2 and 5 off
        {n: n % 3 == 2 for n in range(1, OUTLETS + 1)},  # only 2 and 5 on
    ]

    async def walk_each_pattern(snmp: Session) -> list[tuple[Answer, dict]]:
        walks = []
        for pattern in patterns:
            for n, on in pattern.items():
                fleet.switch(vendor.pdu, n, on)
            answer = (await snmp.walk(vendor.status_column, bulk=bulk)).ok()
            walks.append((answer, fleet.ground_truth(vendor.pdu)))
        return walks

    walks = run_session(client, address(vendor), V2C_READ, walk_each_pattern)
    for pattern, (answer, truth) in zip(patterns, walks, strict=True):
        expected = {vendor.status(n): vendor.on if on else vendor.off for n, on in pattern.items()}
        assert answer.rows == sorted(expected.items(), key=lambda row: oid_key(row[0]))
        assert {o["number"]: o["on"] for o in truth["outlets"]} == pattern


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize("profile", ["apc_masterswitch", "cyberpower_epdu"])
def test_control_object_reads_back_the_relay_state(client, profile, fleet, address):
    """Ironic and MAAS read the control OID back: sPDUOutletCtl and
    ePDUOutletControlOutletCommand answer immediateOn 1 / immediateOff 2."""
    vendor = VENDORS[profile]
    for n in range(1, OUTLETS + 1):
        fleet.switch(vendor.pdu, n, n != 4)
    oids = [vendor.control(n) for n in range(1, OUTLETS + 1)]
    answer = snmp_get(client, address(vendor), V2C_READ, *oids)
    assert [answer[oid] for oid in oids] == [1, 1, 1, 2, 1, 1]
    all_on(fleet, vendor)


@pytest.mark.parametrize("client", CLIENTS)
def test_sentry3_ids_follow_tower_infeed_outlet(client, fleet, address):
    vendor = VENDORS["servertech_sentry3"]
    truth = fleet.ground_truth(vendor.pdu)
    # The model puts consecutive outlets on each phase; each phase is an infeed.
    assert {o["number"]: o["phase"] for o in truth["outlets"]} == {
        n: int(SENTRY3_INDEX[n].split(".")[1]) for n in range(1, OUTLETS + 1)
    }
    ids = snmp_walk(client, address(vendor), V2C_READ, f"{SENTRY3}.2.3.1.2").ok()
    assert ids.rows == [
        (f"{SENTRY3}.2.3.1.2.{SENTRY3_INDEX[n]}", SENTRY3_OUTLET_IDS[n])
        for n in range(1, OUTLETS + 1)
    ]
    infeeds = snmp_walk(client, address(vendor), V2C_READ, f"{SENTRY3}.2.2.1.2").ok()
    assert infeeds.rows == [(f"{SENTRY3}.2.2.1.2.1.{i}", f"A{x}") for i, x in enumerate("ABC", 1)]


# --- Switching over the wire ------------------------------------------------------------------


async def command_and_watch(
    snmp: Session, fleet: Fleet, vendor: Vendor, outlet: int, action: str
) -> tuple[float, float, list[Sample]]:
    """Send one switching command and poll the status (and pending) objects until the relay has
    reached its final state. Returns the command's send and receive times and the samples."""
    status = vendor.status(outlet)
    watched = [status]
    if vendor.pending is not None and vendor.pending.column != vendor.status_column:
        watched.append(vendor.pending_oid(outlet))
    return await switch_and_watch(
        snmp,
        command(vendor, outlet, action),
        action,
        status=status,
        watched=watched,
        relay_on_values=vendor.relay_on_values,
        final_value=vendor.off if action == "off" else vendor.on,
        truth=lambda: outlet_truth(fleet, vendor, outlet),
        within_s=real_s(RELAY_DELAY_S + SET_OFF_S + DEFAULT_OFF_S) + 3,
        shortest_off_s=real_s(min(SET_OFF_S, DEFAULT_OFF_S)),
        interval_s=POLL_INTERVAL_S,
    )


def relay_on(vendor: Vendor, sample: Sample, outlet: int) -> bool:
    return sample.values[vendor.status(outlet)] in vendor.relay_on_values


def check_relay_delay(
    vendor: Vendor, outlet: int, sent: float, received: float, samples: list[Sample], was_on: bool
) -> int:
    """The relay kept its state for the relay delay after the command, then moved; meanwhile the
    vendor's pending representation showed. Returns the index of the first sample after the
    move."""
    moved = next(i for i, s in enumerate(samples) if relay_on(vendor, s, outlet) is not was_on)
    assert moved > 0, "the first poll after the command already saw the relay moved"
    assert device_s(samples[moved].received - sent) >= RELAY_DELAY_S - TIMING_SLACK_S
    assert device_s(samples[moved - 1].sent - received) <= RELAY_DELAY_S + TIMING_SLACK_S
    if vendor.pending is not None:
        going = vendor.pending.going_on if not was_on else vendor.pending.going_off
        pending = vendor.pending_oid(outlet)
        assert {s.values[pending] for s in samples[:moved]} == {going}
    return moved


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize("profile", PROFILES)
def test_switching_off_on_and_reboot_over_the_wire(client, profile, fleet, address):
    vendor = VENDORS[profile]
    outlet = 3 if client is Client.NETSNMP else 4
    all_on(fleet, vendor)

    async def scenario(snmp: Session) -> None:
        # Off, then on: each only after the relay delay, pending meanwhile.
        for action, was_on in (("off", True), ("on", False)):
            sent, received, samples = await command_and_watch(snmp, fleet, vendor, outlet, action)
            check_relay_delay(vendor, outlet, sent, received, samples, was_on)
            truth = outlet_truth(fleet, vendor, outlet)
            assert (truth["on"], truth["pending"]) == (not was_on, None)
            if vendor.pending is not None:
                idle = vendor.pending.idle_on if not was_on else vendor.pending.idle_off
                assert samples[-1].values[vendor.pending_oid(outlet)] == idle

        # Reboot: off after the relay delay, on again after the off period set over SNMP.
        period_oid = vendor.off_period(outlet)
        (await snmp.set((period_oid, "i", SET_OFF_S))).ok()
        assert (await snmp.get(period_oid))[period_oid] == SET_OFF_S
        sent, received, samples = await command_and_watch(snmp, fleet, vendor, outlet, "reboot")
        went_off = check_relay_delay(vendor, outlet, sent, received, samples, was_on=True)
        back_on = next(
            i for i in range(went_off, len(samples)) if relay_on(vendor, samples[i], outlet)
        )
        shortest = device_s(samples[back_on - 1].sent - samples[went_off].received)
        longest = device_s(samples[back_on].received - samples[went_off - 1].sent)
        assert shortest - TIMING_SLACK_S <= SET_OFF_S <= longest + TIMING_SLACK_S
        if vendor.pending is not None:
            while_off = {s.values[vendor.pending_oid(outlet)] for s in samples[went_off:back_on]}
            assert while_off == {vendor.pending.going_on}
        truth = outlet_truth(fleet, vendor, outlet)
        assert (truth["on"], truth["pending"]) == (True, None)

    run_session(client, address(vendor), V2C_WRITE, scenario)


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize(
    ("profile", "delay_oid", "delayed_off"),
    [
        ("apc_masterswitch", f"{SPDU}.5.2.1.4", 6),  # sPDUOutletPowerOffTime, outletOffWithDelay
        ("cyberpower_epdu", f"{CPS}.3.4.1.1.5", 5),  # ePDUOutletConfigPowerOffTime, delayedOff
    ],
    ids=["apc_masterswitch", "cyberpower_epdu"],
)
def test_delayed_off_waits_for_the_power_off_time(
    client, profile, delay_oid, delayed_off, fleet, address
):
    vendor = VENDORS[profile]
    outlet = 5
    all_on(fleet, vendor)
    delay = 30  # an allowed sPDUOutletPowerOffTime value; within CyberPower's -1..7200

    async def scenario(snmp: Session) -> tuple[float, float, list[Sample]]:
        (await snmp.set((f"{delay_oid}.{outlet}", "i", delay))).ok()
        assert (await snmp.get(f"{delay_oid}.{outlet}"))[f"{delay_oid}.{outlet}"] == delay
        sent = time.monotonic()
        (await snmp.set((vendor.control(outlet), "i", delayed_off))).ok()
        received = time.monotonic()
        samples = await poll_until(
            snmp,
            [vendor.status(outlet), vendor.pending_oid(outlet)],
            lambda values: values[vendor.status(outlet)] == vendor.off,
            within_s=real_s(delay + RELAY_DELAY_S) + 3,
            interval_s=POLL_INTERVAL_S,
        )
        return sent, received, samples

    sent, received, samples = run_session(client, address(vendor), V2C_WRITE, scenario)
    moved = len(samples) - 1
    assert moved > 0
    assert device_s(samples[moved].received - sent) >= delay + RELAY_DELAY_S - TIMING_SLACK_S
    assert device_s(samples[moved - 1].sent - received) <= delay + RELAY_DELAY_S + TIMING_SLACK_S
    assert {s.values[vendor.pending_oid(outlet)] for s in samples[:moved]} == {1}
    snmp_set(client, address(vendor), V2C_WRITE, (f"{delay_oid}.{outlet}", "i", 0))
    all_on(fleet, vendor)


@pytest.mark.parametrize("client", CLIENTS)
def test_cyberpower_cancel_pending_command(client, fleet, address):
    vendor = VENDORS["cyberpower_epdu"]
    outlet = 2
    all_on(fleet, vendor)
    off_time = f"{CPS}.3.4.1.1.5.{outlet}"  # ePDUOutletConfigPowerOffTime
    pending, status = vendor.pending_oid(outlet), vendor.status(outlet)

    async def scenario(snmp: Session) -> None:
        (await snmp.set((off_time, "i", 7200))).ok()
        (await snmp.set((vendor.control(outlet), "i", 5))).ok()  # delayedOff: in 2 hours
        assert (await snmp.get(pending))[pending] == 1
        (await snmp.set((vendor.control(outlet), "i", 7))).ok()  # cancelPendingCommand
        answer = await snmp.get(pending, status)
        assert (answer[pending], answer[status]) == (2, vendor.on)
        assert outlet_truth(fleet, vendor, outlet)["pending"] is None
        # outletIdentify (8) shows the outlet number on the PDU's display: no relay moves.
        (await snmp.set((vendor.control(outlet), "i", 8))).ok()
        assert outlet_truth(fleet, vendor, outlet)["pending"] is None
        (await snmp.set((off_time, "i", 0))).ok()

    run_session(client, address(vendor), V2C_WRITE, scenario)


# --- Off periods ------------------------------------------------------------------------------


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize(
    ("profile", "outside"),
    [("servertech_sentry3", (4, 601)), ("cyberpower_epdu", (4, 61))],
)
def test_off_period_outside_the_mib_range_is_wrong_value(client, profile, outside, address):
    vendor = VENDORS[profile]
    period_oid = vendor.off_period(1)
    before = snmp_get(client, address(vendor), V2C_READ, period_oid)[period_oid]
    for value in outside:
        answer = snmp_set(client, address(vendor), V2C_WRITE, (period_oid, "i", value))
        assert (answer.error, answer.error_index) == ("wrongValue", 1), answer.detail
    assert snmp_get(client, address(vendor), V2C_READ, period_oid)[period_oid] == before


@pytest.mark.parametrize("client", CLIENTS)
def test_masterswitch_reboot_duration_takes_the_next_lower_allowed_value(client, address):
    """PowerNet-MIB: an unsupported sPDUOutletRebootDuration is read as the next lower allowed
    one (5, 10, 15, 20, 30, 45, 60), or the lowest; the SET succeeds."""
    vendor = VENDORS["apc_masterswitch"]
    period_oid = vendor.off_period(6)
    asked = {31: 30, 3: 5, 100: 60, 14: 10, 45: 45, -1: 5}

    async def set_and_read(snmp: Session) -> dict[int, Value]:
        kept = {}
        for value in asked:
            (await snmp.set((period_oid, "i", value))).ok()
            kept[value] = (await snmp.get(period_oid))[period_oid]
        return kept

    assert run_session(client, address(vendor), V2C_WRITE, set_and_read) == asked


# --- Readings -----------------------------------------------------------------------------------


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize("profile", METERED)
def test_readings_in_vendor_scaling_match_the_model(client, profile, fleet, address):
    vendor = VENDORS[profile]
    pdu = fleet.pdu(vendor.pdu)
    off_outlets = {2, 5}
    for n in range(1, OUTLETS + 1):
        fleet.switch(vendor.pdu, n, n not in off_outlets)
    # Energy counters large enough that every vendor's unit (up to 100 Wh) resolves them.
    pdu.reset_energy()
    for n in range(1, OUTLETS + 1):
        pdu.outlet(n).energy_wh = 10_000.0 * n + 1234.5
    before = fleet.ground_truth(vendor.pdu)

    phases: dict[int, list[int]] = {}
    for outlet in before["outlets"]:
        phases.setdefault(outlet["phase"], []).append(outlet["number"])
    assert len(phases) == vendor.phases
    meters = vendor.meters({p: tuple(m) for p, m in phases.items()})
    answer = snmp_get(client, address(vendor), V2C_READ, *[m.oid for m in meters])
    after = fleet.ground_truth(vendor.pdu)

    decoded = {m.oid: answer[m.oid] * m.unit for m in meters}
    noise = pdu.noise_fraction
    for meter in meters:
        value, half_unit = decoded[meter.oid], meter.unit / 2
        what = f"{meter.quantity} {meter.oid} = {value}"
        if meter.quantity == "voltage":
            assert abs(value - NOMINAL_V) <= NOMINAL_V * noise + half_unit, what
        elif not meter.total:
            n = meter.outlets[0]
            load = LOADS_W[n - 1] if n not in off_outlets else 0.0
            if meter.quantity == "power":
                assert abs(value - load) <= load * noise + half_unit, what
            elif meter.quantity == "current":  # I = P / PF / U, both P and U noisy
                amps = load / POWER_FACTOR / NOMINAL_V
                assert abs(value - amps) <= amps * (2.1 * noise) + half_unit, what
            else:
                low = before["outlets"][n - 1]["energy_wh"] - half_unit
                high = after["outlets"][n - 1]["energy_wh"] + half_unit
                assert low <= value <= high, what
        else:  # an infeed, phase or unit total: the sum of its outlets in the same request
            members = [
                m
                for m in meters
                if not m.total and m.quantity == meter.quantity and m.outlets[0] in meter.outlets
            ]
            assert len(members) == len(meter.outlets)
            total = sum(decoded[m.oid] for m in members)
            rounding = half_unit + sum(m.unit / 2 for m in members)
            assert abs(value - total) <= rounding + 1e-9, f"{what}, outlets sum to {total}"
    assert {"current", "power", "energy"} <= {m.quantity for m in meters}


@pytest.mark.parametrize("client", CLIENTS)
def test_masterswitch_serves_no_readings(client, address):
    """The MasterSwitch meters nothing; rPDULoadStatusLoad belongs to the later Rack PDU."""
    vendor = VENDORS["apc_masterswitch"]
    rpdu_load = "1.3.6.1.4.1.318.1.1.12.2.3.1.1.2.1"
    answer = snmp_get(client, address(vendor), V2C_READ, rpdu_load)
    assert answer[rpdu_load] is Missing.NO_SUCH_OBJECT


# --- Errors and credentials ---------------------------------------------------------------------


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize("profile", PROFILES)
def test_set_of_a_command_outside_the_enum_is_wrong_value(client, profile, fleet, address):
    vendor = VENDORS[profile]
    commands = fleet.ground_truth(vendor.pdu)["commands_received"]
    for value in vendor.invalid_commands:
        answer = snmp_set(client, address(vendor), V2C_WRITE, (vendor.control(1), "i", value))
        assert (answer.error, answer.error_index) == ("wrongValue", 1), (value, answer)
    assert fleet.ground_truth(vendor.pdu)["commands_received"] == commands


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize("profile", PROFILES)
def test_set_with_one_bad_varbind_applies_none_of_them(client, profile, fleet, address):
    """RFC 3416 4.2.5: every varbind is checked before any is applied."""
    vendor = VENDORS[profile]
    all_on(fleet, vendor)
    commands = fleet.ground_truth(vendor.pdu)["commands_received"]
    answer = snmp_set(
        client,
        address(vendor),
        V2C_WRITE,
        command(vendor, 1, "off"),
        (vendor.control(2), "i", vendor.invalid_commands[0]),
    )
    assert (answer.error, answer.error_index) == ("wrongValue", 2), answer
    truth = fleet.ground_truth(vendor.pdu)
    assert truth["commands_received"] == commands
    assert (truth["outlets"][0]["on"], truth["outlets"][0]["pending"]) == (True, None)


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize("credential", READ_ONLY, ids=lambda c: c.community or c.user)
@pytest.mark.parametrize("profile", PROFILES)
def test_read_only_credentials_can_never_set(client, credential, profile, fleet, address):
    vendor = VENDORS[profile]
    all_on(fleet, vendor)
    commands = fleet.ground_truth(vendor.pdu)["commands_received"]
    for varbind in (command(vendor, 1, "off"), (vendor.off_period(1), "i", SET_OFF_S)):
        answer = snmp_set(client, address(vendor), credential, varbind)
        assert answer.error in ("noAccess", "notWritable", "authorizationError"), answer
        assert answer.error_index == 1
    truth = fleet.ground_truth(vendor.pdu)
    assert truth["commands_received"] == commands
    assert (truth["outlets"][0]["on"], truth["outlets"][0]["pending"]) == (True, None)
    # The write credential is accepted, and the read-only one still reads.
    assert snmp_set(client, address(vendor), V2C_WRITE, command(vendor, 1, "on")).error is None
    assert snmp_get(client, address(vendor), credential, SYS_NAME)[SYS_NAME] == vendor.pdu


# --- Names --------------------------------------------------------------------------------------

# (writable name object, the read-only objects that show it) for outlet 3
NAMES = {
    "apc_masterswitch": (f"{SPDU}.5.2.1.3.3", [f"{SPDU}.4.2.1.4.3"]),  # sPDUOutletName/CtlName
    "servertech_sentry3": (f"{SENTRY3}.2.3.1.3.{SENTRY3_INDEX[3]}", []),  # outletName
    "cyberpower_epdu": (  # ePDUOutletConfigOutletName; Control- and StatusOutletName
        f"{CPS}.3.4.1.1.2.3",
        [f"{CPS}.3.3.1.1.2.3", f"{CPS}.3.5.1.1.2.3"],
    ),
}


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize("profile", PROFILES)
def test_outlet_name_written_over_snmp_shows_everywhere(client, profile, address):
    vendor = VENDORS[profile]
    writable, shown_in = NAMES[profile]
    name = f"web-{client.value}"
    snmp_set(client, address(vendor), V2C_WRITE, (writable, "s", name)).ok()
    answer = snmp_get(client, address(vendor), V2C_READ, writable, *shown_in)
    assert [answer[oid] for oid in (writable, *shown_in)] == [name] * (1 + len(shown_in))
    for oid in shown_in:  # the informational copies are read-only
        refused = snmp_set(client, address(vendor), V2C_WRITE, (oid, "s", "x"))
        assert (refused.error, refused.error_index) == ("notWritable", 1), refused
    if profile == "apc_masterswitch":  # sPDUOutletName: "Maximum size is 20 characters."
        too_long = snmp_set(client, address(vendor), V2C_WRITE, (writable, "s", "n" * 21))
        assert too_long.error == "wrongValue", too_long


# --- Against the recorded walks of real units ---------------------------------------------------

RECORDINGS = Path(__file__).resolve().parents[3] / "shared" / "reference" / "device-recordings"
SNMPREC_TYPES = {  # snmprec type code -> the pysnmp type answering it
    "2": rfc1902.Integer32,
    "4": rfc1902.OctetString,
    "4x": rfc1902.OctetString,
    "6": rfc1902.ObjectIdentifier,
    "65": rfc1902.Counter32,
    "66": rfc1902.Gauge32,
    "67": rfc1902.TimeTicks,
}
# profile -> (recording, OIDs both must serve: the tables the profile exists for)
RECORDED = {
    "apc_masterswitch": (
        "librenms__apc_masterswitch2.snmprec",
        [f"{SPDU}.4.2.1.{c}.1" for c in (1, 2, 3, 4)],
    ),
    "servertech_sentry3": (
        "librenms__sentry3_switched.snmprec",
        [f"{SENTRY3}.2.3.1.{c}.1.2.1" for c in (2, 3, 7)]
        + [f"{SENTRY3}.2.2.1.{c}.1.3" for c in (2, 3, 7, 11)]
        + [f"{SENTRY3}.1.1.0", f"{SENTRY3}.1.4.0"],
    ),
    "cyberpower_epdu": (  # its ePDU tables: the recorded PDU44005's sysObjectID is .3808.1.1.6
        "centreon__CyberPower.snmprec",
        [f"{CPS}.3.3.1.1.{c}.1" for c in (1, 2, 3, 4, 5)]
        + [f"{CPS}.3.4.1.1.{c}.1" for c in (1, 2, 3, 4, 5, 6, 7)]
        + [f"{CPS}.3.5.1.1.{c}.1" for c in (1, 2, 3, 4, 5, 6, 7, 8, 9, 13)]
        + [f"{CPS}.2.3.1.1.{c}.1" for c in (1, 2, 3, 4, 5, 6, 7, 8, 10)]
        + [f"{CPS}.3.1.3.0", f"{CPS}.3.1.4.0"],
    ),
}


def read_recording(name: str) -> dict[str, str]:
    path = RECORDINGS / name
    if not path.is_file():
        pytest.skip(f"no recording {path}")
    types = {}
    for line in path.read_text().splitlines():
        oid, kind, _ = line.split("|", 2)
        types[oid] = kind
    return types


async def walk_types(address: tuple[str, int], root: str) -> dict[str, type]:
    """Every OID under ``root`` with the SNMP type of its value (pysnmp, v2c)."""
    engine = SnmpEngine()
    try:
        target = await UdpTransportTarget.create(address, timeout=1, retries=1)
        found = {}
        async for error, status, _, var_binds in bulk_walk_cmd(
            engine,
            CommunityData("public"),
            target,
            ContextData(),
            0,
            50,
            ObjectType(ObjectIdentity(root)),
            lookupMib=False,
            lexicographicMode=False,
        ):
            assert error is None and not status, (error, status)
            for name, value in var_binds:
                kind = next(t for t in SNMPREC_TYPES.values() if value.tagSet == t.tagSet)
                found[str(name)] = kind
        return found
    finally:
        engine.close_dispatcher()


@pytest.mark.parametrize("profile", PROFILES)
def test_oids_and_types_agree_with_the_recorded_walk(profile, address):
    """Every OID that both the recorded unit and the simulator serve has the same SNMP type,
    and the tables each profile exists for are among them (same OIDs, so same index shape)."""
    vendor = VENDORS[profile]
    recording, required = RECORDED[profile]
    recorded = read_recording(recording)
    served = asyncio.run(walk_types(address(vendor), vendor.enterprise))
    both = sorted(set(recorded) & set(served), key=oid_key)
    assert set(required) <= set(both), sorted(set(required) - set(both))
    mismatched = [
        (oid, recorded[oid], served[oid].__name__)
        for oid in both
        if SNMPREC_TYPES.get(recorded[oid]) is not served[oid]
    ]
    assert mismatched == []
