"""Vendor profiles of the SNMP PDU simulator: each vendor's own objects, index shapes, enums
and scaling, written from the vendor's MIB (see ../shared/reference/PROTOCOLS.md) and checked
against walks of real devices.

These tables belong to the simulator alone. The drivers in ``power/`` have their own, written
independently, so that a wrong OID fails against the simulator instead of passing on both sides.

A profile turns a ``SimulatedPdu`` into a list of ``ManagedObject``: a getter reads the physics
model, a setter drives it. A setter raises ``InvalidValue`` for a value the MIB does not allow
(wrongValue) and lets ``CommandRejected`` from the model become ``Refused`` (genErr).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pysnmp.proto.rfc1902 import (
    Gauge32,
    Integer,
    ObjectIdentifier,
    OctetString,
    TimeTicks,
    Unsigned32,
)

from simulators.model import Action, CommandRejected, SimulatedPdu
from simulators.snmp.mib import InvalidValue, ManagedObject, Oid, Refused

SYSTEM = (1, 3, 6, 1, 2, 1, 1)


@dataclass(frozen=True)
class SnmpProfile:
    name: str
    sys_object_id: Oid
    sys_descr: str
    subtree: Oid  # the vendor's MIB subtree: with the system group, all an agent exposes
    build: Callable[[SimulatedPdu], list[ManagedObject]]

    def objects(self, pdu: SimulatedPdu) -> list[ManagedObject]:
        return system_group(pdu, self) + self.build(pdu)


def system_group(pdu: SimulatedPdu, profile: SnmpProfile) -> list[ManagedObject]:
    return [
        ManagedObject(SYSTEM + (1, 0), OctetString, lambda: profile.sys_descr),
        ManagedObject(SYSTEM + (2, 0), ObjectIdentifier, lambda: profile.sys_object_id),
        ManagedObject(SYSTEM + (3, 0), TimeTicks, lambda: int(pdu.uptime_s() * 100)),
        ManagedObject(SYSTEM + (4, 0), OctetString, lambda: "dcpower simulator"),
        ManagedObject(SYSTEM + (5, 0), OctetString, lambda: pdu.name),
        ManagedObject(SYSTEM + (6, 0), OctetString, lambda: "simulated rack"),
        ManagedObject(SYSTEM + (7, 0), Integer, lambda: 72),
    ]


# --- helpers -------------------------------------------------------------------------------


def per_outlet(
    pdu: SimulatedPdu,
    column: Oid,
    index: Callable[[int], Oid],
    syntax: type,
    get: Callable[[int], object],
    set: Callable[[int, object], None] | None = None,
    check: Callable[[int, object], None] | None = None,
) -> list[ManagedObject]:
    """One object per outlet: ``column + index(n)``. ``check`` refuses a SET value before any
    varbind of the request is applied (see ManagedObject.check)."""
    return [
        ManagedObject(
            column + index(n),
            syntax,
            (lambda n=n: get(n)),
            None if set is None else (lambda value, n=n: set(n, value)),
            None if check is None else (lambda value, n=n: check(n, value)),
            column=column,
        )
        for n in pdu.outlets
    ]


def one_of(*allowed: int) -> Callable[[int, int], None]:
    """A SET check: the value must be one of ``allowed`` (else wrongValue)."""

    def check(n: int, value: int) -> None:
        if value not in allowed:
            raise InvalidValue(f"{value} is not one of {allowed}")

    return check


def in_range(low: int, high: int) -> Callable[[int, int], None]:
    """A SET check: the value must be within ``low..high`` (else wrongValue)."""

    def check(n: int, value: int) -> None:
        if not low <= value <= high:
            raise InvalidValue(f"{value} is outside {low}..{high}")

    return check


def reading(pdu: SimulatedPdu, n: int):
    return pdu.snapshot().outlets[n]


def command(pdu: SimulatedPdu, n: int, action: Action, delay_s: float = 0.0) -> None:
    try:
        pdu.command(n, action, delay_s=delay_s)
    except CommandRejected as exc:
        raise Refused(str(exc)) from exc


def set_name(pdu: SimulatedPdu, n: int, value: bytes) -> None:
    pdu.outlet(n).name = value.decode(errors="replace")


def set_off_period(pdu: SimulatedPdu, low: int, high: int) -> Callable[[int, int], None]:
    def setter(n: int, seconds: int) -> None:
        if not low <= seconds <= high:
            raise InvalidValue(f"off period must be {low}..{high} s")
        pdu.outlet(n).off_period_s = float(seconds)

    return setter


def off_period(pdu: SimulatedPdu, n: int) -> int:
    return round(pdu.off_period_of(pdu.outlet(n)))


# --- APC rPDU2 (PowerNet-MIB, 1.3.6.1.4.1.318.1.1.26) ---------------------------------------

APC_RPDU2 = (1, 3, 6, 1, 4, 1, 318, 1, 1, 26)


def build_apc_rpdu2(pdu: SimulatedPdu) -> list[ManagedObject]:
    idx = lambda n: (n,)  # noqa: E731 - rows are indexed by outlet (module 1)
    delays = {n: {"on": 0, "off": 0} for n in pdu.outlets}
    snap = pdu.snapshot

    def control_set(n: int, value: int) -> None:
        # rPDU2OutletSwitchedControlCommand: 1 immediateOn, 2 immediateOff, 3 immediateReboot,
        # 4 outletUnknown (read only), 5 delayedOn, 6 delayedOff, 7 delayedReboot, 8 cancel.
        if value == 8:
            pdu.cancel(n)
            return
        actions = {
            1: (Action.ON, 0),
            2: (Action.OFF, 0),
            3: (Action.REBOOT, 0),
            5: (Action.ON, delays[n]["on"]),
            6: (Action.OFF, delays[n]["off"]),
            7: (Action.REBOOT, delays[n]["off"]),
        }
        if value not in actions:
            raise InvalidValue(value)
        action, delay = actions[value]
        command(pdu, n, action, delay_s=max(0, delay))

    def delay_setter(kind: str):
        def setter(n: int, seconds: int) -> None:
            if not -1 <= seconds <= 7200:
                raise InvalidValue(seconds)
            delays[n][kind] = seconds

        return setter

    cfg, status, control = (
        APC_RPDU2 + (9, 2, 1, 1),
        APC_RPDU2 + (9, 2, 3, 1),
        APC_RPDU2 + (9, 2, 4, 1),
    )
    metered = APC_RPDU2 + (9, 4, 3, 1)
    objects: list[ManagedObject] = []
    for table in (cfg, status, control, metered):
        objects += per_outlet(pdu, table + (1,), idx, Integer, lambda n: n)  # Index
        objects += per_outlet(pdu, table + (2,), idx, Integer, lambda n: 1)  # Module
        objects += per_outlet(
            pdu,
            table + (3,),
            idx,
            OctetString,
            lambda n: pdu.outlet(n).name,
            set_name_for(pdu) if table == cfg else None,
        )
        objects += per_outlet(pdu, table + (4,), idx, Integer, lambda n: n)  # Number
    objects += per_outlet(
        pdu,
        cfg + (5,),
        idx,
        Integer,
        lambda n: delays[n]["on"],
        delay_setter("on"),
        in_range(-1, 7200),
    )
    objects += per_outlet(
        pdu,
        cfg + (6,),
        idx,
        Integer,
        lambda n: delays[n]["off"],
        delay_setter("off"),
        in_range(-1, 7200),
    )
    objects += per_outlet(
        pdu,
        cfg + (7,),
        idx,
        Integer,
        lambda n: off_period(pdu, n),
        set_off_period(pdu, 5, 60),
        in_range(5, 60),
    )
    # Status: off(1), on(2); CommandPending: pending(1), none(2).
    objects += per_outlet(
        pdu, status + (5,), idx, Integer, lambda n: 2 if reading(pdu, n).on else 1
    )
    objects += per_outlet(
        pdu, status + (6,), idx, Integer, lambda n: 1 if reading(pdu, n).pending is not None else 2
    )
    # Control: GET answers immediateOn(1) or immediateOff(2).
    objects += per_outlet(
        pdu,
        control + (5,),
        idx,
        Integer,
        lambda n: 1 if reading(pdu, n).on else 2,
        control_set,
        one_of(1, 2, 3, 5, 6, 7, 8),  # 4 outletUnknown is read only
    )
    objects += per_outlet(
        pdu, metered + (6,), idx, Gauge32, lambda n: round(reading(pdu, n).current_a * 10)
    )
    objects += per_outlet(
        pdu, metered + (7,), idx, Gauge32, lambda n: round(reading(pdu, n).power_w)
    )
    objects += per_outlet(
        pdu, metered + (8,), idx, Gauge32, lambda n: round(reading(pdu, n).power_w)
    )
    objects += per_outlet(
        pdu, metered + (11,), idx, Gauge32, lambda n: round(reading(pdu, n).energy_wh / 100)
    )
    # Device status (index 1): power in hundredths of kW, energy in tenths of kWh.
    device = APC_RPDU2 + (4, 3, 1)
    objects += [
        ManagedObject(device + (1, 1), Integer, lambda: 1),
        ManagedObject(device + (2, 1), Integer, lambda: 1),
        ManagedObject(device + (3, 1), OctetString, lambda: pdu.name),
        ManagedObject(device + (5, 1), Integer, lambda: round(snap().power_w / 10)),
        ManagedObject(device + (6, 1), Integer, lambda: round(snap().power_w / 10)),
        ManagedObject(device + (9, 1), Integer, lambda: round(snap().energy_wh / 100)),
    ]
    # Phase status (index phase): current tenths of A, voltage V, power hundredths of kW.
    phase_table = APC_RPDU2 + (6, 3, 1)
    for phase in range(1, pdu.phase_count + 1):
        p = phase - 1
        objects += [
            ManagedObject(phase_table + (1, phase), Integer, lambda phase=phase: phase),
            ManagedObject(phase_table + (2, phase), Integer, lambda: 1),
            ManagedObject(phase_table + (3, phase), Integer, lambda phase=phase: phase),
            ManagedObject(
                phase_table + (5, phase),
                Integer,
                lambda p=p: round(snap().phases[p].current_a * 10),
            ),
            ManagedObject(
                phase_table + (6, phase), Integer, lambda p=p: round(snap().phases[p].voltage_v)
            ),
            ManagedObject(
                phase_table + (7, phase), Integer, lambda p=p: round(snap().phases[p].power_w / 10)
            ),
        ]
    return objects


def set_name_for(pdu: SimulatedPdu) -> Callable[[int, bytes], None]:
    return lambda n, value: set_name(pdu, n, value)


# --- Raritan PX (PDU2-MIB, 1.3.6.1.4.1.13742.6), index pduId.outlet ---------------------------

RARITAN = (1, 3, 6, 1, 4, 1, 13742, 6)
RARITAN_PDU_ID = 1
# sensorType -> (decimal digits, value from an outlet reading in the sensor's unit)
RARITAN_OUTLET_SENSORS = {
    1: (3, lambda r: r.current_a),  # rmsCurrent, A
    4: (0, lambda r: r.voltage_v),  # rmsVoltage, V
    5: (0, lambda r: r.power_w),  # activePower, W
    6: (0, lambda r: r.apparent_power_va),  # apparentPower, VA
    7: (2, lambda r: r.power_factor),  # powerFactor
    8: (0, lambda r: r.energy_wh),  # activeEnergy, Wh
    14: (0, lambda r: 0),  # onOff: its state column says on(7)/off(8)
}
RARITAN_INLET_SENSORS = {
    1: (3, lambda s: s.current_a),
    4: (0, lambda s: s.voltage_v),
    5: (0, lambda s: s.power_w),
    6: (0, lambda s: s.apparent_power_va),
    8: (0, lambda s: s.energy_wh),
    23: (1, lambda s: s.frequency_hz),  # frequency
}
SENSOR_STATE_NORMAL, SENSOR_STATE_ON, SENSOR_STATE_OFF = 4, 7, 8


def build_raritan_px(pdu: SimulatedPdu) -> list[ManagedObject]:
    p = RARITAN_PDU_ID
    idx = lambda n: (p, n)  # noqa: E731

    def switching_set(n: int, value: int) -> None:
        actions = {0: Action.OFF, 1: Action.ON, 2: Action.REBOOT}  # off(0), on(1), cycle(2)
        if value not in actions:
            raise InvalidValue(value)
        command(pdu, n, actions[value])

    def on_off_state(n: int) -> int:
        return SENSOR_STATE_ON if reading(pdu, n).on else SENSOR_STATE_OFF

    outlet_cfg = RARITAN + (3, 5, 3, 1)
    objects = per_outlet(pdu, outlet_cfg + (2,), idx, OctetString, lambda n: str(n))  # label
    objects += per_outlet(
        pdu, outlet_cfg + (3,), idx, OctetString, lambda n: pdu.outlet(n).name, set_name_for(pdu)
    )
    objects += per_outlet(
        pdu,
        outlet_cfg + (12,),
        idx,
        Unsigned32,
        lambda n: off_period(pdu, n),
        set_off_period(pdu, 1, 3600),
        in_range(1, 3600),
    )
    switch = RARITAN + (4, 1, 2, 1)
    objects += per_outlet(
        pdu,
        switch + (2,),
        idx,
        Integer,
        lambda n: 1 if reading(pdu, n).on else 0,
        switching_set,
        one_of(0, 1, 2),
    )
    objects += per_outlet(pdu, switch + (3,), idx, Integer, on_off_state)
    for sensor, (digits, value_of) in RARITAN_OUTLET_SENSORS.items():
        sidx = lambda n, s=sensor: (p, n, s)  # noqa: E731
        objects += per_outlet(
            pdu, RARITAN + (3, 5, 4, 1, 7), sidx, Unsigned32, lambda n, d=digits: d
        )
        measurements = RARITAN + (5, 4, 3, 1)
        objects += per_outlet(pdu, measurements + (2,), sidx, Integer, lambda n: 1)  # available
        objects += per_outlet(
            pdu,
            measurements + (3,),
            sidx,
            Integer,
            on_off_state if sensor == 14 else (lambda n: SENSOR_STATE_NORMAL),
        )
        objects += per_outlet(
            pdu,
            measurements + (4,),
            sidx,
            Unsigned32,
            lambda n, d=digits, f=value_of: round(f(reading(pdu, n)) * 10**d),
        )
    inlet = 1
    for sensor, (digits, value_of) in RARITAN_INLET_SENSORS.items():
        index = (p, inlet, sensor)
        objects += [
            ManagedObject(RARITAN + (3, 3, 4, 1, 7) + index, Unsigned32, lambda d=digits: d),
            ManagedObject(RARITAN + (5, 2, 3, 1, 2) + index, Integer, lambda: 1),
            ManagedObject(RARITAN + (5, 2, 3, 1, 3) + index, Integer, lambda: SENSOR_STATE_NORMAL),
            ManagedObject(
                RARITAN + (5, 2, 3, 1, 4) + index,
                Unsigned32,
                lambda d=digits, f=value_of: round(f(pdu.snapshot()) * 10**d),
            ),
        ]
    return objects


# --- ServerTech Sentry4 (Sentry4-MIB, 1.3.6.1.4.1.1718.4.1), index unit.cord.outlet ------------

SENTRY4 = (1, 3, 6, 1, 4, 1, 1718, 4, 1)
SENTRY4_UNIT, SENTRY4_CORD = 1, 1


def sentry4_control_state(pdu: SimulatedPdu, n: int) -> int:
    """st4OutletControlState: pendOn(8) "off, but will be turning on", pendOff(9), off(10),
    on(11). A pending state means the relay has NOT moved yet."""
    r = reading(pdu, n)
    # The *next* move, not the final state: a reboot is pendOff until the relay opens.
    if r.next_move is True and not r.on:
        return 8
    if r.next_move is False and r.on:
        return 9
    return 11 if r.on else 10


def build_sentry4(pdu: SimulatedPdu) -> list[ManagedObject]:
    idx = lambda n: (SENTRY4_UNIT, SENTRY4_CORD, n)  # noqa: E731

    def action_set(n: int, value: int) -> None:
        # st4OutletControlAction: none 0, on 1, off 2, reboot 3, queueOn 4, queueOff 5,
        # queueReboot 6 (queued actions run in the unit's sequence; here, at once).
        actions = {
            1: Action.ON,
            2: Action.OFF,
            3: Action.REBOOT,
            4: Action.ON,
            5: Action.OFF,
            6: Action.REBOOT,
        }
        if value == 0:
            return
        if value not in actions:
            raise InvalidValue(value)
        command(pdu, n, actions[value])

    config, monitor, control = SENTRY4 + (8, 2, 1), SENTRY4 + (8, 3, 1), SENTRY4 + (8, 5, 1)
    objects = per_outlet(pdu, config + (1,), idx, OctetString, lambda n: f"AA{n}")  # ID
    objects += per_outlet(
        pdu, config + (2,), idx, OctetString, lambda n: pdu.outlet(n).name, set_name_for(pdu)
    )
    objects += per_outlet(
        pdu, monitor + (1,), idx, Integer, lambda n: 1 if reading(pdu, n).on else 2
    )  # on 1, off 2
    objects += per_outlet(
        pdu, monitor + (3,), idx, Integer, lambda n: round(reading(pdu, n).current_a * 100)
    )
    objects += per_outlet(
        pdu, monitor + (6,), idx, Integer, lambda n: round(reading(pdu, n).voltage_v * 10)
    )
    objects += per_outlet(
        pdu, monitor + (7,), idx, Integer, lambda n: round(reading(pdu, n).power_w)
    )
    objects += per_outlet(
        pdu, monitor + (9,), idx, Integer, lambda n: round(reading(pdu, n).apparent_power_va)
    )
    objects += per_outlet(
        pdu, monitor + (10,), idx, Integer, lambda n: round(reading(pdu, n).power_factor * 100)
    )
    objects += per_outlet(
        pdu, monitor + (14,), idx, Integer, lambda n: round(reading(pdu, n).energy_wh)
    )
    objects += per_outlet(
        pdu, control + (1,), idx, Integer, lambda n: sentry4_control_state(pdu, n)
    )
    objects += per_outlet(
        pdu, control + (2,), idx, Integer, lambda n: 0, action_set, one_of(0, 1, 2, 3, 4, 5, 6)
    )
    cord = (SENTRY4_UNIT, SENTRY4_CORD)
    objects += [
        ManagedObject(SENTRY4 + (3, 2, 1, 2) + cord, OctetString, lambda: "AA"),
        ManagedObject(SENTRY4 + (3, 2, 1, 3) + cord, OctetString, lambda: "Master_Cord_A"),
        ManagedObject(
            SENTRY4 + (3, 2, 1, 7) + cord, Integer, lambda: round(pdu.nominal_voltage * 10)
        ),
        ManagedObject(
            SENTRY4 + (3, 3, 1, 3) + cord, Integer, lambda: round(pdu.snapshot().power_w)
        ),
        ManagedObject(
            SENTRY4 + (3, 3, 1, 10) + cord, Integer, lambda: round(pdu.snapshot().energy_wh / 100)
        ),
    ]
    return objects


# --- Eaton ePDU (EATON-EPDU-MIB, 1.3.6.1.4.1.534.6.6.7), index strapping.outlet ---------------

EATON = (1, 3, 6, 1, 4, 1, 534, 6, 6, 7)
EATON_STRAPPING = 0


def eaton_control_status(pdu: SimulatedPdu, n: int) -> int:
    """outletControlStatus: off 0, on 1, pendingOff 2, pendingOn 3."""
    r = reading(pdu, n)
    # The *next* move, not the final state: a reboot is pendingOff until the relay opens.
    if r.next_move is False and r.on:
        return 2
    if r.next_move is True and not r.on:
        return 3
    return 1 if r.on else 0


def build_eaton_epdu(pdu: SimulatedPdu) -> list[ManagedObject]:
    idx = lambda n: (EATON_STRAPPING, n)  # noqa: E731

    def command_column(action: Action):
        # outletControlOffCmd (.3) / OnCmd (.4) / RebootCmd (.5): 0 now, n seconds later,
        # -1 cancels a pending command.
        def setter(n: int, value: int) -> None:
            if value == -1:
                pdu.cancel(n)
            elif 0 <= value <= 99999:
                command(pdu, n, action, delay_s=value)
            else:
                raise InvalidValue(value)

        return setter

    def input_value(f):
        return lambda: f(pdu.snapshot())

    cfg, control = EATON + (6, 1, 1), EATON + (6, 6, 1)
    objects = per_outlet(pdu, cfg + (2,), idx, OctetString, lambda n: str(n))
    objects += per_outlet(
        pdu, cfg + (3,), idx, OctetString, lambda n: pdu.outlet(n).name, set_name_for(pdu)
    )
    objects += per_outlet(pdu, cfg + (6,), idx, OctetString, lambda n: f"A{n}")
    objects += per_outlet(
        pdu, EATON + (6, 3, 1, 2), idx, Integer, lambda n: round(reading(pdu, n).voltage_v * 1000)
    )  # mV
    objects += per_outlet(
        pdu, EATON + (6, 4, 1, 3), idx, Integer, lambda n: round(reading(pdu, n).current_a * 1000)
    )  # mA
    objects += per_outlet(
        pdu, EATON + (6, 5, 1, 2), idx, Integer, lambda n: round(reading(pdu, n).apparent_power_va)
    )
    objects += per_outlet(
        pdu, EATON + (6, 5, 1, 3), idx, Integer, lambda n: round(reading(pdu, n).power_w)
    )
    objects += per_outlet(
        pdu, EATON + (6, 5, 1, 4), idx, Gauge32, lambda n: round(reading(pdu, n).energy_wh)
    )
    objects += per_outlet(pdu, control + (2,), idx, Integer, lambda n: eaton_control_status(pdu, n))
    for column, action in ((3, Action.OFF), (4, Action.ON), (5, Action.REBOOT)):
        objects += per_outlet(
            pdu,
            control + (column,),
            idx,
            Integer,
            lambda n: -1,
            command_column(action),
            in_range(-1, 99999),
        )
    objects += per_outlet(
        pdu,
        control + (8,),
        idx,
        Integer,
        lambda n: off_period(pdu, n),
        set_off_period(pdu, 1, 99999),
        in_range(1, 99999),
    )
    inlet = (EATON_STRAPPING, 1, 1)  # strapping.input.index
    objects += [
        ManagedObject(
            EATON + (3, 2, 1, 3) + inlet, Integer, input_value(lambda s: round(s.voltage_v * 1000))
        ),
        ManagedObject(
            EATON + (3, 3, 1, 4) + inlet, Integer, input_value(lambda s: round(s.current_a * 1000))
        ),
        ManagedObject(
            EATON + (3, 4, 1, 3) + inlet, Integer, input_value(lambda s: round(s.apparent_power_va))
        ),
        ManagedObject(
            EATON + (3, 4, 1, 4) + inlet, Integer, input_value(lambda s: round(s.power_w))
        ),
        ManagedObject(
            EATON + (3, 4, 1, 5) + inlet, Gauge32, input_value(lambda s: round(s.energy_wh))
        ),
    ]
    return objects


# --- APC MasterSwitch (PowerNet-MIB sPDU, 1.3.6.1.4.1.318.1.1.4), index outlet --------------

APC_SPDU = (1, 3, 6, 1, 4, 1, 318, 1, 1, 4)
# sPDUOutletPowerOnTime / sPDUOutletPowerOffTime and sPDUOutletRebootDuration take only these
# values. PowerNet-MIB: "If a value other than a supported value is provided in a set request,
# the PDU interprets it as the next lower acceptable value. If the provided value is lower than
# the lowest acceptable value, the lowest acceptable value is used." Such a SET succeeds.
APC_SPDU_DELAYS = (-1, 0, 15, 30, 45, 60, 120, 300)
APC_SPDU_REBOOT_DURATIONS = (5, 10, 15, 20, 30, 45, 60)
APC_SPDU_NAME_MAX = 20  # sPDUOutletName: "Maximum size is 20 characters."


def next_lower(allowed: tuple[int, ...], value: int) -> int:
    """The MasterSwitch's reading of an unsupported value: the next lower allowed one, or the
    lowest allowed one."""
    lower = [a for a in allowed if a <= value]
    return max(lower) if lower else min(allowed)


def build_apc_masterswitch(pdu: SimulatedPdu) -> list[ManagedObject]:
    """The legacy MasterSwitch (AP9606 card, sysObjectID .318.1.3.4.2): sPDUOutletControlTable,
    sPDUOutletConfigTable and the sPDUMasterControl summary strings. The recorded walk of a
    real unit holds the system group and the control table only; the rest is from the MIB.
    The MasterSwitch meters nothing per outlet or phase: rPDULoadStatusLoad (.318.1.1.12)
    belongs to the later Rack PDU and is absent from the AP9606 walk, so no reading is served."""
    idx = lambda n: (n,)  # noqa: E731 - sPDUOutletControlIndex / sPDUOutletConfigIndex
    delays = {n: {"on": 0, "off": 0} for n in pdu.outlets}

    def control_set(n: int, value: int) -> None:
        # sPDUOutletCtl: outletOn 1, outletOff 2, outletReboot 3, outletUnknown 4 (read only),
        # outletOnWithDelay 5 (after sPDUOutletPowerOnTime), outletOffWithDelay 6 (after
        # sPDUOutletPowerOffTime), outletRebootWithDelay 7 (off after sPDUOutletPowerOffTime,
        # sPDUOutletRebootDuration, on). There is no cancel value.
        actions = {
            1: (Action.ON, 0),
            2: (Action.OFF, 0),
            3: (Action.REBOOT, 0),
            5: (Action.ON, delays[n]["on"]),
            6: (Action.OFF, delays[n]["off"]),
            7: (Action.REBOOT, delays[n]["off"]),
        }
        if value not in actions:
            raise InvalidValue(value)
        action, delay = actions[value]
        command(pdu, n, action, delay_s=max(0, delay))

    def delay_setter(kind: str):
        def setter(n: int, seconds: int) -> None:
            delays[n][kind] = next_lower(APC_SPDU_DELAYS, seconds)

        return setter

    def reboot_duration_set(n: int, seconds: int) -> None:
        pdu.outlet(n).off_period_s = float(next_lower(APC_SPDU_REBOOT_DURATIONS, seconds))

    def name_check(n: int, value: bytes) -> None:
        if len(value) > APC_SPDU_NAME_MAX:
            raise InvalidValue(f"an outlet name has at most {APC_SPDU_NAME_MAX} characters")

    def on_off_words(word: Callable[[int], str]) -> Callable[[], str]:
        # sPDUMasterState / sPDUMasterPending: one word per outlet, space-delimited.
        return lambda: " ".join(word(n) for n in sorted(pdu.outlets))

    control, config = APC_SPDU + (4, 2, 1), APC_SPDU + (5, 2, 1)
    objects = [
        ManagedObject(
            APC_SPDU + (2, 2, 0),
            OctetString,
            on_off_words(lambda n: "On" if reading(pdu, n).on else "Off"),
        ),
        ManagedObject(
            APC_SPDU + (2, 3, 0),
            OctetString,
            on_off_words(lambda n: "No" if reading(pdu, n).next_move is None else "Yes"),
        ),
        ManagedObject(APC_SPDU + (4, 1, 0), Integer, lambda: len(pdu.outlets)),  # TableSize
        ManagedObject(APC_SPDU + (5, 1, 0), Integer, lambda: len(pdu.outlets)),  # TableSize
    ]
    objects += per_outlet(pdu, control + (1,), idx, Integer, lambda n: n)  # Index
    # sPDUOutletPending: commandPending 1, noCommandPending 2 (commandPendingUnknown 3 only
    # for a PDU in an inconsistent state). A reboot is pending until the relay is back on.
    objects += per_outlet(
        pdu,
        control + (2,),
        idx,
        Integer,
        lambda n: 2 if reading(pdu, n).next_move is None else 1,
    )
    # sPDUOutletCtl: GET answers outletOn 1 or outletOff 2, the relay as it is now (outletUnknown
    # 4 only for a PDU in an inconsistent state).
    objects += per_outlet(
        pdu,
        control + (3,),
        idx,
        Integer,
        lambda n: 1 if reading(pdu, n).on else 2,
        control_set,
        one_of(1, 2, 3, 5, 6, 7),
    )
    # sPDUOutletCtlName: read-only, "set by the sPDUOutletName OID".
    objects += per_outlet(pdu, control + (4,), idx, OctetString, lambda n: pdu.outlet(n).name)
    objects += per_outlet(pdu, config + (1,), idx, Integer, lambda n: n)  # Index
    objects += per_outlet(
        pdu,
        config + (2,),
        idx,
        Integer,
        lambda n: delays[n]["on"],
        delay_setter("on"),
    )  # sPDUOutletPowerOnTime
    objects += per_outlet(
        pdu,
        config + (3,),
        idx,
        OctetString,
        lambda n: pdu.outlet(n).name,
        set_name_for(pdu),
        name_check,
    )  # sPDUOutletName
    objects += per_outlet(
        pdu,
        config + (4,),
        idx,
        Integer,
        lambda n: delays[n]["off"],
        delay_setter("off"),
    )  # sPDUOutletPowerOffTime
    objects += per_outlet(
        pdu,
        config + (5,),
        idx,
        Integer,
        lambda n: off_period(pdu, n),
        reboot_duration_set,
    )  # sPDUOutletRebootDuration
    return objects


# --- ServerTech Sentry3 (Sentry3-MIB, 1.3.6.1.4.1.1718.3), index tower.infeed.outlet ----------

SENTRY3 = (1, 3, 6, 1, 4, 1, 1718, 3)
SENTRY3_TOWER = 1
SENTRY3_MODEL = "CWG-30VDE455/CB"  # towerModelNumber of the recorded unit


def sentry3_outlet_index(pdu: SimulatedPdu) -> dict[int, tuple[int, int]]:
    """Outlet number -> (infeed, outlet on that infeed). A Sentry3 numbers outlets per input
    feed: the recorded three-phase CDU has infeeds AA, AB, AC with outlets 1.1.1-1.1.10,
    1.2.1-1.2.10 and 1.3.1-1.3.10. Here an infeed is a phase of the model."""
    by_infeed: dict[int, list[int]] = {}
    for n in sorted(pdu.outlets):
        by_infeed.setdefault(pdu.outlets[n].phase, []).append(n)
    return {
        n: (infeed, position)
        for infeed, members in by_infeed.items()
        for position, n in enumerate(members, start=1)
    }


def sentry3_outlet_status(pdu: SimulatedPdu, n: int) -> int:
    """outletStatus: off 0, on 1, offWait 2, onWait 3 (4-9 are error, fuse and noComm states,
    never shown by a healthy outlet). During a pending move the status shows the wait for the
    *next* move: offWait while the relay is still on and will open, onWait while it is still
    off and will close (a reboot is offWait, then onWait through its off period). (inference:
    the MIB names the states but does not define the wait ones.)"""
    r = reading(pdu, n)
    if r.next_move is False and r.on:
        return 2
    if r.next_move is True and not r.on:
        return 3
    return 1 if r.on else 0


def build_sentry3(pdu: SimulatedPdu) -> list[ManagedObject]:
    """A Sentry Switched CDU with per-outlet power sensing (POPS). The recorded CDU has no POPS:
    its walk holds outletID, outletName, outletLoadValue and outletLoadHighThresh but no
    outletVoltage/Power/Energy; the MIB defines those for POPS hardware and they are served."""
    index = sentry3_outlet_index(pdu)
    idx = lambda n: (SENTRY3_TOWER, *index[n])  # noqa: E731
    infeeds = sorted({infeed for infeed, _ in index.values()})
    letters = "ABCD"
    snap = pdu.snapshot

    def action_set(n: int, value: int) -> None:
        # outletControlAction: none 0, on 1, off 2, reboot 3.
        actions = {1: Action.ON, 2: Action.OFF, 3: Action.REBOOT}
        if value == 0:
            return
        if value not in actions:
            raise InvalidValue(value)
        command(pdu, n, actions[value])

    reboot_delay_range = in_range(5, 600)  # systemOutletRebootDelay INTEGER(5..600)

    def reboot_delay_check(seconds: int) -> None:
        reboot_delay_range(0, seconds)

    def reboot_delay_set(seconds: int) -> None:
        # Unit-wide: "The reboot delay for all outlets."
        reboot_delay_check(seconds)
        for outlet in pdu.outlets.values():
            outlet.off_period_s = float(seconds)
        pdu.reboot_off_s = float(seconds)

    system, tower = SENTRY3 + (1,), SENTRY3 + (2, 1, 1)
    objects = [
        ManagedObject(system + (1, 0), OctetString, lambda: "Sentry Switched CDU Version 7.1f"),
        ManagedObject(system + (4, 0), Integer, lambda: 1),  # systemTowerCount
        ManagedObject(system + (6, 0), Integer, lambda: round(snap().power_w)),  # W
        ManagedObject(
            system + (14, 0),
            Integer,
            lambda: round(pdu.reboot_off_s),
            reboot_delay_set,
            reboot_delay_check,
        ),  # systemOutletRebootDelay, 5..600 s
        ManagedObject(tower + (2, SENTRY3_TOWER), OctetString, lambda: "A"),  # towerID
        ManagedObject(tower + (5, SENTRY3_TOWER), Integer, lambda: len(infeeds)),
        ManagedObject(tower + (7, SENTRY3_TOWER), OctetString, lambda: SENTRY3_MODEL),
    ]
    infeed_table = SENTRY3 + (2, 2, 1)
    for infeed in infeeds:
        row = (SENTRY3_TOWER, infeed)
        p = infeed - 1
        letter = letters[infeed - 1]
        objects += [
            ManagedObject(infeed_table + (2,) + row, OctetString, lambda x=letter: f"A{x}"),
            ManagedObject(
                infeed_table + (3,) + row, OctetString, lambda x=letter: f"TowerA_Infeed{x}"
            ),
            ManagedObject(infeed_table + (5,) + row, Integer, lambda: 1),  # infeedStatus on
            # infeedLoadValue, hundredth Amps
            ManagedObject(
                infeed_table + (7,) + row,
                Integer,
                lambda p=p: round(snap().phases[p].current_a * 100),
            ),
            ManagedObject(
                infeed_table + (9,) + row,
                Integer,
                lambda i=infeed: sum(1 for f, _ in index.values() if f == i),
            ),  # infeedOutletCount
            # infeedVoltage, tenth Volts (the MIB: line-to-line; the model has one voltage)
            ManagedObject(
                infeed_table + (11,) + row,
                Integer,
                lambda p=p: round(snap().phases[p].voltage_v * 10),
            ),
            ManagedObject(
                infeed_table + (12,) + row, Integer, lambda p=p: round(snap().phases[p].power_w)
            ),  # infeedPower, Watts
            ManagedObject(
                infeed_table + (16,) + row,
                Integer,
                lambda p=p: round(snap().phases[p].energy_wh / 100),
            ),  # infeedEnergy, tenth Kilowatt-Hours
        ]
    outlet = SENTRY3 + (2, 3, 1)
    objects += per_outlet(
        pdu, outlet + (2,), idx, OctetString, lambda n: f"A{letters[index[n][0] - 1]}{index[n][1]}"
    )  # outletID, e.g. AA1, AB3
    objects += per_outlet(
        pdu, outlet + (3,), idx, OctetString, lambda n: pdu.outlet(n).name, set_name_for(pdu)
    )
    objects += per_outlet(pdu, outlet + (5,), idx, Integer, lambda n: sentry3_outlet_status(pdu, n))
    objects += per_outlet(
        pdu, outlet + (7,), idx, Integer, lambda n: round(reading(pdu, n).current_a * 100)
    )  # outletLoadValue, hundredth Amps
    objects += per_outlet(
        pdu, outlet + (11,), idx, Integer, lambda n: 0, action_set, one_of(0, 1, 2, 3)
    )  # outletControlAction; reads none(0)
    objects += per_outlet(
        pdu, outlet + (13,), idx, Integer, lambda n: round(reading(pdu, n).voltage_v * 10)
    )  # outletVoltage, tenth Volts
    objects += per_outlet(
        pdu, outlet + (14,), idx, Integer, lambda n: round(reading(pdu, n).power_w)
    )  # outletPower, Watts
    objects += per_outlet(
        pdu, outlet + (15,), idx, Integer, lambda n: round(reading(pdu, n).apparent_power_va)
    )  # outletApparentPower, Volt-Amps
    objects += per_outlet(
        pdu, outlet + (16,), idx, Integer, lambda n: round(reading(pdu, n).power_factor * 100)
    )  # outletPowerFactor, hundredths
    objects += per_outlet(
        pdu, outlet + (18,), idx, Integer, lambda n: round(reading(pdu, n).energy_wh)
    )  # outletEnergy, Watt-Hours
    return objects


# --- CyberPower ePDU (CPS-MIB ePDU, 1.3.6.1.4.1.3808.1.1.3), index outlet --------------------

CYBERPOWER = (1, 3, 6, 1, 4, 1, 3808, 1, 1, 3)


def build_cyberpower_epdu(pdu: SimulatedPdu) -> list[ManagedObject]:
    """A switched, outlet-metered CyberPower ePDU: the outlet control, config and status tables
    and the phase rows of ePDULoadStatusTable. Checked against the recorded PDU44005 (whose
    sysObjectID is .3808.1.1.6, ePDU2, although it answers the ePDU tables; that unit is not
    outlet-metered: ePDUOutletDevMonitoredOutlets 0 and every outlet load 0)."""
    idx = lambda n: (n,)  # noqa: E731 - ePDUOutlet{Control,Config,Status}Index
    delays = {n: {"on": 0, "off": 0} for n in pdu.outlets}
    snap = pdu.snapshot

    def command_set(n: int, value: int) -> None:
        # ePDUOutletControlOutletCommand: immediateOn 1, immediateOff 2, immediateReboot 3,
        # delayedOn 4 (after ePDUOutletConfigPowerOnTime), delayedOff 5 (after ...PowerOffTime),
        # delayedReboot 6 (delayedOff, ...RebootDuration, delayedOn), cancelPendingCommand 7,
        # outletIdentify 8 (the PDU's LED shows the outlet number: no relay moves).
        if value == 7:
            pdu.cancel(n)
            return
        if value == 8:
            return
        actions = {
            1: (Action.ON, 0),
            2: (Action.OFF, 0),
            3: (Action.REBOOT, 0),
            4: (Action.ON, delays[n]["on"]),
            5: (Action.OFF, delays[n]["off"]),
            6: (Action.REBOOT, delays[n]["off"]),
        }
        if value not in actions:
            raise InvalidValue(value)
        action, delay = actions[value]
        command(pdu, n, action, delay_s=max(0, delay))

    def delay_setter(kind: str):
        def setter(n: int, seconds: int) -> None:
            if not -1 <= seconds <= 7200:
                raise InvalidValue(seconds)
            delays[n][kind] = seconds

        return setter

    def phase_of(n: int) -> int:
        return pdu.outlet(n).phase  # phase1 1, phase2 2, phase3 3

    control, config = CYBERPOWER + (3, 3, 1, 1), CYBERPOWER + (3, 4, 1, 1)
    status = CYBERPOWER + (3, 5, 1, 1)
    objects = [
        ManagedObject(CYBERPOWER + (3, 1, 3, 0), Integer, lambda: len(pdu.outlets)),
        ManagedObject(CYBERPOWER + (3, 1, 4, 0), Integer, lambda: len(pdu.outlets)),
    ]  # ePDUOutletDevNumCntrlOutlets / ePDUOutletDevNumTotalOutlets
    for table in (control, config, status):
        objects += per_outlet(pdu, table + (1,), idx, Integer, lambda n: n)  # Index
        objects += per_outlet(
            pdu,
            table + (2,),
            idx,
            OctetString,
            lambda n: pdu.outlet(n).name,
            set_name_for(pdu) if table == config else None,
        )  # OutletName: written in the config table only
        objects += per_outlet(pdu, table + (3,), idx, Integer, phase_of)  # OutletPhase
    objects += per_outlet(
        pdu,
        control + (4,),
        idx,
        Integer,
        lambda n: 1 if reading(pdu, n).on else 2,
        command_set,
        one_of(1, 2, 3, 4, 5, 6, 7, 8),
    )  # ePDUOutletControlOutletCommand: GET answers immediateOn 1 / immediateOff 2
    objects += per_outlet(pdu, control + (5,), idx, Integer, lambda n: 1)  # OutletBank
    objects += per_outlet(
        pdu,
        config + (4,),
        idx,
        Integer,
        lambda n: delays[n]["on"],
        delay_setter("on"),
        in_range(-1, 7200),
    )  # ePDUOutletConfigPowerOnTime
    objects += per_outlet(
        pdu,
        config + (5,),
        idx,
        Integer,
        lambda n: delays[n]["off"],
        delay_setter("off"),
        in_range(-1, 7200),
    )  # ePDUOutletConfigPowerOffTime
    objects += per_outlet(
        pdu,
        config + (6,),
        idx,
        Integer,
        lambda n: off_period(pdu, n),
        set_off_period(pdu, 5, 60),
        in_range(5, 60),
    )  # ePDUOutletConfigRebootDuration: "any value between 5 and 60 seconds"
    objects += per_outlet(pdu, config + (7,), idx, Integer, lambda n: 1)  # OutletBank
    # ePDUOutletStatusOutletState: outletStatusOn 1, outletStatusOff 2.
    objects += per_outlet(
        pdu, status + (4,), idx, Integer, lambda n: 1 if reading(pdu, n).on else 2
    )
    # ePDUOutletStatusCommandPending: outletStatusCommandPending 1, ...NoCommandPending 2.
    objects += per_outlet(
        pdu,
        status + (5,),
        idx,
        Integer,
        lambda n: 2 if reading(pdu, n).next_move is None else 1,
    )
    objects += per_outlet(pdu, status + (6,), idx, Integer, lambda n: 1)  # OutletBank
    objects += per_outlet(
        pdu, status + (7,), idx, Gauge32, lambda n: round(reading(pdu, n).current_a * 10)
    )  # ePDUOutletStatusLoad, tenths of Amps
    objects += per_outlet(
        pdu, status + (8,), idx, Gauge32, lambda n: round(reading(pdu, n).power_w)
    )  # ePDUOutletStatusActivePower, watts
    objects += per_outlet(pdu, status + (9,), idx, Integer, lambda n: 1)  # Alarm: noLoadAlarm
    # ePDUOutletStatusEnergy, tenths of kWh. The MIB says Gauge; the recorded PDU44005 answers
    # it as INTEGER, and so does the simulator.
    objects += per_outlet(
        pdu, status + (13,), idx, Integer, lambda n: round(reading(pdu, n).energy_wh / 100)
    )
    # ePDULoadStatusTable: one row per phase (a PDU with banks lists them after the phases).
    load = CYBERPOWER + (2, 3, 1, 1)
    for phase in range(1, pdu.phase_count + 1):
        p = phase - 1

        def apparent(phase: int = phase) -> float:
            s = snap()
            return sum(r.apparent_power_va for n, r in s.outlets.items() if phase_of(n) == phase)

        objects += [
            ManagedObject(load + (1, phase), Integer, lambda phase=phase: phase),  # Index
            ManagedObject(
                load + (2, phase), Gauge32, lambda p=p: round(snap().phases[p].current_a * 10)
            ),  # ePDULoadStatusLoad, tenths of Amps
            ManagedObject(load + (3, phase), Integer, lambda: 1),  # LoadState: loadNormal
            ManagedObject(load + (4, phase), Integer, lambda phase=phase: phase),  # PhaseNumber
            ManagedObject(load + (5, phase), Integer, lambda: 0),  # BankNumber: phase row
            ManagedObject(
                load + (6, phase), Integer, lambda p=p: round(snap().phases[p].voltage_v * 10)
            ),  # ePDULoadStatusVoltage, 0.1 V
            ManagedObject(
                load + (7, phase), Integer, lambda p=p: round(snap().phases[p].power_w)
            ),  # ePDULoadStatusActivePower, W
            ManagedObject(load + (8, phase), Integer, lambda f=apparent: round(f())),  # VA
            ManagedObject(
                load + (10, phase), Integer, lambda p=p: round(snap().phases[p].energy_wh / 100)
            ),  # ePDULoadStatusEnergy, 0.1 kWh
        ]
    return objects


PROFILES: dict[str, SnmpProfile] = {
    profile.name: profile
    for profile in (
        SnmpProfile(
            name="apc_rpdu2",
            sys_object_id=(1, 3, 6, 1, 4, 1, 318, 1, 3, 4, 6),
            sys_descr="APC Web/SNMP Management Card (MB:v4.1.0 PF:v6.4.0 "
            "PN:apc_hw05_aos_640.bin AN1:apc_hw05_rpdu2g_640.bin MN:AP8959EU3 HR:02)",
            subtree=(1, 3, 6, 1, 4, 1, 318),
            build=build_apc_rpdu2,
        ),
        SnmpProfile(
            name="raritan_px",
            sys_object_id=(1, 3, 6, 1, 4, 1, 13742, 6),
            sys_descr="Raritan PDU, MD:PX3-5493U-K2 HW:0x10 FW:4.2.0.5-50274",
            subtree=(1, 3, 6, 1, 4, 1, 13742),
            build=build_raritan_px,
        ),
        SnmpProfile(
            name="servertech_sentry4",
            sys_object_id=(1, 3, 6, 1, 4, 1, 1718, 4),
            sys_descr="Sentry Smart PDU",
            subtree=(1, 3, 6, 1, 4, 1, 1718),
            build=build_sentry4,
        ),
        SnmpProfile(
            name="eaton_epdu",
            sys_object_id=(1, 3, 6, 1, 4, 1, 534, 6, 6, 7),
            sys_descr="ePDU MA 00U-C IN: L6-30P 24A 1P OUT: 24XC13",
            subtree=(1, 3, 6, 1, 4, 1, 534),
            build=build_eaton_epdu,
        ),
        SnmpProfile(
            name="apc_masterswitch",
            sys_object_id=(1, 3, 6, 1, 4, 1, 318, 1, 3, 4, 2),
            sys_descr="APC Web/SNMP Management Card (MB:v3.2.0 PF:v3.0.9.a PN:aos309a.bin "
            "AF1:v2.2.5.a AN1:ms225a.bin MN: AP9606 HR: G9 MD: 04/05/2000)",
            subtree=(1, 3, 6, 1, 4, 1, 318),
            build=build_apc_masterswitch,
        ),
        SnmpProfile(
            name="servertech_sentry3",
            sys_object_id=(1, 3, 6, 1, 4, 1, 1718, 3),
            sys_descr="Sentry Switched CDU",
            subtree=(1, 3, 6, 1, 4, 1, 1718),
            build=build_sentry3,
        ),
        SnmpProfile(
            name="cyberpower_epdu",
            sys_object_id=(1, 3, 6, 1, 4, 1, 3808, 1, 1, 3),
            sys_descr="CPS Power Distributed Unit",
            subtree=(1, 3, 6, 1, 4, 1, 3808),
            build=build_cyberpower_epdu,
        ),
    )
}
