"""dcpower's own driver exceptions. Every one names the device and, where there is one, the
object (OID or register) involved, so that a log line or an API error says what failed where."""

from __future__ import annotations


class DriverError(Exception):
    """Base class. ``device`` is "host:port"; ``obj`` the OID, register or outlet concerned."""

    kind = "driver error"

    def __init__(self, device: str, message: str, *, obj: str | None = None) -> None:
        self.device = device
        self.obj = obj
        self.detail = message
        where = f"{device}" + (f" ({obj})" if obj else "")
        super().__init__(f"{where}: {message}")


class DeviceTimeout(DriverError):
    """No answer within the timeout and retries: down, unreachable, or (SNMP v1/v2c) a wrong
    community, which a real agent answers with silence."""

    kind = "timeout"


class AuthenticationFailed(DriverError):
    """The device refused our credentials (SNMPv3 USM report: unknown user, wrong digest,
    decryption error)."""

    kind = "authentication failed"


class DeviceRejected(DriverError):
    """The device answered the request with an error (SNMP error-status, Modbus exception):
    e.g. a SET refused with noAccess, genErr or wrongValue."""

    kind = "device rejected the request"


class NoSuchOutlet(DriverError):
    """The device has no such outlet (noSuchInstance, an index past the end, an illegal
    Modbus address)."""

    kind = "no such outlet"


class UnexpectedValue(DriverError):
    """The device answered with a value outside the vendor's documented set or type."""

    kind = "unexpected value"


class UnknownDevice(DriverError):
    """Auto-detection found no vendor profile for the device's sysObjectID."""

    kind = "unknown device"
