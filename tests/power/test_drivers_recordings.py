"""The SNMP drivers against walks of REAL devices.

Each recording in ../shared/reference/device-recordings/ that has a vendor profile is served by
snmpsim (one agent process per recording, community = the file's name) and read through the
registry, with vendor "auto" and with the vendor named. What the drivers report (identity,
outlet numbers, names, states, readings, totals) must equal what the recording holds, decoded
HERE from the .snmprec text with the vendor MIB facts written in this file (OIDs, enums,
scalings: ../shared/reference/PROTOCOLS.md section 3, the vendors' MIBs and the recordings'
README), never from power/drivers/snmp/vendors.py: a wrong OID, enum or scale in a profile
fails here. Each test also says which of states / names / readings its recording holds.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from power.drivers.base import DeviceIdentity, DeviceTarget, OutletState, SwitchAction
from power.drivers.errors import DeviceTimeout, NoSuchOutlet, UnknownDevice
from power.drivers.registry import driver_for
from power.drivers.snmp.client import SnmpClient, close_engine_for_running_loop
from tests.services import snmpsim_command

pytestmark = pytest.mark.requires_service("snmpsim", "recordings")

ROOT = Path(__file__).resolve().parents[2]
RECORDINGS = ROOT.parent / "shared" / "reference" / "device-recordings"
START_TIMEOUT_S = 20.0  # snmpsim indexes the file, then answers: about 1 s here
PORT_ATTEMPTS = 3  # a free port taken by someone else between probe and bind: try another

ON, OFF, PENDING, UNKNOWN = (
    OutletState.ON,
    OutletState.OFF,
    OutletState.PENDING,
    OutletState.UNKNOWN,
)
Oid = tuple[int, ...]


def oid(text: str) -> Oid:
    return tuple(int(part) for part in text.strip().strip(".").split("."))


def dotted(value: Oid) -> str:
    return ".".join(str(part) for part in value)


# --- the recording, decoded independently of the drivers ------------------------------------

# snmprec type tags (snmpsim's record format: the ASN.1 tag numbers).
INTEGER_TAGS = {"2", "65", "66", "67", "70"}  # Integer32, Counter32, Gauge32, TimeTicks, Counter64


@dataclass(frozen=True)
class Recording:
    name: str  # the file name without .snmprec: snmpsim's v2c community for it
    path: Path
    values: dict[Oid, object]

    def get(self, key: Oid):
        return self.values.get(key)

    def column(self, column: Oid) -> dict[Oid, object]:
        """Every instance under ``column``, keyed by its index (the OID after the column)."""
        n = len(column)
        return {k[n:]: v for k, v in self.values.items() if len(k) > n and k[:n] == column}

    def text(self, key: Oid) -> str | None:
        """A DisplayString as a person reads it: trimmed; an empty string is no value."""
        value = self.get(key)
        if not isinstance(value, bytes):
            return None
        return value.decode("utf-8", errors="replace").strip() or None

    def number(self, key: Oid, scale: float = 1.0) -> float | None:
        """An integer reading in SI units; absent, or negative ("not supported": -1 in every MIB
        here), is None."""
        value = self.get(key)
        if not isinstance(value, int) or value < 0:
            return None
        return value * scale


def load(name: str) -> Recording:
    path = RECORDINGS / f"{name}.snmprec"
    values: dict[Oid, object] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        key, tag, raw = line.split("|", 2)
        tag = tag.split(":")[0]  # "2:writecache" is an Integer32 with a variation module
        if tag == "4":
            value: object = raw.encode("utf-8")
        elif tag == "4x":
            value = bytes.fromhex(raw)
        elif tag in INTEGER_TAGS:
            value = int(raw)
        elif tag == "6":
            value = oid(raw)
        elif tag in ("5", "64", "64x"):  # Null, IpAddress: never an outlet's value
            value = raw or None
        else:
            raise ValueError(f"{path.name}: unknown snmprec type {tag!r} in {line!r}")
        values[oid(key)] = value
    return Recording(name=name, path=path, values=values)


# --- what a driver must report ----------------------------------------------------------------


@dataclass(frozen=True)
class Outlet:
    number: int
    name: str | None
    state: OutletState
    current_a: float | None = None
    power_w: float | None = None
    energy_kwh: float | None = None


@dataclass(frozen=True)
class Phase:
    phase: int
    voltage_v: float | None
    current_a: float | None
    power_w: float | None


@dataclass(frozen=True)
class Expected:
    vendor: str
    auto_vendor: str | None  # what "auto" finds by sysObjectID; None: the walk holds none
    identity: DeviceIdentity
    outlets: list[Outlet]
    voltage_v: float | None = None
    current_a: float | None = None
    power_w: float | None = None
    energy_kwh: float | None = None
    phases: list[Phase] = field(default_factory=list)


SYS_DESCR = oid("1.3.6.1.2.1.1.1.0")
SYS_OBJECT_ID = oid("1.3.6.1.2.1.1.2.0")
SYS_NAME = oid("1.3.6.1.2.1.1.5.0")


def identity(rec: Recording, vendor: str) -> DeviceIdentity:
    sys_object_id = rec.get(SYS_OBJECT_ID)
    return DeviceIdentity(
        vendor=vendor,
        sys_object_id=dotted(sys_object_id) if isinstance(sys_object_id, tuple) else None,
        description=rec.text(SYS_DESCR),
        name=rec.text(SYS_NAME),
    )


def summed(values: list[float | None]) -> float | None:
    """A total of per-phase values, when every phase has one."""
    present = [v for v in values if v is not None]
    return sum(present) if values and len(present) == len(values) else None


# --- serving a recording with snmpsim --------------------------------------------------------


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run(coro):
    """One event loop per call, its SNMP engine closed at the end (an engine is bound to its
    loop)."""

    async def wrapped():
        try:
            return await coro
        finally:
            close_engine_for_running_loop()

    return asyncio.run(wrapped())


@dataclass(frozen=True)
class Served:
    community: str
    port: int

    def target(self, vendor: str = "auto") -> DeviceTarget:
        return DeviceTarget(
            host="127.0.0.1",
            port=self.port,
            vendor=vendor,
            snmp_version="v2c",
            read_community=self.community,
            write_community=self.community,
            timeout_s=2.0,
            retries=1,
        )


def answers(served: Served) -> bool:
    """Whether the agent answers at all (a recording may hold no sysObjectID: noSuchObject is
    an answer too)."""
    target = DeviceTarget(
        host="127.0.0.1",
        port=served.port,
        read_community=served.community,
        timeout_s=0.25,
        retries=0,
    )
    try:
        run(SnmpClient(target).get([SYS_OBJECT_ID]))
    except DeviceTimeout:
        return False
    return True


class Snmpsim:
    """snmpsim agents, one process per recording (writes would be shared by all files of one
    process), each on its own free port with a data directory holding a copy of that one file.
    Started when a test first asks, stopped at the end of the module."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.served: dict[str, Served] = {}
        self.processes: list[subprocess.Popen] = []

    def serve(self, name: str, *, edit: Callable[[str], str] | None = None) -> Served:
        key = name + ("+edited" if edit else "")
        if key in self.served:
            return self.served[key]
        source = RECORDINGS / f"{name}.snmprec"
        if not source.is_file():
            pytest.skip(f"recording {source} is not here")
        command = snmpsim_command()
        assert command is not None  # the requires_service marker checked it
        base = self.workdir / key
        data, cache = base / "data", base / "cache"
        data.mkdir(parents=True)
        text = source.read_text(encoding="utf-8")
        (data / source.name).write_text(edit(text) if edit else text, encoding="utf-8")
        env = dict(os.environ)
        if os.geteuid() == 0:
            env["SNMPSIM_ALLOW_ROOT"] = "true"
        for attempt in range(PORT_ATTEMPTS):
            served = Served(community=name, port=free_udp_port())
            log = base / f"snmpsim-{attempt}.log"
            with log.open("w") as out:
                process = subprocess.Popen(
                    [
                        command,
                        f"--data-dir={data}",
                        f"--cache-dir={cache}",
                        f"--agent-udpv4-endpoint=127.0.0.1:{served.port}",
                    ],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    env=env,
                )
            self.processes.append(process)
            deadline = time.monotonic() + START_TIMEOUT_S
            while time.monotonic() < deadline and process.poll() is None:
                if answers(served):
                    self.served[key] = served
                    return served
            stop(process)
        tail = log.read_text()[-2000:]
        pytest.fail(f"snmpsim did not answer for {name} in {PORT_ATTEMPTS} tries:\n{tail}")

    def stop_all(self) -> None:
        for process in self.processes:
            stop(process)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@pytest.fixture(scope="module")
