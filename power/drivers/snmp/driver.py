"""The generic SNMP PDU driver: reads and writes a vendor's objects as its profile row says.

A vendor that needs real code subclasses ``SnmpPduDriver`` and overrides one small method
(``RaritanPduDriver``: readings scaled by a decimal-digits column, and the onOff sensor for
states on units without a switching table).
"""

from __future__ import annotations

from power.drivers.base import (
    DeviceIdentity,
    DeviceTarget,
    OutletReadings,
    OutletState,
    OutletStatus,
    PduDriver,
    PduReadings,
    PduTotals,
    PhaseReadings,
    SwitchAction,
)
from power.drivers.errors import NoSuchOutlet, UnexpectedValue
from power.drivers.snmp.client import (
    MISSING_INSTANCE_STATUSES,
    SnmpClient,
    SnmpRejected,
    oid_str,
)
from power.drivers.snmp.vendors import VENDORS, Metric, Oid, SnmpVendor

SYS_DESCR = (1, 3, 6, 1, 2, 1, 1, 1, 0)
SYS_OBJECT_ID = (1, 3, 6, 1, 2, 1, 1, 2, 0)
SYS_NAME = (1, 3, 6, 1, 2, 1, 1, 5, 0)
MAX_OUTLETS_PER_SET = 20
# Up to this many outlets, GETs of the outlets' own objects (40 per request) beat a walk of the
# whole table: fewer requests (a 24-outlet walk of two columns takes three GETBULKs) and only
# the outlets asked for.
GET_STATES_MAX_OUTLETS = 48


def _text(value) -> str | None:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace").strip() or None
    return None


def _scaled(raw, metric: Metric | None) -> float | None:
    if metric is None or not isinstance(raw, int) or raw < 0:
        return None
    return raw * metric.scale


def _sum(values: list[float | None]) -> float | None:
    """A total of per-phase values: None unless every phase has one."""
    present = [v for v in values if v is not None]
    return sum(present) if values and len(present) == len(values) else None


