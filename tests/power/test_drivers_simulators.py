"""Every driver profile against the simulators, over the wire: identify, read, switch, verify,
readings in SI units.

One fleet holds a PDU per driver profile: the simulator profile of the same name for SNMP, the
NETIO-style PDU and the SDM630-style meter for Modbus. Every outlet carries a different load, so
a reading or a command that lands on the wrong row shows. Device time runs TIME_SCALE times
faster than real time: a relay moves RELAY_DELAY_S device seconds (400 ms real) after its
command and a reboot stays off REBOOT_OFF_S (160 ms real): several polls even for the slowest
poll (Raritan's, which reads every outlet sensor: about 40 ms), so the old, pending and off
states are seen every time, and the whole file still takes seconds.

Ground truth is the simulator's model (``Fleet.ground_truth``), read before and after every
driver call. A driver may report a relay state only if the relay was in it at some moment of
that call, or PENDING while a move is under way on a vendor that shows one: never the new state
before the relay has moved.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import pytest

from power.drivers.base import DeviceTarget, OutletState, SnmpV3Credentials, SwitchAction
from power.drivers.errors import AuthenticationFailed, DeviceRejected, DeviceTimeout
from power.drivers.registry import driver_for, driver_for_vendor
from power.drivers.snmp.client import close_engine_for_running_loop
from simulators.fleet import FleetSpec, fleet_in_thread

TIME_SCALE = 50
RELAY_DELAY_S = 20.0  # device seconds: 400 ms real (polls under CI load take longer than 160)
REBOOT_OFF_S = 20.0  # device seconds: 400 ms real
POWER_FACTOR = 0.95
NOISE = 0.01  # the simulator's noise on every power and voltage reading (+-1 %)
POLL_INTERVAL_S = 0.005
VERIFY_WITHIN_S = 3.0  # real seconds: many times the longest move (a reboot, 320 ms)

ON, OFF, PENDING = OutletState.ON, OutletState.OFF, OutletState.PENDING


@dataclass(frozen=True)
class Case:
    """One driver profile and the PDU that the fleet serves for it.

    Rounding is each vendor's own (its MIB's or manual's units), as the largest error in SI
    units that it can add to a reading: half a step, times the rows summed into a total. None:
    the vendor has no such reading, and the driver must say None.
    """

    vendor: str  # the driver profile
    simulator: str  # the simulator profile
    sys_object_id: str | None  # the vendor's sysObjectID, from its MIB (None: Modbus)
    outlets: int = 6
    phases: int = 1
    nominal_voltage: float = 230.0
    switched: tuple[int, ...] = ()  # outlets switched together in one call
    pending: bool = False  # the vendor shows a move under way (PENDING)
    named: bool = True  # the vendor has an outlet name object
    outlet_rounding: tuple[float | None, float | None, float | None] = (None, None, None)
    # totals: voltage V, current A, power W, energy kWh
    total_rounding: tuple[float | None, float | None, float | None, float | None] = (
        None,
        None,
        None,
        None,
    )
    # per phase: voltage V, current A, power W; empty: the driver reports no phases
    phase_rounding: tuple[float | None, float | None, float | None] | None = None

    @property
    def name(self) -> str:
        return f"sim-{self.vendor}"

    @property
    def protocol(self) -> str:
        return "snmp" if self.sys_object_id else "modbus"

    def __str__(self) -> str:
        return self.vendor


CASES = [
    # rPDU2: outlet A /10, W, kWh /10; device W x10 (hundredths of kW), kWh /10; phase V, A /10,
    # W x10. Totals: voltage and current from the phases.
    Case(
        "apc_rpdu2",
        "apc_rpdu2",
        "1.3.6.1.4.1.318.1.3.4.6",
        phases=3,
        switched=(2, 3, 5),
        pending=True,
        outlet_rounding=(0.05, 0.5, 0.05),
        total_rounding=(0.5, 3 * 0.05, 5, 0.05),
        phase_rounding=(0.5, 0.05, 5),
    ),
    # The MasterSwitch meters nothing; one outlet per SET.
    Case(
        "apc_masterswitch",
        "apc_masterswitch",
        "1.3.6.1.4.1.318.1.3.4.2",
        switched=(1, 4, 6),
        pending=True,
    ),
    # Raritan: sensor values with decimal digits (A 3, V/W/Wh 0); inlet totals. No pending.
    Case(
        "raritan_px",
        "raritan_px",
        "1.3.6.1.4.1.13742.6",
        switched=(1, 2, 6),
        outlet_rounding=(0.0005, 0.5, 0.0005),
        total_rounding=(0.5, 0.0005, 0.5, 0.0005),
    ),
    # Sentry4: A /100, W, Wh; input cord W and kWh /10 only.
    Case(
        "servertech_sentry4",
        "servertech_sentry4",
        "1.3.6.1.4.1.1718.4",
        switched=(3, 4, 5),
        pending=True,
        outlet_rounding=(0.005, 0.5, 0.0005),
        total_rounding=(None, None, 0.5, 0.05),
    ),
    # Sentry3, three infeeds (outlets 1.1.1-3, 1.2.1-3, 1.3.1): A /100, W, Wh; infeed V /10,
    # A /100, W, kWh /10, summed into the totals.
    Case(
        "servertech_sentry3",
        "servertech_sentry3",
        "1.3.6.1.4.1.1718.3",
        outlets=7,
        phases=3,
        nominal_voltage=208.0,
        switched=(2, 4, 7),
        pending=True,
        outlet_rounding=(0.005, 0.5, 0.0005),
        total_rounding=(0.05, 3 * 0.005, 3 * 0.5, 3 * 0.05),
        phase_rounding=(0.05, 0.005, 0.5),
    ),
    # Eaton: mA, W, Wh; input mV, mA, W, Wh.
    Case(
        "eaton_epdu",
        "eaton_epdu",
        "1.3.6.1.4.1.534.6.6.7",
        nominal_voltage=208.0,
        switched=(1, 5, 6),
        pending=True,
        outlet_rounding=(0.0005, 0.5, 0.0005),
        total_rounding=(0.0005, 0.0005, 0.5, 0.0005),
    ),
    # CyberPower: outlet A /10, W (the driver reads no energy); phase rows V /10, A /10, W,
    # summed into the totals.
    Case(
        "cyberpower_epdu",
        "cyberpower_epdu",
        "1.3.6.1.4.1.3808.1.1.3",
        phases=3,
        nominal_voltage=120.0,
        switched=(2, 4, 6),
        pending=True,
        outlet_rounding=(0.05, 0.5, None),
        total_rounding=(0.05, 3 * 0.05, 3 * 0.5, None),
        phase_rounding=(0.05, 0.05, 0.5),
    ),
    # NETIO map: coils; mA, W, Wh (uint32); totals V /10, mA, W, Wh. No names, no pending.
    Case(
        "modbus_switched_pdu",
        "netio_switched_pdu",
        None,
        switched=(1, 3, 4),
        named=False,
        outlet_rounding=(0.0005, 0.5, 0.0005),
        total_rounding=(0.05, 0.0005, 0.5, 0.0005),
    ),
    # SDM630 map: float32 per phase V, A, W; total W and kWh. A meter: no outlets.
    Case(
        "modbus_power_meter",
        "sdm630_meter",
        None,
        phases=3,
        named=False,
        total_rounding=(1e-3, 1e-3, 1e-2, 1e-4),
        phase_rounding=(1e-3, 1e-3, 1e-2),
    ),
]
BY_VENDOR = {case.vendor: case for case in CASES}
SNMP_CASES = [case for case in CASES if case.protocol == "snmp"]
SWITCHED_CASES = [case for case in CASES if case.switched]

# SNMPv3 users, on every SNMP PDU of the fleet (one engine serves the fleet: a user name has
# one set of keys). "priv" is the simulator's: aes192/aes256 are Blumenthal's key extension
# (net-snmp AES192/AES256), aes192c/aes256c Reeder's (net-snmp AES192C/AES256C).
V3_USERS = {
    # user: (auth, simulator priv, driver priv, key extension)
    "sha-nopriv": ("sha", "none", "none", "blumenthal"),
    "sha-aes128": ("sha", "aes128", "aes128", "blumenthal"),
    "md5-des": ("md5", "des", "des", "blumenthal"),
    "sha256-aes192": ("sha256", "aes192", "aes192", "blumenthal"),
    "sha256-aes192c": ("sha256", "aes192c", "aes192", "reeder"),
    "sha256-aes256": ("sha256", "aes256", "aes256", "blumenthal"),
    "sha256-aes256c": ("sha256", "aes256c", "aes256", "reeder"),
    # A SHA-1 key is 20 bytes and an MD5 key 16: short of AES-192/256, so here the two key
    # extensions give different keys (with SHA-256's 32 bytes neither extends anything).
    "sha-aes256": ("sha", "aes256", "aes256", "blumenthal"),
    "sha-aes256c": ("sha", "aes256c", "aes256", "reeder"),
    "md5-aes192": ("md5", "aes192", "aes192", "blumenthal"),
    "md5-aes192c": ("md5", "aes192c", "aes192", "reeder"),
}
AUTH_KEY, PRIV_KEY = "auth-pass-1", "priv-pass-1"


def loads(outlets: int) -> list[float]:
    """A different load on every outlet: 400, 700, 1000, ... W."""
    return [100.0 + 300.0 * n for n in range(1, outlets + 1)]


FLEET = {
    "time_scale": TIME_SCALE,
    "defaults": {
        "relay_delay_s": RELAY_DELAY_S,
        "reboot_off_s": REBOOT_OFF_S,
        "power_factor": POWER_FACTOR,
        "snmp": {
            "read_communities": ["public"],
            "write_communities": ["private"],
            "v3_users": [
                {
                    "name": user,
                    "auth": auth,
                    "auth_key": AUTH_KEY,
                    "priv": priv,
                    "priv_key": PRIV_KEY if priv != "none" else "",
                    "write": True,
                }
                for user, (auth, priv, _, _) in V3_USERS.items()
            ],
        },
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


@pytest.fixture(scope="module")
def fleet():
    with fleet_in_thread(FleetSpec.parse(FLEET)) as running:
        yield running


@pytest.fixture(autouse=True)
def _restore(fleet):
    """Every test starts from every relay on, nothing pending, the default names."""
    yield
    for case in CASES:
        fleet.clear(case.name)
        pdu = fleet.pdu(case.name)
        for n in pdu.outlets:
            fleet.switch(case.name, n, on=True)
            pdu.outlet(n).name = f"Outlet {n}"


def run(coro):
    """One event loop per call, its SNMP engine closed before the loop ends."""

    async def wrapped():
        try:
            return await coro
        finally:
            close_engine_for_running_loop()

    return asyncio.run(wrapped())


def target(fleet, case: Case, **overrides) -> DeviceTarget:
    host, port = fleet.address(case.name)
    values = {
        "host": host,
        "port": port,
        "protocol": "snmp" if case.protocol == "snmp" else "modbus_tcp",
        "vendor": case.vendor,
        "read_community": "public",
        "write_community": "private",
        "timeout_s": 1.0,
        "retries": 1,
    }
    return DeviceTarget(**{**values, **overrides})


def v3_target(fleet, case: Case, user: str, **overrides) -> DeviceTarget:
    auth, _, priv, extension = V3_USERS[user]
    v3 = SnmpV3Credentials(
        user,
        auth,
        AUTH_KEY,
        priv,
        PRIV_KEY if priv != "none" else "",
        key_extension=overrides.pop("key_extension", extension),
    )
    return target(fleet, case, snmp_version="v3", v3=v3, **overrides)


async def closing(driver, scenario):
    """Run ``scenario(driver)`` and close the driver's connection (Modbus) afterwards."""
    try:
        return await scenario(driver)
    finally:
        await driver.close()