def snmpsim(tmp_path_factory):
    agents = Snmpsim(tmp_path_factory.mktemp("snmpsim"))
    yield agents
    agents.stop_all()


# --- the comparison -------------------------------------------------------------------------


def close(got: float | None, want: float | None, what: str) -> None:
    """Scaling must be exactly right: a tight tolerance, only for float rounding."""
    if want is None:
        assert got is None, f"{what}: the recording holds no value, the driver says {got!r}"
    else:
        assert got == pytest.approx(want, rel=1e-9, abs=1e-12), f"{what}: {got!r} != {want!r}"


async def observe(served: Served, expected: Expected) -> list[tuple]:
    """Through the registry: vendor "auto" (by sysObjectID, longest prefix), then the vendor
    named. For each driver: identify, outlet_states, readings, and single-outlet reads."""
    targets = []
    if expected.auto_vendor is None:
        with pytest.raises(UnknownDevice):
            await driver_for(served.target())
    else:
        targets.append(served.target())
    targets.append(served.target(vendor=expected.vendor))
    observed = []
    for target in targets:
        driver = await driver_for(target)
        wanted = expected.auto_vendor if target.vendor == "auto" else expected.vendor
        assert driver.vendor == wanted, f"{target.vendor} -> {driver.vendor}"
        picks = [o.number for o in expected.outlets if o.state is not ON][:3]
        picks += [o.number for o in expected.outlets[:1]]
        singles = [await driver.outlet_state(n) for n in picks]
        missing = max((o.number for o in expected.outlets), default=0) + 1
        with pytest.raises(NoSuchOutlet):
            await driver.outlet_state(missing)
        identity_, states = await driver.identify(), await driver.outlet_states()
        observed.append((driver, identity_, states, await driver.readings(), singles))
    return observed


