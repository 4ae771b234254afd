"""The driver interface and the values it returns.

All readings are in SI units whatever the vendor's scaling: amperes, volts, watts, and
kilowatt-hours for energy. A value the device does not provide is None, never 0.
State is always read from the device's *status* object, never echoed from the control object,
and a vendor's pending state ("will switch on") is PENDING: not there yet.

A driver never waits for a state to be reached: the wait-until-verified loop belongs to the
caller (power commands), which polls ``outlet_states`` between its own sleeps.
"""

from __future__ import annotations

import abc
import enum
from dataclasses import dataclass, field


class OutletState(enum.StrEnum):
    ON = "on"
    OFF = "off"
    PENDING = "pending"  # the device says a switch is under way: not yet verified either way
    UNKNOWN = "unknown"


class SwitchAction(enum.StrEnum):
    ON = "on"
    OFF = "off"
    REBOOT = "reboot"  # the vendor's native off-wait-on, where it has one


@dataclass(frozen=True)
class SnmpV3Credentials:
    username: str
    auth_protocol: str = "none"  # none, md5, sha, sha224, sha256, sha384, sha512
    auth_key: str = ""
    priv_protocol: str = "none"  # none, des, aes128, aes192, aes256
    priv_key: str = ""
    # AES-192/256 keys are extended two ways: "blumenthal" (net-snmp's AES192/AES256) and
    # "reeder" (Cisco's; net-snmp's AES192C/AES256C). Devices differ; choose per device.
    key_extension: str = "blumenthal"

    def __repr__(self) -> str:  # never print keys
        return (
            f"SnmpV3Credentials(username={self.username!r}, auth={self.auth_protocol}, "
            f"priv={self.priv_protocol}, key_extension={self.key_extension})"
        )


@dataclass(frozen=True)
class DeviceTarget:
    """How to reach one PDU. Built by the caller from the inventory (or a command line)."""

    host: str
    port: int
    protocol: str = "snmp"  # "snmp" or "modbus_tcp"
    vendor: str = "auto"
    snmp_version: str = "v2c"  # v1, v2c, v3
    read_community: str = field(default="", repr=False)
    write_community: str = field(default="", repr=False)
    v3: SnmpV3Credentials | None = None
    modbus_unit_id: int = 1
    modbus_address_base: int | None = None  # None: the profile's own numbering
    timeout_s: float = 2.0
    retries: int = 1

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class DeviceIdentity:
    vendor: str  # the vendor profile's name
    sys_object_id: str | None
    description: str | None
    name: str | None


@dataclass(frozen=True)
class OutletStatus:
    number: int
    name: str | None
    state: OutletState


@dataclass(frozen=True)
class OutletReadings:
    number: int
    name: str | None
    state: OutletState
    current_a: float | None
    power_w: float | None
    energy_kwh: float | None


@dataclass(frozen=True)
class PhaseReadings:
    phase: int
    voltage_v: float | None
    current_a: float | None
    power_w: float | None


@dataclass(frozen=True)
class PduTotals:
    voltage_v: float | None
    current_a: float | None
    power_w: float | None
    energy_kwh: float | None
    phases: list[PhaseReadings] = field(default_factory=list)


@dataclass(frozen=True)
class PduReadings:
    outlets: list[OutletReadings]
    totals: PduTotals


class PduDriver(abc.ABC):
    """One PDU. Methods are coroutines; a driver holds no state between calls except its
    connection, so one instance may be reused for many requests to the same device."""

    def __init__(self, target: DeviceTarget) -> None:
        self.target = target

    @property
    @abc.abstractmethod
    def vendor(self) -> str: ...

    @property
    def command_spacing_s(self) -> float:
        """How long the caller should wait between two switching commands to this device."""
        return 0.0

    @abc.abstractmethod
    async def identify(self) -> DeviceIdentity: ...

    @abc.abstractmethod
    async def outlet_states(self) -> list[OutletStatus]:
        """Every outlet's state, in one round of bulk reads."""

    async def outlet_state(self, number: int) -> OutletStatus:
        """One outlet's state. Raises NoSuchOutlet if the device has no such outlet."""
        for status in await self.outlet_states():
            if status.number == number:
                return status
        from power.drivers.errors import NoSuchOutlet

        raise NoSuchOutlet(self.target.address, f"no outlet {number}", obj=f"outlet {number}")

    async def outlet_states_of(self, numbers: list[int]) -> list[OutletStatus]:
        """The states of some outlets (names may be None), in as few requests as the vendor
        allows: what a caller polls while verifying a command. By default, from one round of
        outlet_states()."""
        wanted = set(numbers)
        return [status for status in await self.outlet_states() if status.number in wanted]

    @abc.abstractmethod
    async def switch(self, outlets: list[int], action: SwitchAction) -> None:
        """Send the command for every outlet (in as few requests as the vendor allows). Returns
        once the device accepted it; verification is the caller's, through outlet_states()."""

    @abc.abstractmethod
    async def readings(self) -> PduReadings:
        """Every outlet's state, current, power and energy and the PDU's totals, in bulk."""

    async def close(self) -> None:  # noqa: B027 - an optional hook: SNMP drivers hold nothing
        """Release connections (Modbus); SNMP drivers hold none."""