def truth_outlets(fleet, case: Case) -> dict[int, dict]:
    return {o["number"]: o for o in fleet.ground_truth(case.name)["outlets"]}


def state_of(on: bool) -> OutletState:
    return ON if on else OFF


def within(actual, expected: float, *, rel: float, rounding: float, what: str) -> None:
    """``actual`` is ``expected`` within a relative noise and the vendor's rounding."""
    assert actual is not None, f"{what}: None, expected {expected:g}"
    assert isinstance(actual, float | int), f"{what}: {actual!r} is not a number"
    tolerance = rel * abs(expected) + rounding + 1e-9
    assert abs(actual - expected) <= tolerance, (
        f"{what}: {actual:g}, expected {expected:g} +- {tolerance:g}"
    )


# --- switching and verifying -------------------------------------------------------------------

# The relay positions an outlet goes through for each action (from on for off and reboot, from
# off for on).
TIMELINES = {
    SwitchAction.OFF: (True, False),
    SwitchAction.ON: (False, True),
    SwitchAction.REBOOT: (True, False, True),
}


def relay_stages(fleet, case, outlets, timeline, current: dict[int, int]) -> dict[int, int]:
    """How far along ``timeline`` each outlet's relay is (0: not moved yet), from ground truth.
    Fails if the relay is not moving along the timeline (a wrong command)."""
    truth = truth_outlets(fleet, case)
    last = len(timeline) - 1
    stages = {}
    for n in outlets:
        on, pending = truth[n]["on"], truth[n]["pending"]
        if pending is None:
            assert on == timeline[-1], f"outlet {n}: relay {'on' if on else 'off'}, not moving"
            stages[n] = last
            continue
        assert pending == timeline[-1], f"outlet {n} is moving to the wrong state"
        stage = next((i for i in range(current[n], last) if timeline[i] == on), None)
        assert stage is not None, f"outlet {n}: relay went back to {'on' if on else 'off'}"
        stages[n] = stage
    return stages