def check(served: Served, expected: Expected) -> None:
    assert expected.outlets == sorted(expected.outlets, key=lambda o: o.number)
    by_number = {o.number: o for o in expected.outlets}
    for driver, ident, states, readings, singles in run(observe(served, expected)):
        who = f"{served.community} via {driver.target.vendor}"
        assert ident == DeviceIdentity(
            vendor=driver.vendor,
            sys_object_id=expected.identity.sys_object_id,
            description=expected.identity.description,
            name=expected.identity.name,
        ), who
        want = [(o.number, o.name, o.state) for o in expected.outlets]
        assert [(s.number, s.name, s.state) for s in states] == want, who
        assert [(o.number, o.name, o.state) for o in readings.outlets] == want, who
        for single in singles:
            assert (single.name, single.state) == (
                by_number[single.number].name,
                by_number[single.number].state,
            ), f"{who}: outlet_state({single.number})"
        for got, exp in zip(readings.outlets, expected.outlets, strict=True):
            close(got.current_a, exp.current_a, f"{who}: outlet {exp.number} current")
            close(got.power_w, exp.power_w, f"{who}: outlet {exp.number} power")
            close(got.energy_kwh, exp.energy_kwh, f"{who}: outlet {exp.number} energy")
        totals = readings.totals
        close(totals.voltage_v, expected.voltage_v, f"{who}: total voltage")
        close(totals.current_a, expected.current_a, f"{who}: total current")
        close(totals.power_w, expected.power_w, f"{who}: total power")
        close(totals.energy_kwh, expected.energy_kwh, f"{who}: total energy")
        assert [p.phase for p in totals.phases] == [p.phase for p in expected.phases], who
        for got, exp in zip(totals.phases, expected.phases, strict=True):
            close(got.voltage_v, exp.voltage_v, f"{who}: phase {exp.phase} voltage")
            close(got.current_a, exp.current_a, f"{who}: phase {exp.phase} current")
            close(got.power_w, exp.power_w, f"{who}: phase {exp.phase} power")


# === APC (PowerNet-MIB 4.6.0) ===============================================================

APC = "1.3.6.1.4.1.318"
# sPDUOutletControlTable, index outlet. sPDUOutletCtl reads back the outlet's state:
# outletOn 1, outletOff 2, outletReboot 3, outletUnknown 4. sPDUOutletPending: commandPending 1,
# noCommandPending 2.
S_PDU_OUTLET_PENDING = oid(APC + ".1.1.4.4.2.1.2")
S_PDU_OUTLET_CTL = oid(APC + ".1.1.4.4.2.1.3")
S_PDU_OUTLET_NAME = oid(APC + ".1.1.4.4.2.1.4")
S_PDU_OUTLET_CTL_STATES = {1: ON, 2: OFF, 4: UNKNOWN}
# rPDU2 (.318.1.1.26)
RPDU2 = APC + ".1.1.26"
RPDU2_OUTLET_SWITCHED = oid(RPDU2 + ".9.2")  # config, status (.3: state .5 off 1 / on 2), control
RPDU2_OUTLET_METERED = oid(RPDU2 + ".9.4")  # current tenths of A, energy tenths of kWh
RPDU2_DEVICE_STATUS_POWER = oid(RPDU2 + ".4.3.1.5")  # hundredths of kW
RPDU2_DEVICE_STATUS_ENERGY = oid(RPDU2 + ".4.3.1.9")  # tenths of kWh
RPDU2_PHASE_STATUS_CURRENT = oid(RPDU2 + ".6.3.1.5")  # tenths of A
RPDU2_PHASE_STATUS_VOLTAGE = oid(RPDU2 + ".6.3.1.6")  # V
RPDU2_PHASE_STATUS_POWER = oid(RPDU2 + ".6.3.1.7")  # hundredths of kW


