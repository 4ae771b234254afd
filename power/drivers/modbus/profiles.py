"""Modbus register maps, as data: function code, register numbers as the vendor's manual
numbers them, the manual's numbering base (0 or 1; overridable per device), data type, word
order and scaling. Written from the manuals (../shared/reference/PROTOCOLS.md, section 5),
never shared with the simulators.
"""

from __future__ import annotations

from dataclasses import dataclass

COILS, HOLDING, INPUT = 1, 3, 4  # the read function codes


@dataclass(frozen=True)
class Register:
    number: int  # as the manual numbers it
    function: int = INPUT
    data_type: str = "uint16"  # uint16, uint32, float32
    word_order: str = "big"  # for two-register types: "big" = high word first
    scale: float = 1.0  # raw -> SI (A, V, W) or kWh

    @property
    def width(self) -> int:
        return 1 if self.data_type == "uint16" or self.function == COILS else 2


@dataclass(frozen=True)
class PerOutlet:
    """Outlet N's register is ``first.number + (N - 1) * stride``."""

    first: Register
    stride: int = 1

    def number(self, outlet: int) -> int:
        return self.first.number + (outlet - 1) * self.stride


@dataclass(frozen=True)
class ModbusProfile:
    name: str
    title: str
    address_base: int  # the manual's numbering: wire address = number - address_base
    outlet_count: Register | None = None  # a register holding the number of outlets
    state: PerOutlet | None = None  # coils: on/off
    switch: PerOutlet | None = None  # coil written ON (0xFF00) / OFF (0x0000)
    reboot: tuple[PerOutlet, int] | None = None  # holding register and the value that reboots
    outlet_current: PerOutlet | None = None
    outlet_power: PerOutlet | None = None
    outlet_energy: PerOutlet | None = None
    total_voltage: Register | None = None
    total_current: Register | None = None
    total_power: Register | None = None
    total_energy: Register | None = None
    phase_voltage: tuple[Register, ...] = ()
    phase_current: tuple[Register, ...] = ()
    phase_power: tuple[Register, ...] = ()
    command_spacing_s: float = 0.0


PROFILES: dict[str, ModbusProfile] = {}


def _register(profile: ModbusProfile) -> ModbusProfile:
    PROFILES[profile.name] = profile
    return profile


# NETIO PowerPDU (user manual register overview, app note AN27). The manual numbers
# registers from 1 (the wire address is one less). Output N: coil 101+N (FC01/FC05);
# holding 101+N (FC03/FC06) takes an action, 2 = short off (reboot); input registers: current
# mA at 101+N, power W at 201+N, energy Wh as two registers (upper word first) at 301+2N;
# totals at 101 (mA), 201 (W), 301-302 (Wh); voltage V x 10 at 2. Holding 2: output count.
_register(
    ModbusProfile(
        name="modbus_switched_pdu",
        title="Modbus TCP switched PDU (NETIO PowerPDU map)",
        address_base=1,
        outlet_count=Register(2, HOLDING),
        state=PerOutlet(Register(102, COILS)),
        switch=PerOutlet(Register(102, COILS)),
        reboot=(PerOutlet(Register(102, HOLDING)), 2),
        outlet_current=PerOutlet(Register(102, INPUT, scale=0.001)),
        outlet_power=PerOutlet(Register(202, INPUT)),
        outlet_energy=PerOutlet(Register(303, INPUT, "uint32", "big", 0.001), stride=2),
        total_voltage=Register(2, INPUT, scale=0.1),
        total_current=Register(101, INPUT, scale=0.001),
        total_power=Register(201, INPUT),
        total_energy=Register(301, INPUT, "uint32", "big", 0.001),
    )
)

# Eastron SDM630 (SDM.h of reaper7/SDM_Energy_Meter): FC04 input registers, float32, high
# word first, numbered from 0. A meter: no outlets.
_F = dict(function=INPUT, data_type="float32", word_order="big")
_register(
    ModbusProfile(
        name="modbus_power_meter",
        title="Modbus TCP power meter (Eastron SDM630 map)",
        address_base=0,
        phase_voltage=(Register(0x00, **_F), Register(0x02, **_F), Register(0x04, **_F)),
        phase_current=(Register(0x06, **_F), Register(0x08, **_F), Register(0x0A, **_F)),
        phase_power=(Register(0x0C, **_F), Register(0x0E, **_F), Register(0x10, **_F)),
        total_power=Register(0x34, **_F),
        total_energy=Register(0x156, **_F),  # total kWh
    )
)