async def switch_and_verify(driver, fleet, case: Case, outlets, action: SwitchAction):
    """Switch ``outlets`` in one call, then poll outlet_states() until the driver and the
    relays agree on the final state. Returns, per outlet, the states the driver reported (runs
    of one state collapsed) and the relay stages seen in ground truth."""
    timeline = TIMELINES[action]
    last = len(timeline) - 1
    final = state_of(timeline[-1])
    truth = truth_outlets(fleet, case)
    assert all(truth[n]["on"] == timeline[0] for n in outlets)
    others = {n: o["on"] for n, o in truth.items() if n not in outlets}

    await driver.switch(list(outlets), action)
    stages = relay_stages(fleet, case, outlets, timeline, dict.fromkeys(outlets, 0))
    reported: dict[int, list[OutletState]] = {n: [] for n in outlets}
    relay_seen: dict[int, set[int]] = {n: {stages[n]} for n in outlets}
    deadline = time.monotonic() + VERIFY_WITHIN_S
    for _ in range(2000):
        before = stages
        states = {s.number: s.state for s in await driver.outlet_states()}
        stages = relay_stages(fleet, case, outlets, timeline, before)
        for n in outlets:
            relay_seen[n].add(stages[n])
            allowed = {state_of(timeline[i]) for i in range(before[n], stages[n] + 1)}
            if case.pending and before[n] < last:
                allowed.add(PENDING)
            assert states[n] in allowed, (
                f"{case.vendor} {action} outlet {n}: driver said {states[n]} while the relay "
                f"went through {sorted(allowed)} (stages {before[n]}..{stages[n]})"
            )
            if not reported[n] or reported[n][-1] != states[n]:
                reported[n].append(states[n])
        if all(stages[n] == last and states[n] == final for n in outlets):
            break
        assert time.monotonic() < deadline, f"{case.vendor} {action} not verified: {reported}"
        await asyncio.sleep(POLL_INTERVAL_S)
    else:
        pytest.fail(f"{case.vendor} {action} not verified after 2000 polls: {reported}")

    truth = truth_outlets(fleet, case)
    assert all(truth[n]["on"] == timeline[-1] and truth[n]["pending"] is None for n in outlets)
    assert {n: truth[n]["on"] for n in others} == others, "an outlet not switched moved"
    return reported, relay_seen