class SnmpPduDriver(PduDriver):
    def __init__(self, target: DeviceTarget, vendor: SnmpVendor) -> None:
        super().__init__(target)
        self.profile = vendor
        self.client = SnmpClient(target)

    @property
    def vendor(self) -> str:
        return self.profile.name

    @property
    def command_spacing_s(self) -> float:
        return self.profile.command_spacing_s

    # --- identify ------------------------------------------------------------------------

    async def identify(self) -> DeviceIdentity:
        values = await self.client.get([SYS_DESCR, SYS_OBJECT_ID, SYS_NAME])
        oid = values[SYS_OBJECT_ID]
        return DeviceIdentity(
            vendor=self.profile.name,
            sys_object_id=oid_str(oid) if isinstance(oid, tuple) else None,
            description=_text(values[SYS_DESCR]),
            name=_text(values[SYS_NAME]),
        )

    # --- states --------------------------------------------------------------------------

    def _state_columns(self) -> list[Oid]:
        p = self.profile
        return [c for c in (p.status, p.pending, p.outlet_name) if c is not None]

    async def outlet_states(self) -> list[OutletStatus]:
        tables = await self.client.walk(self._state_columns())
        return [
            OutletStatus(number=n, name=self._name(tables, n), state=self._state(tables, n))
            for n in self._outlet_numbers(tables)
        ]

    def _outlet_numbers(self, tables: dict[Oid, dict[Oid, object]]) -> list[int]:
        numbers = set()
        for column in self._state_columns():
            for index in tables.get(column, {}):
                number = self.profile.outlet_number(index)
                if number is not None:
                    numbers.add(number)
        return sorted(numbers)

    def _index(self, number: int) -> Oid:
        """The row index of outlet ``number``."""
        return self.profile.outlet_index(number)

    async def _prepare_index(self) -> None:
        """Load what _index() needs (nothing for vendors whose index is the outlet number)."""

    def _row(self, tables, column: Oid | None, number: int):
        if column is None:
            return None
        return tables.get(column, {}).get(self._index(number))

    def _name(self, tables, number: int) -> str | None:
        return _text(self._row(tables, self.profile.outlet_name, number))

    def _state(self, tables, number: int) -> OutletState:
        p = self.profile
        pending = self._row(tables, p.pending, number)
        if pending is not None and pending in p.pending_values:
            return OutletState.PENDING
        raw = self._row(tables, p.status, number)
        if raw is None:
            return OutletState.UNKNOWN
        try:
            return p.status_values[raw]
        except (KeyError, TypeError):
            raise UnexpectedValue(
                self.target.address,
                f"outlet {number} status {raw!r} is not one of {sorted(p.status_values)}",
                obj=oid_str(p.status + self._index(number)),
            ) from None

    async def outlet_state(self, number: int) -> OutletStatus:
        """One outlet, in one GET of its status (and pending and name) objects."""
        await self._prepare_index()
        index = self._index(number)
        columns = self._state_columns()
        values = await self.client.get([column + index for column in columns])
        # No outlet only when none of its objects answers, as for outlet_states(): the real
        # Sentry3 of librenms__sentry3_switched answers outletName but not outletStatus; that
        # outlet exists, its state is unknown.
        if all(values[column + index] is None for column in columns):
            raise NoSuchOutlet(
                self.target.address,
                f"no outlet {number}",
                obj=oid_str(columns[0] + index) if columns else f"outlet {number}",
            )
        tables = {column: {index: values[column + index]} for column in columns}
        return OutletStatus(
            number=number, name=self._name(tables, number), state=self._state(tables, number)
        )

    async def outlet_states_of(self, numbers: list[int]) -> list[OutletStatus]:
        """A few outlets: one GET of their status (and pending) objects instead of walking the
        whole table; many: the walk."""
        if len(numbers) > GET_STATES_MAX_OUTLETS or self.profile.status is None:
            return await super().outlet_states_of(numbers)
        await self._prepare_index()
        columns = [c for c in (self.profile.status, self.profile.pending) if c is not None]
        indexes = {n: self._index(n) for n in numbers}
        values = await self.client.get([c + indexes[n] for n in numbers for c in columns])
        tables = {c: {indexes[n]: values[c + indexes[n]] for n in numbers} for c in columns}
        return [OutletStatus(number=n, name=None, state=self._state(tables, n)) for n in numbers]

    # --- switching -----------------------------------------------------------------------

    async def switch(self, outlets: list[int], action: SwitchAction) -> None:
        column, value = self.profile.commands[SwitchAction(action)]
        await self._prepare_index()
        pairs = [(column + self._index(n), value) for n in outlets]
        batch = MAX_OUTLETS_PER_SET if self.profile.multi_oid_set else 1
        for start in range(0, len(pairs), batch):
            try:
                await self.client.set(pairs[start : start + batch])
            except SnmpRejected as exc:
                if exc.status in MISSING_INSTANCE_STATUSES:
                    raise NoSuchOutlet(self.target.address, exc.detail, obj=exc.obj) from exc
                raise

    # --- readings ------------------------------------------------------------------------

    def _metric_columns(self) -> list[Oid]:
        p = self.profile
        return [m.oid for m in (p.outlet_current, p.outlet_power, p.outlet_energy) if m]

    async def readings(self) -> PduReadings:
        tables = await self.client.walk(self._state_columns() + self._metric_columns())
        p = self.profile
        outlets = [
            OutletReadings(
                number=n,
                name=self._name(tables, n),
                state=self._state(tables, n),
                current_a=_scaled(
                    self._row(tables, p.outlet_current and p.outlet_current.oid, n),
                    p.outlet_current,
                ),
                power_w=_scaled(
                    self._row(tables, p.outlet_power and p.outlet_power.oid, n), p.outlet_power
                ),
                energy_kwh=_scaled(
                    self._row(tables, p.outlet_energy and p.outlet_energy.oid, n), p.outlet_energy
                ),
            )
            for n in self._outlet_numbers(tables)
        ]
        return PduReadings(outlets=outlets, totals=await self._totals())

    async def _totals(self) -> PduTotals:
        p = self.profile
        scalars = [
            m
            for m in (p.total_voltage, p.total_current, p.total_power, p.total_energy)
            if m is not None
        ]
        values = await self.client.get([m.oid for m in scalars]) if scalars else {}
        phase_metrics = self._phase_metrics()
        phase_columns = [m.oid for m in phase_metrics]
        phase_columns += [c for c in (p.phase_bank, p.phase_number) if c is not None]
        phase_tables = await self.client.walk(phase_columns) if phase_metrics else {}
        rows = self._phase_rows(phase_tables)
        phases = self._phases(phase_tables, rows)

        def total(metric: Metric | None, from_phases=None):
            if metric is not None:
                return _scaled(values.get(metric.oid), metric)
            return from_phases

        energies = [
            _scaled(phase_tables.get(p.phase_energy.oid, {}).get(row), p.phase_energy)
            for row in rows.values()
            if p.phase_energy is not None
        ]
        return PduTotals(
            voltage_v=total(p.total_voltage, phases[0].voltage_v if phases else None),
            current_a=total(p.total_current, _sum([ph.current_a for ph in phases])),
            power_w=total(p.total_power, _sum([ph.power_w for ph in phases])),
            energy_kwh=total(p.total_energy, _sum(energies)),
            phases=phases,
        )

    def _phase_metrics(self) -> list[Metric]:
        p = self.profile
        return [m for m in (p.phase_voltage, p.phase_current, p.phase_power, p.phase_energy) if m]

    def _phase_rows(self, tables) -> dict[int, Oid]:
        """Phase number -> its row index in the phase columns, in phase order."""
        p = self.profile
        indexes = {
            index
            for metric in self._phase_metrics()
            for index in tables.get(metric.oid, {})
            if index[:-1] == p.phase_index_prefix
        }
        rows: dict[int, Oid] = {}
        for index in sorted(indexes):
            # CyberPower's ePDULoadStatusTable also holds banks (centreon__CyberPower: phase 1
            # and bank 1 of it, 1.0 A each): a row with a bank number is not a phase.
            if p.phase_bank is not None and tables.get(p.phase_bank, {}).get(index, 0) != 0:
                continue
            number = tables.get(p.phase_number, {}).get(index) if p.phase_number else None
            rows[number if isinstance(number, int) else index[-1]] = index
        return dict(sorted(rows.items()))

    def _phases(self, tables, rows: dict[int, Oid]) -> list[PhaseReadings]:
        p = self.profile

        def value(metric: Metric | None, row: Oid):
            if metric is None:
                return None
            return _scaled(tables.get(metric.oid, {}).get(row), metric)

        return [
            PhaseReadings(
                phase=phase,
                voltage_v=value(p.phase_voltage, row),
                current_a=value(p.phase_current, row),
                power_w=value(p.phase_power, row),
            )
            for phase, row in rows.items()
        ]