def apc_legacy_outlets(rec: Recording) -> list[Outlet]:
    outlets = []
    for (n,), ctl in sorted(rec.column(S_PDU_OUTLET_CTL).items()):
        pending = rec.get(S_PDU_OUTLET_PENDING + (n,)) == 1
        state = PENDING if pending else S_PDU_OUTLET_CTL_STATES[ctl]
        outlets.append(Outlet(n, rec.text(S_PDU_OUTLET_NAME + (n,)), state))
    return outlets


def test_apc_ap8959eu3_rpdu2_legacy_outlet_table_and_rpdu2_totals(snmpsim):
    """AP8959EU3 (rPDU2 firmware): names and states exist, in the LEGACY sPDUOutletControl
    table only (outlet 23 off); the rPDU2 outlet tables are absent, so there are no per-outlet
    readings; rPDU2 phase and device totals exist."""
    rec = load("librenms__apc_ap8959eu3")
    assert not rec.column(RPDU2_OUTLET_SWITCHED) and not rec.column(RPDU2_OUTLET_METERED)
    outlets = apc_legacy_outlets(rec)
    assert len(outlets) == 24 and [o.number for o in outlets if o.state is OFF] == [23]
    assert outlets[17].name == "18"  # renamed outlets: the name column as it is
    phases = [
        Phase(
            phase=p,
            voltage_v=rec.number(RPDU2_PHASE_STATUS_VOLTAGE + (p,)),
            current_a=rec.number(RPDU2_PHASE_STATUS_CURRENT + (p,), 0.1),
            power_w=rec.number(RPDU2_PHASE_STATUS_POWER + (p,), 10.0),  # 0.01 kW = 10 W
        )
        for (p,) in sorted(rec.column(RPDU2_PHASE_STATUS_CURRENT))
    ]
    expected = Expected(
        vendor="apc_rpdu2",
        auto_vendor="apc_rpdu2",  # sysObjectID .318.1.3.4.6 (rPDU2)
        identity=identity(rec, "apc_rpdu2"),
        outlets=outlets,
        voltage_v=phases[0].voltage_v,
        current_a=summed([p.current_a for p in phases]),
        power_w=rec.number(RPDU2_DEVICE_STATUS_POWER + (1,), 10.0),
        energy_kwh=rec.number(RPDU2_DEVICE_STATUS_ENERGY + (1,), 0.1),
        phases=phases,
    )
    assert expected.power_w == pytest.approx(270) and expected.energy_kwh == pytest.approx(1967.7)
    check(snmpsim.serve(rec.name), expected)


def writable_outlet_ctl(text: str) -> str:
    """The same walk with sPDUOutletCtl writable (snmpsim's writecache: a SET is read back)."""
    prefix = dotted(S_PDU_OUTLET_CTL) + "."
    return "\n".join(
        line.replace("|2|", "|2:writecache|value=", 1) if line.startswith(prefix) else line
        for line in text.splitlines()
    )


def test_apc_ap8959eu3_switches_through_the_legacy_table_it_reads(snmpsim):
    """Commands go where the states come from: with no rPDU2 outlet table, sPDUOutletCtl
    (immediateOn 1, immediateOff 2)."""
    served = snmpsim.serve("librenms__apc_ap8959eu3", edit=writable_outlet_ctl)

    async def scenario():
        driver = await driver_for(served.target())
        assert driver.vendor == "apc_rpdu2"
        await driver.switch([23], SwitchAction.ON)
        await driver.switch([1, 2], SwitchAction.OFF)
        states = {s.number: s.state for s in await driver.outlet_states()}
        raw = await SnmpClient(served.target()).get([S_PDU_OUTLET_CTL + (n,) for n in (1, 2, 23)])
        with pytest.raises(NoSuchOutlet):
            await driver.switch([25], SwitchAction.OFF)
        return states, raw

    states, raw = run(scenario())
    assert (states[1], states[2], states[23], states[3]) == (OFF, OFF, ON, ON)
    assert [raw[S_PDU_OUTLET_CTL + (n,)] for n in (1, 2, 23)] == [2, 2, 1]


def test_apc_masterswitch_ap9606_outlets_2_3_5_off(snmpsim):
    """AP9606 MasterSwitch: names and states exist (sPDUOutletCtl; outlets 2, 3, 5 off); no
    readings or totals exist."""
    rec = load("librenms__apc_masterswitch2")
    outlets = apc_legacy_outlets(rec)
    assert [o.number for o in outlets if o.state is OFF] == [2, 3, 5]
    expected = Expected(
        vendor="apc_masterswitch",
        auto_vendor="apc_masterswitch",  # sysObjectID .318.1.3.4.2
        identity=identity(rec, "apc_masterswitch"),
        outlets=outlets,
    )
    served = snmpsim.serve(rec.name)
    check(served, expected)

    async def switch_missing_outlet():
        driver = await driver_for(served.target())
        await driver.switch([9], SwitchAction.OFF)

    # snmpsim answers a SET of an absent instance with a noSuchInstance value and no error
    # status: that is no success.
    with pytest.raises(NoSuchOutlet):
        run(switch_missing_outlet())