def check_observations(case: Case, action: SwitchAction, reported, relay_seen) -> None:
    timeline = TIMELINES[action]
    for n, states in reported.items():
        assert states[-1] == state_of(timeline[-1])
        if action is SwitchAction.REBOOT:
            # The relay really opened (an "on" sent instead of a reboot never does), and the
            # driver saw the outlet not on before it was on again.
            assert 1 in relay_seen[n], f"outlet {n}: the relay never opened"
            assert OFF in states[:-1] or PENDING in states[:-1], f"outlet {n}: {states}"
        if case.pending:
            assert PENDING in states, f"{case.vendor} outlet {n}: no pending seen in {states}"
        else:
            assert PENDING not in states
            # The relay delay is long enough to poll several times before the relay moves.
            assert states[0] == state_of(timeline[0]), f"outlet {n}: {states}"
            if action is SwitchAction.REBOOT:
                assert OFF in states, f"outlet {n}: {states}"


# --- identify --------------------------------------------------------------------------------


@pytest.mark.parametrize("case", SNMP_CASES, ids=str)
def test_identify_auto_picks_the_vendor_by_sys_object_id(fleet, case):
    async def scenario():
        driver = await driver_for(target(fleet, case, vendor="auto"))
        return driver.vendor, await driver.identify()

    vendor, identity = run(scenario())
    assert vendor == case.vendor
    assert identity.vendor == case.vendor
    assert identity.sys_object_id == case.sys_object_id
    assert identity.name == case.name  # sysName
    assert identity.description


