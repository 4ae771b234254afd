"""Register maps of the Modbus TCP PDU simulators, as data.

Each map is written from the vendor's manual (see ``shared/reference/PROTOCOLS.md`` section 5),
never shared with the drivers in ``power/``: if both sides read one table, a wrong address
passes on both. Addresses here are *wire* addresses, the 0-based numbers inside a Modbus frame;
a manual's register number is ``manual_base`` more (NETIO: wire = register - 1).

A ``Point`` says where a value lives (table, wire address, encoding), what it means (a
``Quantity`` of the whole device, of one output or of one phase, times ``scale``), and whether a
write does something (``Write``). ``Profile.layout`` lays the points out for one PDU, one slot
per coil or register. This module knows neither pymodbus nor the physics model:
``simulators.modbus.server`` reads the quantities from a ``SimulatedPdu`` and carries out writes.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Table(enum.Enum):
    """The four Modbus data tables."""

    COILS = "coils"
    DISCRETE_INPUTS = "discrete inputs"
    HOLDING_REGISTERS = "holding registers"
    INPUT_REGISTERS = "input registers"

    @property
    def is_bits(self) -> bool:
        return self in (Table.COILS, Table.DISCRETE_INPUTS)


# Function codes that read / write each table (Modbus application protocol v1.1b3).
READ_FUNCTION = {
    Table.COILS: 1,
    Table.DISCRETE_INPUTS: 2,
    Table.HOLDING_REGISTERS: 3,
    Table.INPUT_REGISTERS: 4,
}
WRITE_FUNCTIONS = {Table.COILS: (5, 15), Table.HOLDING_REGISTERS: (6, 16)}
TABLE_OF_FUNCTION = {
    1: Table.COILS,
    5: Table.COILS,
    15: Table.COILS,
    2: Table.DISCRETE_INPUTS,
    3: Table.HOLDING_REGISTERS,
    6: Table.HOLDING_REGISTERS,
    16: Table.HOLDING_REGISTERS,
    22: Table.HOLDING_REGISTERS,  # mask write register
    23: Table.HOLDING_REGISTERS,  # read/write multiple registers
    4: Table.INPUT_REGISTERS,
}


class Encoding(enum.Enum):
    BIT = "bit"
    UINT16 = "uint16"
    UINT32 = "uint32, upper word first"
    FLOAT32 = "float32, big-endian, high word first"

    @property
    def words(self) -> int:
        """Coils or registers one value occupies."""
        return 2 if self in (Encoding.UINT32, Encoding.FLOAT32) else 1


class Scope(enum.Enum):
    """Whose value a point holds: one per device, one per output, or one per phase."""

    DEVICE = "device"
    OUTPUT = "output"
    PHASE = "phase"


class Quantity(enum.Enum):
    """What a point reads, in SI units (V, A, W, Wh, Hz, s) before the point's ``scale``."""

    DIGITAL_INPUT_COUNT = "digital input count"
    OUTPUT_COUNT = "output count"
    METERED_OUTPUT_COUNT = "metered output count"
    RELAY_STATE = "relay state"  # 0 off, 1 on
    SHORT_DELAY = "short delay"
    FREQUENCY = "frequency"
    VOLTAGE = "voltage"
    CURRENT = "current"
    ACTIVE_POWER = "active power"
    POWER_FACTOR = "power factor"
    ACTIVE_ENERGY = "active energy"


class Write(enum.Enum):
    """What writing a point does."""

    RELAY = "switch the output: 1 (0xFF00) on, 0 off"
    OUTPUT_ACTION = "take an OutputAction on the output"
    SHORT_DELAY = "set the output's short delay"


class OutputAction(enum.IntEnum):
    """Values a NETIO output register accepts (AN27), beyond reading 0 off / 1 on."""

    OFF = 0
    ON = 1
    SHORT_OFF = 2  # off, wait the short delay, on: a reboot
    SHORT_ON = 3  # on, wait the short delay, off
    TOGGLE = 4
    NO_CHANGE = 5


@dataclass(frozen=True)
class Point:
    table: Table
    address: int  # wire address of the value; of item 1 for per-output and per-phase points
    quantity: Quantity
    meaning: str
    encoding: Encoding = Encoding.UINT16
    scale: float = 1.0  # register value = quantity x scale, rounded for integer encodings
    scope: Scope = Scope.DEVICE
    stride: int = 1  # coils or registers from one item's value to the next one's
    write: Write | None = None
    unit: str = ""  # the register's unit as the manual names it, for documentation

    def address_of(self, position: int) -> int:
        """Wire address of the value of the ``position``-th item (1-based)."""
        return self.address + self.stride * (position - 1)


@dataclass(frozen=True)
class Slot:
    """One coil or one register of a laid-out map."""

    point: Point
    item: int  # the output or phase number the value belongs to; 0 for device-wide values
    word: int  # index of this register within the value (0 = the first on the wire)