# === Raritan (PDU2-MIB), index pduId.outletId[.sensorType] ==================================

PDU2 = "1.3.6.1.4.1.13742.6"
OUTLET_LABEL = oid(PDU2 + ".3.5.3.1.2")
OUTLET_NAME = oid(PDU2 + ".3.5.3.1.3")
OUTLET_SENSOR_DECIMAL_DIGITS = oid(PDU2 + ".3.5.4.1.7")
INLET_SENSOR_DECIMAL_DIGITS = oid(PDU2 + ".3.3.4.1.7")
OUTLET_SWITCHING_STATE = oid(PDU2 + ".4.1.2.1.3")  # SensorStateEnumeration
INLET_SENSOR_VALUE = oid(PDU2 + ".5.2.3.1.4")
OUTLET_SENSOR_STATE = oid(PDU2 + ".5.4.3.1.3")  # SensorStateEnumeration
OUTLET_SENSOR_VALUE = oid(PDU2 + ".5.4.3.1.4")  # Unsigned32, scaled by the decimal digits
RMS_CURRENT, RMS_VOLTAGE, ACTIVE_POWER, ACTIVE_ENERGY, ON_OFF = 1, 4, 5, 8, 14  # sensorType
SENSOR_STATES = {7: ON, 8: OFF}  # SensorStateEnumeration on(7), off(8); the rest: not a state
PDU_ID, INLET = 1, 1


def raritan_sensor(rec: Recording, values: Oid, digits: Oid, index: Oid) -> float | None:
    raw = rec.get(values + index)
    if not isinstance(raw, int):
        return None
    scale = rec.get(digits + index)
    return raw / 10 ** (scale if isinstance(scale, int) else 0)


def raritan_expected(rec: Recording, auto_vendor: str | None) -> Expected:
    outlets = []
    for (pdu, n), _label in sorted(rec.column(OUTLET_LABEL).items()):
        if pdu != PDU_ID:
            continue
        switching = rec.get(OUTLET_SWITCHING_STATE + (pdu, n))
        on_off = rec.get(OUTLET_SENSOR_STATE + (pdu, n, ON_OFF))
        state = SENSOR_STATES.get(switching if switching is not None else on_off, UNKNOWN)

        def sensor(kind: int, n=n) -> float | None:
            index = (PDU_ID, n, kind)
            return raritan_sensor(rec, OUTLET_SENSOR_VALUE, OUTLET_SENSOR_DECIMAL_DIGITS, index)

        energy_wh = sensor(ACTIVE_ENERGY)
        outlets.append(
            Outlet(
                number=n,
                # outletName, or the outletLabel ("1") where no name was given
                name=rec.text(OUTLET_NAME + (pdu, n)) or rec.text(OUTLET_LABEL + (pdu, n)),
                state=state,
                current_a=sensor(RMS_CURRENT),
                power_w=sensor(ACTIVE_POWER),
                energy_kwh=None if energy_wh is None else energy_wh / 1000,
            )
        )

    def inlet(kind: int) -> float | None:
        index = (PDU_ID, INLET, kind)
        return raritan_sensor(rec, INLET_SENSOR_VALUE, INLET_SENSOR_DECIMAL_DIGITS, index)

    inlet_wh = inlet(ACTIVE_ENERGY)
    return Expected(
        vendor="raritan_px",
        auto_vendor=auto_vendor,
        identity=identity(rec, "raritan_px"),
        outlets=outlets,
        voltage_v=inlet(RMS_VOLTAGE),
        current_a=inlet(RMS_CURRENT),
        power_w=inlet(ACTIVE_POWER),
        energy_kwh=None if inlet_wh is None else inlet_wh / 1000,
    )


def test_raritan_px3_names_onoff_states_and_scaled_sensors(snmpsim):
    """PX3-5493 (24 outlets): names exist (outletName, partly empty: then the label), states
    exist only as the onOff sensor (no switching table), readings exist scaled by the
    decimal-digits column (current 3 digits, power and energy 0)."""
    rec = load("librenms__raritan-pdu_px3")
    assert not rec.column(OUTLET_SWITCHING_STATE)
    assert rec.get(OUTLET_SENSOR_DECIMAL_DIGITS + (1, 1, RMS_CURRENT)) == 3
    expected = raritan_expected(rec, auto_vendor="raritan_px")  # sysObjectID .13742.6
    assert len(expected.outlets) == 24
    assert expected.outlets[1].name == "DEVICE 8:PS1:Planned" and expected.outlets[0].name == "1"
    assert all(o.current_a is not None and o.energy_kwh is not None for o in expected.outlets)
    check(snmpsim.serve(rec.name), expected)