@pytest.mark.parametrize("case", CASES, ids=str)
def test_identify_with_the_vendor_named(fleet, case):
    async def scenario():
        driver = await driver_for(target(fleet, case))  # no sysObjectID asked: the named row
        return await closing(driver, lambda d: d.identify())

    identity = run(scenario())
    assert identity.vendor == case.vendor
    assert identity.sys_object_id == case.sys_object_id
    if case.protocol == "snmp":
        assert identity.name == case.name
    else:  # Modbus maps identify nothing: the profile, proved to answer
        assert identity.name is None
        assert identity.description


# --- outlet states -----------------------------------------------------------------------------


@pytest.mark.parametrize("case", SWITCHED_CASES, ids=str)
def test_outlet_states_equal_ground_truth_after_switching_behind_the_drivers_back(fleet, case):
    pdu = fleet.pdu(case.name)
    for n in (1, 4, case.outlets):
        fleet.switch(case.name, n, on=False)
    pdu.outlet(2).name = "db-02"
    pdu.outlet(case.outlets).name = "web-last"

    driver = driver_for_vendor(target(fleet, case), case.vendor)
    states = run(closing(driver, lambda d: d.outlet_states()))

    truth = truth_outlets(fleet, case)
    assert [s.number for s in states] == list(range(1, case.outlets + 1))
    assert {s.number: s.state for s in states} == {n: state_of(o["on"]) for n, o in truth.items()}
    if case.named:
        assert {s.number: s.name for s in states} == {n: o["name"] for n, o in truth.items()}
    else:
        assert all(s.name is None for s in states)


# --- switching -------------------------------------------------------------------------------


@pytest.mark.parametrize("case", SWITCHED_CASES, ids=str)
def test_switch_off_on_and_reboot_verified_against_ground_truth(fleet, case):
    async def scenario(driver):
        seen = {}
        for action in (SwitchAction.OFF, SwitchAction.ON, SwitchAction.REBOOT):
            seen[action] = await switch_and_verify(driver, fleet, case, case.switched, action)
        return seen

    driver = driver_for_vendor(target(fleet, case), case.vendor)
    seen = run(closing(driver, scenario))
    for action, (reported, relay_seen) in seen.items():
        check_observations(case, action, reported, relay_seen)


def test_sentry3_numbers_outlets_across_infeeds_in_index_order(fleet):
    """Three infeeds serve 1.1.1-3, 1.2.1-3 and 1.3.1: the driver's outlet k is the k-th row in
    index order, and switching it switches that outlet and no other."""
    case = BY_VENDOR["servertech_sentry3"]
    driver = driver_for_vendor(target(fleet, case), case.vendor)

    async def scenario(driver):
        states = await driver.outlet_states()
        for k in (3, 4, 7):  # the last of infeed 1, the first of infeed 2, infeed 3's only
            await switch_and_verify(driver, fleet, case, (k,), SwitchAction.OFF)
        return states

    states = run(closing(driver, scenario))
    assert [s.number for s in states] == list(range(1, 8))
    truth = truth_outlets(fleet, case)
    assert [truth[n]["phase"] for n in range(1, 8)] == [1, 1, 1, 2, 2, 2, 3]
    assert {n for n, o in truth.items() if not o["on"]} == {3, 4, 7}