class RaritanPduDriver(SnmpPduDriver):
    """Raritan PDU2-MIB: sensor values are integers scaled by a decimal-digits column, and a
    metered-only unit has no switching table: its outlets' states come from the onOff sensor
    (measurementsOutletSensorState on 7 / off 8). An empty outlet name falls back to the
    outlet's label."""

    def _sensor_index(self, number: int, sensor: int) -> Oid:
        return self.profile.outlet_index(number) + (sensor,)

    def _state_columns(self) -> list[Oid]:
        return super()._state_columns() + [self.profile.extra["label"]]

    def _name(self, tables, number: int) -> str | None:
        return super()._name(tables, number) or _text(
            self._row(tables, self.profile.extra["label"], number)
        )

    async def outlet_states(self) -> list[OutletStatus]:
        return [self._as_status(r) for r in (await self.readings()).outlets]

    async def outlet_states_of(self, numbers: list[int]) -> list[OutletStatus]:
        # A unit without a switching table reads states from its sensors: one full round.
        return await PduDriver.outlet_states_of(self, numbers)

    @staticmethod
    def _as_status(reading: OutletReadings) -> OutletStatus:
        return OutletStatus(number=reading.number, name=reading.name, state=reading.state)

    async def readings(self) -> PduReadings:
        extra = self.profile.extra
        types = extra["sensor_types"]
        tables = await self.client.walk(
            self._state_columns()
            + [extra["sensor_value"], extra["sensor_state"], extra["sensor_digits"]]
        )
        values, states, digits = (
            tables[extra["sensor_value"]],
            tables[extra["sensor_state"]],
            tables[extra["sensor_digits"]],
        )
        numbers = set(self._outlet_numbers(tables))
        numbers |= {index[-2] for index in values if index[:-2] == self.profile.outlet_index_prefix}

        def sensor(number: int, kind: str) -> float | None:
            index = self._sensor_index(number, types[kind])
            raw, scale = values.get(index), digits.get(index, 0)
            if not isinstance(raw, int) or not isinstance(scale, int):
                return None
            return raw / 10**scale

        outlets = []
        for n in sorted(numbers):
            energy_wh = sensor(n, "energy")
            outlets.append(
                OutletReadings(
                    number=n,
                    name=self._name(tables, n),
                    state=self._switch_state(tables, states, n),
                    current_a=sensor(n, "current"),
                    power_w=sensor(n, "power"),
                    energy_kwh=None if energy_wh is None else energy_wh / 1000,
                )
            )
        return PduReadings(outlets=outlets, totals=await self._inlet_totals())

    def _switch_state(self, tables, sensor_states, number: int) -> OutletState:
        """outletSwitchingState where the unit has one, else the onOff sensor's state."""
        switching = self._row(tables, self.profile.status, number)
        if switching is not None:
            return self._state(tables, number)
        on_off = self._sensor_index(number, self.profile.extra["sensor_types"]["on_off"])
        return self.profile.status_values.get(sensor_states.get(on_off), OutletState.UNKNOWN)

    async def outlet_state(self, number: int) -> OutletStatus:
        """One outlet in one GET: switching state, onOff sensor state, name and label. (The
        generic GET of outletSwitchingState alone found no outlet at all on a unit without a
        switching table, such as the PX3-5493 of librenms__raritan-pdu_px3.)"""
        index = self.profile.outlet_index(number)
        columns = self._state_columns()
        types = self.profile.extra["sensor_types"]
        on_off = self._sensor_index(number, types["on_off"])
        sensor_state = self.profile.extra["sensor_state"] + on_off
        values = await self.client.get([column + index for column in columns] + [sensor_state])
        if all(value is None for value in values.values()):
            raise NoSuchOutlet(
                self.target.address, f"no outlet {number}", obj=oid_str(sensor_state)
            )
        tables = {column: {index: values[column + index]} for column in columns}
        state = self._switch_state(tables, {on_off: values[sensor_state]}, number)
        return OutletStatus(number=number, name=self._name(tables, number), state=state)

    async def _inlet_totals(self) -> PduTotals:
        extra = self.profile.extra
        types = extra["sensor_types"]
        inlet = (1, 1)  # pduId 1, inlet 1
        kinds = ("current", "voltage", "power", "energy")
        oids = [extra["inlet_value"] + inlet + (types[k],) for k in kinds]
        oids += [extra["inlet_digits"] + inlet + (types[k],) for k in kinds]
        got = await self.client.get(oids)

        def inlet_value(kind: str) -> float | None:
            raw = got[extra["inlet_value"] + inlet + (types[kind],)]
            scale = got[extra["inlet_digits"] + inlet + (types[kind],)] or 0
            return raw / 10**scale if isinstance(raw, int) else None

        energy_wh = inlet_value("energy")
        return PduTotals(
            voltage_v=inlet_value("voltage"),
            current_a=inlet_value("current"),
            power_w=inlet_value("power"),
            energy_kwh=None if energy_wh is None else energy_wh / 1000,
        )