def test_raritan_px_centreon_some_outlets_off(snmpsim):
    """Raritan PX (12 outlets): no sysObjectID in the walk (auto finds no vendor), no outlet
    names (labels), states from the onOff sensor (8-11 off), readings scaled by the digits."""
    rec = load("centreon__raritan")
    assert rec.get(SYS_OBJECT_ID) is None and not rec.column(OUTLET_NAME)
    expected = raritan_expected(rec, auto_vendor=None)
    assert [o.number for o in expected.outlets if o.state is OFF] == [8, 9, 10, 11]
    assert expected.outlets[0].current_a == pytest.approx(0.074)
    check(snmpsim.serve(rec.name), expected)


# === Eaton (EATON-EPDU-MIB), index strappingIndex.outletIndex ================================

EATON = "1.3.6.1.4.1.534.6.6.7"
OUTLET_NAME_EATON = oid(EATON + ".6.1.1.3")
OUTLET_CURRENT = oid(EATON + ".6.4.1.3")  # mA
OUTLET_WATTS = oid(EATON + ".6.5.1.3")  # W
OUTLET_WH = oid(EATON + ".6.5.1.4")  # Wh
OUTLET_CONTROL_STATUS = oid(EATON + ".6.6.1.2")  # off 0, on 1, pendingOff 2, pendingOn 3
EATON_STATES = {0: OFF, 1: ON, 2: PENDING, 3: PENDING}
# Input tables, index strappingIndex.inputIndex.(voltage|current|power)Index
INPUT_VOLTAGE = oid(EATON + ".3.2.1.3")  # mV
INPUT_CURRENT = oid(EATON + ".3.3.1.4")  # mA
INPUT_WATTS = oid(EATON + ".3.4.1.4")  # W
INPUT_WH = oid(EATON + ".3.4.1.5")  # Wh
STRAPPING = 0  # the master unit of a daisy chain


def test_eaton_epdu_names_control_status_and_readings(snmpsim):
    """ePDU MA (24 outlets): names, states (outletControlStatus, all on) and readings (mA, W,
    Wh) exist; totals from the input tables (single phase: input 1, row 1)."""
    rec = load("librenms__eatonpdu_2")
    outlets = [
        Outlet(
            number=n,
            name=rec.text(OUTLET_NAME_EATON + (STRAPPING, n)),
            state=EATON_STATES[status],
            current_a=rec.number(OUTLET_CURRENT + (STRAPPING, n), 0.001),
            power_w=rec.number(OUTLET_WATTS + (STRAPPING, n)),
            energy_kwh=rec.number(OUTLET_WH + (STRAPPING, n), 0.001),
        )
        for (strapping, n), status in sorted(rec.column(OUTLET_CONTROL_STATUS).items())
        if strapping == STRAPPING
    ]
    assert len(outlets) == 24 and outlets[0].name == "Power strip + s-rw-lab-rack"
    assert outlets[0].current_a == pytest.approx(0.79)
    first = (STRAPPING, 1, 1)
    expected = Expected(
        vendor="eaton_epdu",
        auto_vendor="eaton_epdu",  # sysObjectID .534.6.6.7
        identity=identity(rec, "eaton_epdu"),
        outlets=outlets,
        voltage_v=rec.number(INPUT_VOLTAGE + first, 0.001),
        current_a=rec.number(INPUT_CURRENT + first, 0.001),
        power_w=rec.number(INPUT_WATTS + first),
        energy_kwh=rec.number(INPUT_WH + first, 0.001),
    )
    check(snmpsim.serve(rec.name), expected)


# === ServerTech Sentry3 (Sentry3-MIB), index tower.infeed.outlet ============================

SENTRY3 = "1.3.6.1.4.1.1718.3"
INFEED_LOAD_VALUE = oid(SENTRY3 + ".2.2.1.7")  # hundredth Amps
INFEED_VOLTAGE = oid(SENTRY3 + ".2.2.1.11")  # tenth Volts
INFEED_POWER = oid(SENTRY3 + ".2.2.1.12")  # Watts
INFEED_ENERGY = oid(SENTRY3 + ".2.2.1.16")  # tenth Kilowatt-Hours
OUTLET_ID = oid(SENTRY3 + ".2.3.1.2")  # "AA1"
OUTLET_NAME_SENTRY3 = oid(SENTRY3 + ".2.3.1.3")
OUTLET_STATUS = oid(SENTRY3 + ".2.3.1.5")
OUTLET_LOAD_VALUE = oid(SENTRY3 + ".2.3.1.7")  # hundredth Amps
OUTLET_POWER = oid(SENTRY3 + ".2.3.1.14")  # Watts
OUTLET_ENERGY = oid(SENTRY3 + ".2.3.1.18")  # Watt-Hours
# outletStatus: off 0, on 1, offWait 2, onWait 3, offError 4, onError 5, noComm 6, reading 7,
# offFuse 8, onFuse 9.
SENTRY3_STATES = {0: OFF, 1: ON, 2: PENDING, 3: PENDING, 4: OFF, 5: ON, 8: OFF, 9: ON}
TOWER = 1