# --- readings --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Expected:
    """What the readings must say, from ground truth read before and after the driver's call:
    power is the load of an outlet that is on (the simulator adds +-1 % noise), current that
    load at the power factor and nominal voltage (noise on both: +-2 %), energy anywhere
    between the counters before and after."""

    volts: float
    watts: dict[int, float]  # outlet -> load if on, else 0
    wh_before: dict[int, float]
    wh_after: dict[int, float]
    phase_of: dict[int, int]

    def amps(self, watts: float) -> float:
        return watts / POWER_FACTOR / self.volts


def check_energy(kwh, wh_before: float, wh_after: float, rounding: float, what: str) -> None:
    low, high = wh_before / 1000, wh_after / 1000
    within(kwh, (low + high) / 2, rel=0, rounding=(high - low) / 2 + rounding, what=what)


def check_outlets(case: Case, readings, expected: Expected, truth: dict[int, dict]) -> None:
    amps_round, watts_round, kwh_round = case.outlet_rounding
    if case.switched:
        assert [r.number for r in readings.outlets] == list(range(1, case.outlets + 1))
    else:
        assert readings.outlets == []  # a meter
    for r in readings.outlets:
        what = f"{case.vendor} outlet {r.number}"
        assert r.state == state_of(truth[r.number]["on"]), what
        assert r.name == (truth[r.number]["name"] if case.named else None), what
        watts = expected.watts[r.number]
        for value, rounding, exp, rel, unit in (
            (r.current_a, amps_round, expected.amps(watts), 2 * NOISE, "A"),
            (r.power_w, watts_round, watts, NOISE, "W"),
        ):
            if rounding is None:
                assert value is None, f"{what}: {value!r} {unit}, the vendor has no such reading"
            else:
                within(value, exp, rel=rel + 1e-4, rounding=rounding, what=f"{what} {unit}")
        if kwh_round is None:
            assert r.energy_kwh is None, f"{what}: {r.energy_kwh!r} kWh, the driver reads none"
        else:
            n = r.number
            check_energy(r.energy_kwh, expected.wh_before[n], expected.wh_after[n], kwh_round, what)


def check_totals(case: Case, readings, expected: Expected) -> None:
    totals = readings.totals
    volts_round, amps_round, watts_round, kwh_round = case.total_rounding
    all_watts = sum(expected.watts.values())
    for unit, value, rounding, exp, rel in (
        ("V", totals.voltage_v, volts_round, expected.volts, NOISE),
        ("A", totals.current_a, amps_round, expected.amps(all_watts), 2 * NOISE),
        ("W", totals.power_w, watts_round, all_watts, NOISE),
    ):
        what = f"{case.vendor} total {unit}"
        if rounding is None:
            assert value is None, f"{what}: {value!r}, the vendor has no such reading"
        else:
            within(value, exp, rel=rel + 1e-4, rounding=rounding, what=what)
    if kwh_round is None:
        assert totals.energy_kwh is None
    else:
        before, after = sum(expected.wh_before.values()), sum(expected.wh_after.values())
        check_energy(totals.energy_kwh, before, after, kwh_round, f"{case.vendor} total kWh")

    # The totals are made of the outlets (read in another request: twice the noise).
    outlet_amps, outlet_watts, _ = case.outlet_rounding
    for total, outlet_values, total_round, outlet_round in (
        (totals.current_a, [r.current_a for r in readings.outlets], amps_round, outlet_amps),
        (totals.power_w, [r.power_w for r in readings.outlets], watts_round, outlet_watts),
    ):
        if outlet_round is not None and total_round is not None:
            within(
                total,
                sum(outlet_values),
                rel=4 * NOISE,
                rounding=total_round + outlet_round * len(outlet_values),
                what=f"{case.vendor} total against the sum of its outlets",
            )

    if case.phase_rounding is None:
        assert totals.phases == []
        return
    assert [p.phase for p in totals.phases] == list(range(1, case.phases + 1))
    volts_round, amps_round, watts_round = case.phase_rounding
    for p in totals.phases:
        watts = sum(w for n, w in expected.watts.items() if expected.phase_of[n] == p.phase)
        what = f"{case.vendor} phase {p.phase}"
        within(p.voltage_v, expected.volts, rel=NOISE + 1e-4, rounding=volts_round, what=what)
        within(
            p.current_a, expected.amps(watts), rel=2 * NOISE + 1e-4, rounding=amps_round, what=what
        )
        within(p.power_w, watts, rel=NOISE + 1e-4, rounding=watts_round, what=what)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_readings_in_si_units_equal_ground_truth(fleet, case):
    pdu = fleet.pdu(case.name)
    if case.switched:
        for n in (2, 5):
            fleet.switch(case.name, n, on=False)
    pdu.reset_energy()
    for n, outlet in pdu.outlets.items():
        # Large counters, so that a vendor's tenths of kWh are small beside them.
        outlet.energy_wh = 100_000.0 + 12_345.0 * n

    before = truth_outlets(fleet, case)
    driver = driver_for_vendor(target(fleet, case), case.vendor)
    readings = run(closing(driver, lambda d: d.readings()))
    after = truth_outlets(fleet, case)

    expected = Expected(
        volts=case.nominal_voltage,
        watts={n: o["load_w"] if o["on"] else 0.0 for n, o in before.items()},
        wh_before={n: o["energy_wh"] for n, o in before.items()},
        wh_after={n: o["energy_wh"] for n, o in after.items()},
        phase_of={n: o["phase"] for n, o in before.items()},
    )
    check_outlets(case, readings, expected, before)
    check_totals(case, readings, expected)
    if case.switched:
        off = [r for r in readings.outlets if r.number in (2, 5)]
        assert [r.state for r in off] == [OFF, OFF]
        if case.outlet_rounding[1] is not None:
            assert all(r.power_w == 0 and r.current_a == 0 for r in off)