Layout = dict[Table, dict[int, Slot]]


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    function_codes: frozenset[int]  # what the device implements; others get exception 1
    points: tuple[Point, ...]
    manual_base: dict[Table, int]  # manual register number of wire address 0, per table
    phases: int | None = None  # the phase count the map needs, if it is fixed
    hex_addresses: bool = False  # how the manual writes addresses (documentation only)

    def layout(self, *, outputs: list[int], phases: int) -> Layout:
        """Every coil and register of this map for a PDU with these output numbers (sorted)
        and phase count. Raises ValueError when the PDU does not fit the map."""
        if self.phases is not None and phases != self.phases:
            raise ValueError(f"profile {self.name} needs a {self.phases}-phase PDU, not {phases}")
        items = {Scope.DEVICE: [0], Scope.OUTPUT: outputs, Scope.PHASE: list(range(1, phases + 1))}
        layout: Layout = {table: {} for table in Table}
        for point in self.points:
            if (point.encoding is Encoding.BIT) != point.table.is_bits:
                raise ValueError(f"{point.meaning}: {point.encoding.value} in {point.table.value}")
            for position, item in enumerate(items[point.scope], start=1):
                for word in range(point.encoding.words):
                    address = point.address_of(position) + word
                    if not 0 <= address <= 0xFFFF:
                        raise ValueError(f"{point.meaning} {item}: address {address} out of range")
                    if address in layout[point.table]:
                        clash = layout[point.table][address].point.meaning
                        raise ValueError(
                            f"{self.name}: {point.table.value} {address} holds both "
                            f"{clash!r} and {point.meaning!r} (item {item})"
                        )
                    layout[point.table][address] = Slot(point, item, word)
        return layout


_NETIO_ALL_TABLES = {table: 1 for table in Table}

NETIO_SWITCHED_PDU = Profile(
    name="netio_switched_pdu",
    description=(
        "Switched PDU with per-output metering, in the style of the NETIO PowerPDU 4C/4PS "
        "(user manual register overview; application note AN27)"
    ),
    function_codes=frozenset({1, 2, 3, 4, 5, 6, 15, 16}),
    manual_base=_NETIO_ALL_TABLES,
    points=(
        Point(
            Table.COILS,
            101,
            Quantity.RELAY_STATE,
            "Output N state; write 1 (0xFF00) to switch on, 0 to switch off",
            Encoding.BIT,
            scope=Scope.OUTPUT,
            write=Write.RELAY,
            unit="0 off, 1 on",
        ),
        Point(
            Table.HOLDING_REGISTERS,
            0,
            Quantity.DIGITAL_INPUT_COUNT,
            "Number of digital inputs",
        ),
        Point(Table.HOLDING_REGISTERS, 1, Quantity.OUTPUT_COUNT, "Number of outputs"),
        Point(
            Table.HOLDING_REGISTERS,
            2,
            Quantity.METERED_OUTPUT_COUNT,
            "Number of metered outputs",
        ),
        Point(
            Table.HOLDING_REGISTERS,
            101,
            Quantity.RELAY_STATE,
            "Output N state; write an action: 0 off, 1 on, 2 short-off (reboot), "
            "3 short-on, 4 toggle, 5 no change",
            scope=Scope.OUTPUT,
            write=Write.OUTPUT_ACTION,
            unit="0 off, 1 on",
        ),
        Point(
            Table.HOLDING_REGISTERS,
            201,
            Quantity.SHORT_DELAY,
            "Output N short delay",
            scale=10,
            scope=Scope.OUTPUT,
            write=Write.SHORT_DELAY,
            unit="0.1 s",
        ),
        Point(Table.INPUT_REGISTERS, 0, Quantity.FREQUENCY, "Frequency", scale=100, unit="0.01 Hz"),
        Point(Table.INPUT_REGISTERS, 1, Quantity.VOLTAGE, "Voltage (RMS)", scale=10, unit="0.1 V"),
        Point(
            Table.INPUT_REGISTERS,
            2,
            Quantity.POWER_FACTOR,
            "True power factor",
            scale=1000,
            unit="0.001",
        ),
        Point(Table.INPUT_REGISTERS, 100, Quantity.CURRENT, "Total current", scale=1000, unit="mA"),
        Point(
            Table.INPUT_REGISTERS,
            101,
            Quantity.CURRENT,
            "Output N current",
            scale=1000,
            scope=Scope.OUTPUT,
            unit="mA",
        ),
        Point(Table.INPUT_REGISTERS, 200, Quantity.ACTIVE_POWER, "Total active power", unit="W"),
        Point(
            Table.INPUT_REGISTERS,
            201,
            Quantity.ACTIVE_POWER,
            "Output N active power",
            scope=Scope.OUTPUT,
            unit="W",
        ),
        Point(
            Table.INPUT_REGISTERS,
            300,
            Quantity.ACTIVE_ENERGY,
            "Total energy",
            Encoding.UINT32,
            unit="Wh",
        ),
        Point(
            Table.INPUT_REGISTERS,
            302,
            Quantity.ACTIVE_ENERGY,
            "Output N energy",
            Encoding.UINT32,
            scope=Scope.OUTPUT,
            stride=2,
            unit="Wh",
        ),
    ),
)