def test_servertech_sentry3_outlets_of_every_infeed(snmpsim):
    """Switched CDU with three infeeds (AA, AB, AC) of 10 outlets: names and loads (hundredths
    of A) exist for all 30 outlets, numbered 1-30 in the table's order (infeed, then outlet);
    no outletStatus exists in the walk (states unknown), nor outlet power or energy. Infeed
    loads and voltages exist: the PDU's phases."""
    rec = load("librenms__sentry3_switched")
    assert not rec.column(OUTLET_STATUS)
    rows = sorted(index for index in rec.column(OUTLET_ID) if index[0] == TOWER)
    assert len(rows) == 30 and {infeed for _, infeed, _ in rows} == {1, 2, 3}
    outlets = [
        Outlet(
            number=n,
            name=rec.text(OUTLET_NAME_SENTRY3 + row),
            state=SENTRY3_STATES.get(rec.get(OUTLET_STATUS + row), UNKNOWN),
            current_a=rec.number(OUTLET_LOAD_VALUE + row, 0.01),
            power_w=rec.number(OUTLET_POWER + row),
            energy_kwh=rec.number(OUTLET_ENERGY + row, 0.001),
        )
        for n, row in enumerate(rows, start=1)
    ]
    assert outlets[10].name == "Outlet AB1" and outlets[10].current_a == pytest.approx(0.81)
    infeeds = sorted(infeed for tower, infeed in rec.column(INFEED_LOAD_VALUE) if tower == TOWER)
    phases = [
        Phase(
            phase=i,
            voltage_v=rec.number(INFEED_VOLTAGE + (TOWER, i), 0.1),
            current_a=rec.number(INFEED_LOAD_VALUE + (TOWER, i), 0.01),
            power_w=rec.number(INFEED_POWER + (TOWER, i)),
        )
        for i in infeeds
    ]
    expected = Expected(
        vendor="servertech_sentry3",
        auto_vendor="servertech_sentry3",  # sysObjectID .1718.3
        identity=identity(rec, "servertech_sentry3"),
        outlets=outlets,
        voltage_v=phases[0].voltage_v,
        current_a=summed([p.current_a for p in phases]),
        power_w=summed([p.power_w for p in phases]),
        energy_kwh=summed([rec.number(INFEED_ENERGY + (TOWER, i), 0.1) for i in infeeds]),
        phases=phases,
    )
    assert expected.current_a == pytest.approx(3.09 + 3.92 + 4.34)
    check(snmpsim.serve(rec.name), expected)


# === ServerTech Sentry4 (Sentry4-MIB), index unit.inputCord[.outlet] ========================

SENTRY4 = "1.3.6.1.4.1.1718.4.1"
ST4_OUTLET_STATE = oid(SENTRY4 + ".8.3.1.1")
ST4_INPUT_CORD_ACTIVE_POWER = oid(SENTRY4 + ".3.3.1.3")  # Watts
ST4_INPUT_CORD_ENERGY = oid(SENTRY4 + ".3.3.1.10")  # tenth Kilowatt-Hours
MASTER_CORD = (1, 1)  # unit 1 (the master), input cord 1


def test_servertech_sentry4_input_cord_without_outlets(snmpsim):
    """Smart PDU (a master unit and one link unit): no outlet table exists (no names, states or
    outlet readings); the master's input cord power and energy exist. The driver reads the
    master unit's cord: its line currents and phase voltages are not among its readings."""
    rec = load("librenms__sentry4")
    assert not rec.column(oid(SENTRY4 + ".8"))
    expected = Expected(
        vendor="servertech_sentry4",
        auto_vendor="servertech_sentry4",  # sysObjectID .1718.4
        identity=identity(rec, "servertech_sentry4"),
        outlets=[],
        power_w=rec.number(ST4_INPUT_CORD_ACTIVE_POWER + MASTER_CORD),
        energy_kwh=rec.number(ST4_INPUT_CORD_ENERGY + MASTER_CORD, 0.1),
    )
    assert expected.power_w == 1701 and expected.energy_kwh == pytest.approx(893.7)
    check(snmpsim.serve(rec.name), expected)


# === CyberPower (CPS-MIB 2.11) ==============================================================