class PerInfeedOutletsDriver(SnmpPduDriver):
    """Sentry3 numbers outlets per infeed: tower.infeed.outlet, so a three-infeed CDU has
    1.1.1..1.1.10 (AA1..AA10), then 1.2.1.. (AB1..). dcpower numbers a PDU's outlets 1..N, so
    this driver numbers the first tower's rows in index order and keeps the mapping."""

    def __init__(self, target: DeviceTarget, vendor: SnmpVendor) -> None:
        super().__init__(target, vendor)
        self._index_by_number: dict[int, Oid] = {}

    def _outlet_numbers(self, tables) -> list[int]:
        prefix = self.profile.outlet_index_prefix  # the tower
        indices = sorted(
            {
                index
                for column in self._state_columns()
                for index in tables.get(column, {})
                if len(index) == len(prefix) + 2 and index[: len(prefix)] == prefix
            }
        )
        self._index_by_number = dict(enumerate(indices, start=1))
        return list(self._index_by_number)

    def _index(self, number: int) -> Oid:
        try:
            return self._index_by_number[number]
        except KeyError:
            raise NoSuchOutlet(
                self.target.address, f"no outlet {number}", obj=f"outlet {number}"
            ) from None

    async def _prepare_index(self) -> None:
        if not self._index_by_number:
            await self.outlet_states()


