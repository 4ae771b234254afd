"""SNMP vendor profiles, as data: one row per vendor.

Each row names the vendor's own objects (written from its MIB; see
../shared/reference/PROTOCOLS.md), its index shape, its value enums including pending states,
its scaling to SI units, and whether it accepts several OIDs in one SET. The generic driver in
``driver.py`` reads these rows; a vendor that needs real code has a small driver subclass
(see ``RARITAN_PX``). State always comes from the STATUS object, never from reading the
control object back (the mistake of Ironic's and MAAS's drivers), except for APC MasterSwitch
and CyberPower, whose control object *is* documented to read back the outlet's state.

OIDs are tuples of ints; a "column" is a table column without its index, and an outlet's row
index is ``outlet_index_prefix + (outlet,)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from power.drivers.base import OutletState, SwitchAction

Oid = tuple[int, ...]
ON, OFF, PENDING, UNKNOWN = (
    OutletState.ON,
    OutletState.OFF,
    OutletState.PENDING,
    OutletState.UNKNOWN,
)


@dataclass(frozen=True)
class Metric:
    """A numeric object and the factor that turns its raw value into SI units (A, V, W) or
    kWh. Negative raw values mean "not supported" on every vendor here and read as None."""

    oid: Oid
    scale: float = 1.0


@dataclass(frozen=True)
class SnmpVendor:
    name: str
    title: str
    sys_object_ids: tuple[Oid, ...]  # sysObjectID prefixes identifying the vendor (auto)
    outlet_index_prefix: Oid  # outlet n's row index is prefix + (n,)
    status: Oid | None  # the outlet state column
    status_values: Mapping[int, OutletState]
    commands: Mapping[SwitchAction, tuple[Oid, int]]  # action -> (column, value to SET)
    outlet_name: Oid | None = None  # the outlet name column
    # A second column whose listed values override the state with PENDING (APC's
    # CommandPending, Sentry4's st4OutletControlState pendOn/pendOff).
    pending: Oid | None = None
    pending_values: frozenset[int] = frozenset()
    outlet_current: Metric | None = None
    outlet_power: Metric | None = None
    outlet_energy: Metric | None = None
    # PDU totals: scalar instances (full OIDs).
    total_voltage: Metric | None = None
    total_current: Metric | None = None
    total_power: Metric | None = None
    total_energy: Metric | None = None
    # Per phase (or inlet) columns; phase p's instance is column + phase_index_prefix + (p,).
    phase_index_prefix: Oid = ()
    phase_voltage: Metric | None = None
    phase_current: Metric | None = None
    phase_power: Metric | None = None
    phase_energy: Metric | None = None  # summed into the total when total_energy is None
    # A phase table that also holds bank rows (CyberPower ePDULoadStatusTable): only rows whose
    # phase_bank column is 0 are phases, numbered by their phase_number column.
    phase_bank: Oid | None = None
    phase_number: Oid | None = None
    multi_oid_set: bool = True  # several outlets in one SET request
    command_spacing_s: float = 0.0  # pause the caller keeps between commands to one device
    extra: Mapping[str, object] = field(default_factory=dict)  # vendor-specific constants

    def outlet_index(self, number: int) -> Oid:
        return self.outlet_index_prefix + (number,)

    def outlet_number(self, index: Oid) -> int | None:
        """The outlet number of a row index, or None for a row of another unit/PDU."""
        prefix = self.outlet_index_prefix
        if len(index) != len(prefix) + 1 or index[: len(prefix)] != prefix:
            return None
        return index[-1]


def _enterprise(*parts: int) -> Oid:
    return (1, 3, 6, 1, 4, 1, *parts)


APC = _enterprise(318)
APC_RPDU2 = APC + (1, 1, 26)
RARITAN = _enterprise(13742, 6)
SENTRY3 = _enterprise(1718, 3)
SENTRY4 = _enterprise(1718, 4, 1)
EATON = _enterprise(534, 6, 6, 7)
CYBERPOWER = _enterprise(3808, 1, 1, 3)

VENDORS: dict[str, SnmpVendor] = {}


def _register(vendor: SnmpVendor) -> SnmpVendor:
    VENDORS[vendor.name] = vendor
    return vendor


# APC Rack PDU 2 (PowerNet-MIB rPDU2). rPDU2OutletSwitchedStatusState is off(1), on(2): the
# opposite of the legacy rPDU. CommandPending pending(1). Metered current in tenths of A,
# energy in tenths of kWh; device power in hundredths of kW.
# A real AP8959EU3 (rpdu2g 6.4.0; recording librenms__apc_ap8959eu3) answers with its outlets'
# names and states in the legacy sPDUOutletControlTable and no rPDU2 outlet table: the driver
# then reads and switches that table, as the "legacy_outlets" profile (ApcRpdu2Driver).
_register(
    SnmpVendor(
        name="apc_rpdu2",
        title="APC Rack PDU 2 (PowerNet-MIB rPDU2)",
        sys_object_ids=(APC + (1, 3, 4, 6),),
        outlet_index_prefix=(),
        status=APC_RPDU2 + (9, 2, 3, 1, 5),
        status_values={1: OFF, 2: ON},
        pending=APC_RPDU2 + (9, 2, 3, 1, 6),
        pending_values=frozenset({1}),
        outlet_name=APC_RPDU2 + (9, 2, 3, 1, 3),
        commands={
            SwitchAction.ON: (APC_RPDU2 + (9, 2, 4, 1, 5), 1),  # immediateOn
            SwitchAction.OFF: (APC_RPDU2 + (9, 2, 4, 1, 5), 2),  # immediateOff
            SwitchAction.REBOOT: (APC_RPDU2 + (9, 2, 4, 1, 5), 3),  # immediateReboot
        },
        outlet_current=Metric(APC_RPDU2 + (9, 4, 3, 1, 6), 0.1),
        outlet_power=Metric(APC_RPDU2 + (9, 4, 3, 1, 7), 1.0),
        outlet_energy=Metric(APC_RPDU2 + (9, 4, 3, 1, 11), 0.1),
        total_power=Metric(APC_RPDU2 + (4, 3, 1, 5, 1), 10.0),
        total_energy=Metric(APC_RPDU2 + (4, 3, 1, 9, 1), 0.1),
        phase_voltage=Metric(APC_RPDU2 + (6, 3, 1, 6), 1.0),
        phase_current=Metric(APC_RPDU2 + (6, 3, 1, 5), 0.1),
        phase_power=Metric(APC_RPDU2 + (6, 3, 1, 7), 10.0),
        extra={"legacy_outlets": "apc_masterswitch"},
    )
)

# APC MasterSwitch / legacy rPDU (PowerNet-MIB sPDUOutletControlTable). sPDUOutletCtl is
# documented to read back the outlet's state: on(1), off(2), outletUnknown(4).
# sPDUOutletPending: commandPending(1), noCommandPending(2). No per-outlet metering.
_register(
    SnmpVendor(
        name="apc_masterswitch",
        title="APC MasterSwitch / legacy rPDU (sPDUOutletCtl)",
        sys_object_ids=(APC + (1, 3, 4, 2), APC + (1, 3, 4, 5), APC + (1, 3, 4, 7)),
        outlet_index_prefix=(),
        status=APC + (1, 1, 4, 4, 2, 1, 3),
        status_values={1: ON, 2: OFF, 4: UNKNOWN},
        pending=APC + (1, 1, 4, 4, 2, 1, 2),
        pending_values=frozenset({1}),
        outlet_name=APC + (1, 1, 4, 4, 2, 1, 4),
        commands={
            SwitchAction.ON: (APC + (1, 1, 4, 4, 2, 1, 3), 1),
            SwitchAction.OFF: (APC + (1, 1, 4, 4, 2, 1, 3), 2),
            SwitchAction.REBOOT: (APC + (1, 1, 4, 4, 2, 1, 3), 3),
        },
        multi_oid_set=False,  # old management cards handle one outlet per request
        command_spacing_s=0.5,
    )
)

# Raritan PX (PDU2-MIB), index pduId.outlet with pduId 1. outletSwitchingState on(7), off(8);
# switchingOperation off(0), on(1), cycle(2). Readings are measurementsOutletSensorValue
# scaled by outletSensorDecimalDigits: the driver subclass reads both (see driver.py).
_register(
    SnmpVendor(
        name="raritan_px",
        title="Raritan PX (PDU2-MIB)",
        sys_object_ids=(RARITAN,),
        outlet_index_prefix=(1,),
        status=RARITAN + (4, 1, 2, 1, 3),
        status_values={7: ON, 8: OFF},
        outlet_name=RARITAN + (3, 5, 3, 1, 3),
        commands={
            SwitchAction.ON: (RARITAN + (4, 1, 2, 1, 2), 1),
            SwitchAction.OFF: (RARITAN + (4, 1, 2, 1, 2), 0),
            SwitchAction.REBOOT: (RARITAN + (4, 1, 2, 1, 2), 2),
        },
        extra={
            "label": RARITAN + (3, 5, 3, 1, 2),  # outletLabel ("1"), when the name is empty
            "sensor_value": RARITAN + (5, 4, 3, 1, 4),  # measurementsOutletSensorValue
            "sensor_state": RARITAN + (5, 4, 3, 1, 3),  # measurementsOutletSensorState
            "sensor_digits": RARITAN + (3, 5, 4, 1, 7),  # outletSensorDecimalDigits
            "inlet_value": RARITAN + (5, 2, 3, 1, 4),  # measurementsInletSensorValue
            "inlet_digits": RARITAN + (3, 3, 4, 1, 7),  # inletSensorDecimalDigits
            # sensorType: rmsCurrent 1, rmsVoltage 4, activePower 5, activeEnergy 8, onOff 14
            "sensor_types": {"current": 1, "voltage": 4, "power": 5, "energy": 8, "on_off": 14},
        },
    )
)

# ServerTech Sentry4 (Sentry4-MIB), index unit.inputCord.outlet. st4OutletState on(1),
# off(2), unknown(0); st4OutletControlState pendOn(8) "off, but will be turning on",
# pendOff(9), reboot(12), shutdown(13): not there yet. Current in hundredths of A, energy Wh.
_register(
    SnmpVendor(
        name="servertech_sentry4",
        title="ServerTech Sentry4 (Sentry4-MIB)",
        sys_object_ids=(_enterprise(1718, 4),),
        outlet_index_prefix=(1, 1),
        status=SENTRY4 + (8, 3, 1, 1),
        status_values={1: ON, 2: OFF, 0: UNKNOWN},
        pending=SENTRY4 + (8, 5, 1, 1),
        pending_values=frozenset({8, 9, 12, 13}),
        outlet_name=SENTRY4 + (8, 2, 1, 2),
        commands={
            SwitchAction.ON: (SENTRY4 + (8, 5, 1, 2), 1),
            SwitchAction.OFF: (SENTRY4 + (8, 5, 1, 2), 2),
            SwitchAction.REBOOT: (SENTRY4 + (8, 5, 1, 2), 3),
        },
        outlet_current=Metric(SENTRY4 + (8, 3, 1, 3), 0.01),
        outlet_power=Metric(SENTRY4 + (8, 3, 1, 7), 1.0),
        outlet_energy=Metric(SENTRY4 + (8, 3, 1, 14), 0.001),
        total_power=Metric(SENTRY4 + (3, 3, 1, 3, 1, 1), 1.0),  # st4InputCordActivePower
        total_energy=Metric(SENTRY4 + (3, 3, 1, 10, 1, 1), 0.1),  # tenths of kWh
    )
)

# ServerTech Sentry3 (Sentry3-MIB), index tower.infeed.outlet. outletStatus off(0), on(1),
# offWait(2), onWait(3) (pending), offError(4), onError(5), noComm(6), reading(7),
# offFuse(8), onFuse(9). outletControlAction none(0), on(1), off(2), reboot(3).
# The infeeds are the PDU's phases: the real three-phase CDU of librenms__sentry3_switched has
# infeeds AA, AB, AC (3.09, 3.92, 4.34 A); the totals used to be infeed AA's alone.
_register(
    SnmpVendor(
        name="servertech_sentry3",
        title="ServerTech Sentry3 (Sentry3-MIB)",
        sys_object_ids=(SENTRY3,),
        outlet_index_prefix=(1,),  # tower 1; outlets are numbered per infeed (see driver.py)
        status=SENTRY3 + (2, 3, 1, 5),
        status_values={
            0: OFF,
            1: ON,
            2: PENDING,
            3: PENDING,
            4: OFF,
            5: ON,
            6: UNKNOWN,
            7: UNKNOWN,
            8: OFF,
            9: ON,
        },
        outlet_name=SENTRY3 + (2, 3, 1, 3),
        commands={
            SwitchAction.ON: (SENTRY3 + (2, 3, 1, 11), 1),
            SwitchAction.OFF: (SENTRY3 + (2, 3, 1, 11), 2),
            SwitchAction.REBOOT: (SENTRY3 + (2, 3, 1, 11), 3),
        },
        outlet_current=Metric(SENTRY3 + (2, 3, 1, 7), 0.01),  # outletLoadValue
        outlet_power=Metric(SENTRY3 + (2, 3, 1, 14), 1.0),  # outletPower
        outlet_energy=Metric(SENTRY3 + (2, 3, 1, 18), 0.001),  # outletEnergy, Wh
        phase_index_prefix=(1,),  # tower 1: phase n is infeed 1.n
        phase_current=Metric(SENTRY3 + (2, 2, 1, 7), 0.01),  # infeedLoadValue
        phase_voltage=Metric(SENTRY3 + (2, 2, 1, 11), 0.1),  # infeedVoltage
        phase_power=Metric(SENTRY3 + (2, 2, 1, 12), 1.0),  # infeedPower
        phase_energy=Metric(SENTRY3 + (2, 2, 1, 16), 0.1),  # infeedEnergy, tenth kWh
    )
)

# Eaton ePDU (EATON-EPDU-MIB), index strappingIndex.outletIndex (0.N). outletControlStatus
# off(0), on(1), pendingOff(2), pendingOn(3). The commands are three columns, each SET to 0 for
# "now": outletControlOffCmd (.3), outletControlOnCmd (.4), outletControlRebootCmd (.5)
# (Ironic swapped .3 and .4). Current in mA, voltage in mV, energy in Wh.
_register(
    SnmpVendor(
        name="eaton_epdu",
        title="Eaton ePDU (EATON-EPDU-MIB)",
        sys_object_ids=(EATON,),
        outlet_index_prefix=(0,),
        status=EATON + (6, 6, 1, 2),
        status_values={0: OFF, 1: ON, 2: PENDING, 3: PENDING},
        outlet_name=EATON + (6, 1, 1, 3),
        commands={
            SwitchAction.OFF: (EATON + (6, 6, 1, 3), 0),
            SwitchAction.ON: (EATON + (6, 6, 1, 4), 0),
            SwitchAction.REBOOT: (EATON + (6, 6, 1, 5), 0),
        },
        outlet_current=Metric(EATON + (6, 4, 1, 3), 0.001),
        outlet_power=Metric(EATON + (6, 5, 1, 3), 1.0),
        outlet_energy=Metric(EATON + (6, 5, 1, 4), 0.001),
        total_voltage=Metric(EATON + (3, 2, 1, 3, 0, 1, 1), 0.001),  # inputVoltage, mV
        total_current=Metric(EATON + (3, 3, 1, 4, 0, 1, 1), 0.001),  # inputCurrent, mA
        total_power=Metric(EATON + (3, 4, 1, 4, 0, 1, 1), 1.0),  # inputWatts
        total_energy=Metric(EATON + (3, 4, 1, 5, 0, 1, 1), 0.001),  # inputWh
    )
)

# CyberPower ePDU (CPS-MIB). ePDUOutletStatusOutletState on(1), off(2); CommandPending
# pending(1); ePDUOutletControlOutletCommand immediateOn(1), immediateOff(2), immediateReboot(3).
# Outlet load in tenths of A, active power in W. ePDULoadStatusTable holds a row per phase
# (bank number 0) AND per bank: the real PDU44005 of centreon__CyberPower has phase 1 and bank 1
# of phase 1, both 1.0 A, so summing every row doubled its current. Load in tenths of A,
# voltage in tenths of V (2179 on that 230 V unit), active power in W.
# That PDU44005 (firmware 1.3.2) reports the ePDU2 product OID .3808.1.1.6 as its sysObjectID
# and serves these ePDU tables beside its ePDU2 ones.
_register(
    SnmpVendor(
        name="cyberpower_epdu",
        title="CyberPower ePDU (CPS-MIB)",
        sys_object_ids=(CYBERPOWER, _enterprise(3808, 1, 1, 6)),  # ePDU, ePDU2
        outlet_index_prefix=(),
        status=CYBERPOWER + (3, 5, 1, 1, 4),
        status_values={1: ON, 2: OFF},
        pending=CYBERPOWER + (3, 5, 1, 1, 5),
        pending_values=frozenset({1}),
        outlet_name=CYBERPOWER + (3, 5, 1, 1, 2),
        commands={
            SwitchAction.ON: (CYBERPOWER + (3, 3, 1, 1, 4), 1),
            SwitchAction.OFF: (CYBERPOWER + (3, 3, 1, 1, 4), 2),
            SwitchAction.REBOOT: (CYBERPOWER + (3, 3, 1, 1, 4), 3),
        },
        outlet_current=Metric(CYBERPOWER + (3, 5, 1, 1, 7), 0.1),
        outlet_power=Metric(CYBERPOWER + (3, 5, 1, 1, 8), 1.0),
        phase_current=Metric(CYBERPOWER + (2, 3, 1, 1, 2), 0.1),
        phase_voltage=Metric(CYBERPOWER + (2, 3, 1, 1, 6), 0.1),
        phase_power=Metric(CYBERPOWER + (2, 3, 1, 1, 7), 1.0),
        phase_number=CYBERPOWER + (2, 3, 1, 1, 4),  # ePDULoadStatusPhaseNumber
        phase_bank=CYBERPOWER + (2, 3, 1, 1, 5),  # ePDULoadStatusBankNumber
    )
)


def vendor_for_sys_object_id(sys_object_id: Oid) -> SnmpVendor | None:
    """The vendor whose sysObjectID prefix is the longest match, if any."""
    best: tuple[int, SnmpVendor] | None = None
    for vendor in VENDORS.values():
        for prefix in vendor.sys_object_ids:
            if sys_object_id[: len(prefix)] == prefix and (best is None or len(prefix) > best[0]):
                best = (len(prefix), vendor)
    return best[1] if best else None