# --- SNMP versions and SNMPv3 security -------------------------------------------------------

VERSION_VENDORS = ["apc_rpdu2", "eaton_epdu", "servertech_sentry3"]


def identify_read_and_switch(fleet, case: Case, device: DeviceTarget) -> None:
    """identify(), outlet_states() and a verified off of two outlets, over ``device``."""

    async def scenario(driver):
        identity = await driver.identify()
        states = await driver.outlet_states()
        seen = await switch_and_verify(driver, fleet, case, case.switched[:2], SwitchAction.OFF)
        return identity, states, seen

    driver = driver_for_vendor(device, case.vendor)
    identity, states, (reported, relay_seen) = run(closing(driver, scenario))
    assert identity.name == case.name
    assert identity.sys_object_id == case.sys_object_id
    assert [s.state for s in states] == [ON] * case.outlets
    check_observations(case, SwitchAction.OFF, reported, relay_seen)


@pytest.mark.parametrize("version", ["v1", "v2c", "v3"])
@pytest.mark.parametrize("vendor", VERSION_VENDORS)
def test_every_snmp_version_identifies_reads_and_switches(fleet, vendor, version):
    case = BY_VENDOR[vendor]
    if version == "v3":
        device = v3_target(fleet, case, "sha-aes128")
    else:
        device = target(fleet, case, snmp_version=version)
    identify_read_and_switch(fleet, case, device)


@pytest.mark.parametrize("user", list(V3_USERS))
@pytest.mark.parametrize("vendor", ["apc_rpdu2", "eaton_epdu"])
def test_snmpv3_security_levels_and_protocols(fleet, vendor, user):
    case = BY_VENDOR[vendor]
    identify_read_and_switch(fleet, case, v3_target(fleet, case, user))


@pytest.mark.parametrize(
    ("user", "wrong_extension"),
    [
        ("sha-aes256", "reeder"),
        ("sha-aes256c", "blumenthal"),
        ("md5-aes192", "reeder"),
        ("md5-aes192c", "blumenthal"),
    ],
)
def test_a_mismatched_aes_key_extension_fails(fleet, user, wrong_extension):
    case = BY_VENDOR["apc_rpdu2"]
    device = v3_target(fleet, case, user, key_extension=wrong_extension, timeout_s=0.3, retries=0)
    with pytest.raises((AuthenticationFailed, DeviceTimeout)):
        run(driver_for_vendor(device, case.vendor).identify())
    assert all(o["on"] for o in truth_outlets(fleet, case).values())


