"""How to reach an inventory PDU: the bridge from the inventory (Django) to the drivers (which
know nothing of Django)."""

from __future__ import annotations

from inventory.choices import PduProtocol, SnmpVersion
from inventory.models import PDU
from power.drivers.base import DeviceTarget, SnmpV3Credentials


def device_target_for_pdu(pdu: PDU, *, timeout_s: float = 2.0, retries: int = 1) -> DeviceTarget:
    v3 = None
    if pdu.protocol == PduProtocol.SNMP and pdu.snmp_version == SnmpVersion.V3:
        v3 = SnmpV3Credentials(
            username=pdu.snmp_v3_username,
            auth_protocol=pdu.snmp_v3_auth_protocol,
            auth_key=pdu.snmp_v3_auth_key,
            priv_protocol=pdu.snmp_v3_priv_protocol,
            priv_key=pdu.snmp_v3_priv_key,
            key_extension=pdu.snmp_v3_priv_key_extension,
        )
    return DeviceTarget(
        host=pdu.management_host,
        port=pdu.effective_port,
        protocol=pdu.protocol,
        vendor=pdu.vendor_profile,
        snmp_version=pdu.snmp_version,
        read_community=pdu.snmp_read_community,
        write_community=pdu.snmp_write_community,
        v3=v3,
        modbus_unit_id=pdu.modbus_unit_id,
        modbus_address_base=pdu.modbus_address_base,
        timeout_s=timeout_s,
        retries=retries,
    )