class ApcRpdu2Driver(SnmpPduDriver):
    """APC rPDU2, falling back to the legacy sPDUOutletControl table that rPDU2 firmware also
    serves. A real AP8959EU3 (rpdu2g 6.4.0, recording librenms__apc_ap8959eu3) holds its outlets'
    names and states there and no rPDU2 outlet table, so the rPDU2 reads found no outlet. The
    rPDU2 tables are read first; where they hold no outlet, the legacy table is read and switched
    (sPDUOutletCtl: on 1, off 2, read back), as the profile named by extra["legacy_outlets"].
    Totals stay rPDU2's (phase and device status)."""

    def __init__(self, target: DeviceTarget, vendor: SnmpVendor) -> None:
        super().__init__(target, vendor)
        self.legacy = SnmpPduDriver(target, VENDORS[vendor.extra["legacy_outlets"]])
        self.legacy.client = self.client  # one transport for both generations of tables
        # Set once an on/off state was read from rPDU2's status column (only a row of it gives
        # one): switch() then needs no walk to know that the column has rows.
        self._rpdu2_status_seen = False

    async def outlet_states(self) -> list[OutletStatus]:
        states = await super().outlet_states()
        if any(s.state in (OutletState.ON, OutletState.OFF) for s in states):
            self._rpdu2_status_seen = True
        return states or await self.legacy.outlet_states()

    async def outlet_states_of(self, numbers: list[int]) -> list[OutletStatus]:
        if self._rpdu2_status_seen:  # rPDU2's own table: one GET of the outlets' objects
            return await super().outlet_states_of(numbers)
        return await PduDriver.outlet_states_of(self, numbers)  # learns which table answers

    async def outlet_state(self, number: int) -> OutletStatus:
        try:
            return await super().outlet_state(number)
        except NoSuchOutlet:
            return await self.legacy.outlet_state(number)

    async def switch(self, outlets: list[int], action: SwitchAction) -> None:
        """Commands go to the table that the states come from: rPDU2's unless it has no outlet
        at all (one walk of its status column to know, unless outlet_states() already read
        rows of it; an outlet missing from a populated rPDU2 table stays NoSuchOutlet)."""
        if (
            self._rpdu2_status_seen
            or (await self.client.walk([self.profile.status]))[self.profile.status]
        ):
            await super().switch(outlets, action)
        else:
            await self.legacy.switch(outlets, action)

    async def readings(self) -> PduReadings:
        readings = await super().readings()
        if readings.outlets:
            return readings
        outlets = [
            OutletReadings(
                number=s.number,
                name=s.name,
                state=s.state,
                current_a=None,  # the legacy table meters nothing per outlet
                power_w=None,
                energy_kwh=None,
            )
            for s in await self.legacy.outlet_states()
        ]
        return PduReadings(outlets=outlets, totals=readings.totals)


# Vendors whose driver needs code of its own; every other vendor uses SnmpPduDriver.
DRIVER_CLASSES: dict[str, type[SnmpPduDriver]] = {
    "apc_rpdu2": ApcRpdu2Driver,
    "raritan_px": RaritanPduDriver,
    "servertech_sentry3": PerInfeedOutletsDriver,
}


def snmp_driver(target: DeviceTarget, vendor: SnmpVendor) -> SnmpPduDriver:
    return DRIVER_CLASSES.get(vendor.name, SnmpPduDriver)(target, vendor)