@pytest.mark.parametrize("user", ["sha256-aes192", "sha256-aes256c"])
def test_with_sha256_keys_the_aes_key_extensions_agree(fleet, user):
    """A SHA-256 localized key is 32 bytes, enough for AES-256: neither draft extends it, so
    the per-device key extension only matters with MD5, SHA-1 and SHA-224 keys. (Which is why
    the mismatch test above uses those.)"""
    case = BY_VENDOR["apc_rpdu2"]
    other = "reeder" if V3_USERS[user][3] == "blumenthal" else "blumenthal"
    device = v3_target(fleet, case, user, key_extension=other)
    assert run(driver_for_vendor(device, case.vendor).identify()).name == case.name


# --- Modbus ----------------------------------------------------------------------------------


def test_the_meter_has_no_outlets_and_refuses_to_switch(fleet):
    case = BY_VENDOR["modbus_power_meter"]
    driver = driver_for_vendor(target(fleet, case), case.vendor)

    async def scenario(driver):
        states = await driver.outlet_states()
        with pytest.raises(DeviceRejected):
            await driver.switch([1], SwitchAction.OFF)
        return states

    assert run(closing(driver, scenario)) == []
    assert all(o["on"] for o in truth_outlets(fleet, case).values())


def test_modbus_address_base_is_the_profiles_unless_overridden(fleet):
    """The NETIO manual numbers registers from 1 (coil 102 is output 1 at wire address 101).
    Base 1, the profile's, reads and switches the right outputs; an override of 0 is applied:
    its commands land one output further on, and its reads run past the last output and fail
    instead of answering."""
    case = BY_VENDOR["modbus_switched_pdu"]
    fleet.switch(case.name, 2, on=False)
    right = driver_for_vendor(target(fleet, case, modbus_address_base=1), case.vendor)
    states = run(closing(right, lambda d: d.outlet_states()))
    assert [s.state for s in states] == [ON, OFF, ON, ON, ON, ON]

    shifted = driver_for_vendor(target(fleet, case, modbus_address_base=0), case.vendor)

    async def scenario(driver):
        await driver.switch([3], SwitchAction.OFF)
        with pytest.raises(DeviceRejected, match="illegal data address"):
            await driver.outlet_states()

    run(closing(shifted, scenario))
    deadline = time.monotonic() + VERIFY_WITHIN_S
    while truth_outlets(fleet, case)[4]["pending"] is not None:
        assert time.monotonic() < deadline
        time.sleep(POLL_INTERVAL_S)
    truth = truth_outlets(fleet, case)
    assert [truth[n]["on"] for n in range(1, 7)] == [True, False, True, False, True, True]


def test_resolved_var_binds_are_reused_and_bounded(fleet, monkeypatch):
    """pysnmp's path (SNMPv1 and v3) reuses var-binds already resolved against the engine's
    MIB view (resolving cost more than encoding), keyed by OID and value, so an on and an off
    never mix; the cache is bounded."""
    from power.drivers.snmp import client as snmp_client

    case = next(c for c in CASES if c.vendor == "apc_rpdu2")

    async def scenario(driver):
        cache = snmp_client.engine_for_running_loop().cache
        await driver.switch([1, 2], SwitchAction.OFF)
        first = dict(cache[snmp_client._RESOLVED_KEY])
        await driver.switch([1, 2], SwitchAction.OFF)
        again = cache[snmp_client._RESOLVED_KEY]
        assert all(again[key] is first[key] for key in first)  # the same objects, reused
        await driver.switch([1], SwitchAction.ON)
        for _ in range(200):  # the simulated relays take their time (bounded wait)
            states = {s.number: s.state for s in await driver.outlet_states_of([1, 2, 3])}
            if OutletState.PENDING not in states.values():
                break
            await asyncio.sleep(0.02)
        assert states == {1: OutletState.ON, 2: OutletState.OFF, 3: OutletState.ON}
        monkeypatch.setattr(snmp_client, "RESOLVED_VARBINDS_MAX", 4)
        await driver.outlet_states_of(list(range(1, 7)))
        assert 0 < len(cache[snmp_client._RESOLVED_KEY]) <= 4  # cleared when full

    run(closing(driver_for_vendor(target(fleet, case, snmp_version="v1"), case.vendor), scenario))
    assert not fleet.ground_truth(case.name)["outlets"][1]["on"]  # outlet 2 is off on the device