SDM630_METER = Profile(
    name="sdm630_meter",
    description=(
        "Three-phase energy meter in the style of the Eastron SDM630 Modbus (behind an "
        "RTU-to-TCP gateway); the PDU's outlets are its metered circuits"
    ),
    # The SDM630 implements 03/04 reads and 16 for its set-up registers, none of which are
    # simulated: FC16 gets exception 2, the other writes exception 1.
    function_codes=frozenset({3, 4, 16}),
    manual_base={Table.INPUT_REGISTERS: 30001, Table.HOLDING_REGISTERS: 40001},
    phases=3,
    hex_addresses=True,
    points=(
        Point(
            Table.INPUT_REGISTERS,
            0x0000,
            Quantity.VOLTAGE,
            "Phase L{p} line to neutral voltage",
            Encoding.FLOAT32,
            scope=Scope.PHASE,
            stride=2,
            unit="V",
        ),
        Point(
            Table.INPUT_REGISTERS,
            0x0006,
            Quantity.CURRENT,
            "Phase L{p} current",
            Encoding.FLOAT32,
            scope=Scope.PHASE,
            stride=2,
            unit="A",
        ),
        Point(
            Table.INPUT_REGISTERS,
            0x000C,
            Quantity.ACTIVE_POWER,
            "Phase L{p} active power",
            Encoding.FLOAT32,
            scope=Scope.PHASE,
            stride=2,
            unit="W",
        ),
        Point(
            Table.INPUT_REGISTERS,
            0x0034,
            Quantity.ACTIVE_POWER,
            "Total system power",
            Encoding.FLOAT32,
            unit="W",
        ),
        Point(
            Table.INPUT_REGISTERS,
            0x0046,
            Quantity.FREQUENCY,
            "Frequency of supply voltages",
            Encoding.FLOAT32,
            unit="Hz",
        ),
        Point(
            Table.INPUT_REGISTERS,
            0x0048,
            Quantity.ACTIVE_ENERGY,
            "Import active energy",
            Encoding.FLOAT32,
            scale=0.001,
            unit="kWh",
        ),
        Point(
            Table.INPUT_REGISTERS,
            0x0156,
            Quantity.ACTIVE_ENERGY,
            "Total active energy",
            Encoding.FLOAT32,
            scale=0.001,
            unit="kWh",
        ),
    ),
)

PROFILES: dict[str, Profile] = {p.name: p for p in (NETIO_SWITCHED_PDU, SDM630_METER)}


def markdown_table(profile: Profile) -> str:
    """The map as a Markdown table: docs/simulators-modbus.md carries these verbatim, and a
    test keeps the two equal. Per-output rows give the address of output N as a formula."""
    hexadecimal = profile.hex_addresses
    rows = [
        "| Wire address | Manual register | FC | Meaning | Scaling | Data type | Access |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for point in sorted(profile.points, key=lambda p: (p.table.value, p.address)):
        functions = [READ_FUNCTION[point.table], *WRITE_FUNCTIONS.get(point.table, ())]
        if point.write is None:
            functions = functions[:1]
        fc = ", ".join(f"{f:02d}" for f in functions)
        access = "read" if point.write is None else "read/write"
        base = profile.manual_base[point.table]
        words = range(point.encoding.words)
        if point.scope is Scope.OUTPUT:
            first = point.address - point.stride  # the formula's constant: address of "output 0"
            step = "N" if point.stride == 1 else f"{point.stride}N"
            cells = [(f"{first + w}+{step}", f"{first + w + base}+{step}", "N") for w in words]
            items = [cells]
        else:
            count = 3 if point.scope is Scope.PHASE else 1
            items = []
            for position in range(1, count + 1):
                address = point.address_of(position)
                wire = [_number(address + w, hexadecimal) for w in words]
                manual = [str(address + w + base) for w in words]
                items.append([("-".join(wire), "-".join(manual), str(position))])
        for cells in items:
            wire = ", ".join(c[0] for c in cells)
            manual = ", ".join(c[1] for c in cells)
            meaning = point.meaning.format(p=cells[0][2])
            rows.append(
                f"| {wire} | {manual} | {fc} | {meaning} | {point.unit or '-'} | "
                f"{point.encoding.value} | {access} |"
            )
    return "\n".join(rows)


def _number(address: int, hexadecimal: bool) -> str:
    return f"0x{address:04X}" if hexadecimal else str(address)