CPS = "1.3.6.1.4.1.3808.1.1"
UPS_BASE_IDENT_MODEL = oid(CPS + ".1.1.1.1.0")
# ePDUOutletStatusTable (.3.3.5.1.1), index outlet
EPDU_OUTLET_STATUS = oid(CPS + ".3.3.5.1.1")
EPDU_OUTLET_NAME = EPDU_OUTLET_STATUS + (2,)
EPDU_OUTLET_STATE = EPDU_OUTLET_STATUS + (4,)  # outletStatusOn 1, outletStatusOff 2
EPDU_OUTLET_PENDING = EPDU_OUTLET_STATUS + (5,)  # commandPending 1, noCommandPending 2
EPDU_OUTLET_LOAD = EPDU_OUTLET_STATUS + (7,)  # tenths of A
EPDU_OUTLET_ACTIVE_POWER = EPDU_OUTLET_STATUS + (8,)  # W
CPS_STATES = {1: ON, 2: OFF}
# ePDULoadStatusTable (.3.2.3.1.1): one row per phase (bank number 0) and one per bank.
EPDU_LOAD_STATUS = oid(CPS + ".3.2.3.1.1")
EPDU_LOAD_LOAD = EPDU_LOAD_STATUS + (2,)  # tenths of A
EPDU_LOAD_PHASE_NUMBER = EPDU_LOAD_STATUS + (4,)
EPDU_LOAD_BANK_NUMBER = EPDU_LOAD_STATUS + (5,)
EPDU_LOAD_VOLTAGE = EPDU_LOAD_STATUS + (6,)  # tenths of V
EPDU_LOAD_ACTIVE_POWER = EPDU_LOAD_STATUS + (7,)  # W


def test_cyberpower_pdu44005_epdu_tables(snmpsim):
    """PDU44005 (sysObjectID .3808.1.1.6, the ePDU2 branch) also serves the ePDU tables:
    names, states (all on, none pending) and readings (load, active power) exist for its 10
    outlets. ePDULoadStatus holds phase 1 AND bank 1 of phase 1: the phase is the total."""
    rec = load("centreon__CyberPower")
    assert rec.get(SYS_OBJECT_ID) == oid(CPS + ".6")
    outlets = [
        Outlet(
            number=n,
            name=rec.text(EPDU_OUTLET_NAME + (n,)),
            state=PENDING if rec.get(EPDU_OUTLET_PENDING + (n,)) == 1 else CPS_STATES[state],
            current_a=rec.number(EPDU_OUTLET_LOAD + (n,), 0.1),
            power_w=rec.number(EPDU_OUTLET_ACTIVE_POWER + (n,)),
        )
        for (n,), state in sorted(rec.column(EPDU_OUTLET_STATE).items())
    ]
    assert len(outlets) == 10 and {o.state for o in outlets} == {ON}
    rows = rec.column(EPDU_LOAD_BANK_NUMBER)
    assert sorted(rows.values()) == [0, 1]  # a phase row and a bank row
    phases = [
        Phase(
            phase=rec.get(EPDU_LOAD_PHASE_NUMBER + row),
            voltage_v=rec.number(EPDU_LOAD_VOLTAGE + row, 0.1),
            current_a=rec.number(EPDU_LOAD_LOAD + row, 0.1),
            power_w=rec.number(EPDU_LOAD_ACTIVE_POWER + row),
        )
        for row, bank in sorted(rows.items())
        if bank == 0
    ]
    expected = Expected(
        vendor="cyberpower_epdu",
        auto_vendor="cyberpower_epdu",
        identity=identity(rec, "cyberpower_epdu"),
        outlets=outlets,
        voltage_v=phases[0].voltage_v,
        current_a=summed([p.current_a for p in phases]),
        power_w=summed([p.power_w for p in phases]),
        phases=phases,
    )
    assert (expected.voltage_v, expected.current_a) == (pytest.approx(217.9), pytest.approx(1.0))
    check(snmpsim.serve(rec.name), expected)


def test_cyberpower_librenms_is_a_ups_identification_only(snmpsim):
    """An OL2200RTXL2U UPS whose card reports the ePDU sysObjectID (.3808.1.1.3): auto picks the
    CyberPower profile, and the walk holds no ePDU outlet or load table, so there are no names,
    states or readings: identification only."""
    rec = load("librenms__cyberpower")
    assert rec.get(SYS_OBJECT_ID) == oid(CPS + ".3")
    assert rec.text(UPS_BASE_IDENT_MODEL) == "OL2200RTXL2U"
    assert not rec.column(oid(CPS + ".3.3")) and not rec.column(oid(CPS + ".3.2"))
    expected = Expected(
        vendor="cyberpower_epdu",
        auto_vendor="cyberpower_epdu",
        identity=identity(rec, "cyberpower_epdu"),
        outlets=[],
    )
    check(snmpsim.serve(rec.name), expected)
