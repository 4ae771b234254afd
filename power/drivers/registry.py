"""Finds the driver for a device: by its configured vendor profile, or ("auto", SNMP only) by
the longest sysObjectID prefix among the vendor profiles."""

from __future__ import annotations

from power.drivers.base import DeviceTarget, PduDriver
from power.drivers.errors import DriverError, UnknownDevice
from power.drivers.modbus.driver import ModbusPduDriver
from power.drivers.modbus.profiles import PROFILES as MODBUS_PROFILES
from power.drivers.snmp.client import SnmpClient, oid_str
from power.drivers.snmp.driver import SYS_OBJECT_ID, snmp_driver
from power.drivers.snmp.vendors import VENDORS as SNMP_VENDORS
from power.drivers.snmp.vendors import vendor_for_sys_object_id

AUTO = "auto"


def known_vendors() -> list[str]:
    return sorted(SNMP_VENDORS) + sorted(MODBUS_PROFILES)


def driver_for_vendor(target: DeviceTarget, vendor: str) -> PduDriver:
    if vendor in MODBUS_PROFILES:
        if target.protocol != "modbus_tcp":
            raise DriverError(target.address, f"vendor profile {vendor!r} speaks Modbus TCP")
        return ModbusPduDriver(target, MODBUS_PROFILES[vendor])
    if vendor in SNMP_VENDORS:
        if target.protocol != "snmp":
            raise DriverError(target.address, f"vendor profile {vendor!r} speaks SNMP")
        return snmp_driver(target, SNMP_VENDORS[vendor])
    raise DriverError(target.address, f"unknown vendor profile {vendor!r}")


async def driver_for(target: DeviceTarget) -> PduDriver:
    """The driver for ``target``; with vendor "auto" the device is asked for its sysObjectID."""
    if target.vendor != AUTO:
        return driver_for_vendor(target, target.vendor)
    if target.protocol != "snmp":
        raise DriverError(target.address, "auto-detection needs SNMP; name the Modbus profile")
    values = await SnmpClient(target).get([SYS_OBJECT_ID])
    sys_object_id = values[SYS_OBJECT_ID]
    if not isinstance(sys_object_id, tuple):
        raise UnknownDevice(target.address, "no sysObjectID", obj=oid_str(SYS_OBJECT_ID))
    vendor = vendor_for_sys_object_id(sys_object_id)
    if vendor is None:
        raise UnknownDevice(
            target.address,
            f"no vendor profile matches sysObjectID {oid_str(sys_object_id)}",
            obj=oid_str(SYS_OBJECT_ID),
        )
    return snmp_driver(target, vendor)
