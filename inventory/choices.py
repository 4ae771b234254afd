"""Named choices for the inventory, shared by models, filters, serializers and the admin.

Code compares against these constants, never against bare strings.
"""

from django.db import models


class RackStatus(models.TextChoices):
    PLANNED = "planned", "Planned"
    ACTIVE = "active", "Active"
    RESERVED = "reserved", "Reserved"
    DEPRECATED = "deprecated", "Deprecated"


class PowerFeedStatus(models.TextChoices):
    PLANNED = "planned", "Planned"
    ACTIVE = "active", "Active"
    OFFLINE = "offline", "Offline"
    FAILED = "failed", "Failed"


class FeedSide(models.TextChoices):
    A = "A", "A side"
    B = "B", "B side"


class FeedPhase(models.TextChoices):
    SINGLE = "single", "Single phase"
    THREE = "three", "Three phase"


class PduProtocol(models.TextChoices):
    SNMP = "snmp", "SNMP"
    MODBUS_TCP = "modbus_tcp", "Modbus TCP"


# The protocol's well-known port, used when a PDU's management port is left empty.
DEFAULT_MANAGEMENT_PORT = {PduProtocol.SNMP: 161, PduProtocol.MODBUS_TCP: 502}


class VendorProfile(models.TextChoices):
    """Which driver profile talks to a PDU. "auto" identifies it by sysObjectID (SNMP only)."""

    AUTO = "auto", "Auto-detect (SNMP sysObjectID)"
    APC_RPDU2 = "apc_rpdu2", "APC Rack PDU 2 (PowerNet-MIB rPDU2)"
    APC_MASTERSWITCH = "apc_masterswitch", "APC legacy rPDU / MasterSwitch (sPDUOutletCtl)"
    RARITAN_PX = "raritan_px", "Raritan PX (PDU2-MIB)"
    SERVERTECH_SENTRY4 = "servertech_sentry4", "ServerTech Sentry4"
    SERVERTECH_SENTRY3 = "servertech_sentry3", "ServerTech Sentry3"
    EATON_EPDU = "eaton_epdu", "Eaton ePDU (EATON-EPDU-MIB)"
    CYBERPOWER_EPDU = "cyberpower_epdu", "CyberPower ePDU (CPS-MIB)"
    MODBUS_SWITCHED_PDU = "modbus_switched_pdu", "Modbus TCP switched PDU (NETIO-style map)"
    MODBUS_POWER_METER = "modbus_power_meter", "Modbus TCP power meter (SDM630-style map)"


MODBUS_VENDOR_PROFILES = frozenset(
    {VendorProfile.MODBUS_SWITCHED_PDU, VendorProfile.MODBUS_POWER_METER}
)


class SnmpVersion(models.TextChoices):
    V1 = "v1", "SNMPv1"
    V2C = "v2c", "SNMPv2c"
    V3 = "v3", "SNMPv3 (USM)"


class SnmpAuthProtocol(models.TextChoices):
    NONE = "none", "None (noAuthNoPriv)"
    MD5 = "md5", "HMAC-MD5-96"
    SHA = "sha", "HMAC-SHA-96"
    SHA224 = "sha224", "HMAC-SHA-2 224"
    SHA256 = "sha256", "HMAC-SHA-2 256"
    SHA384 = "sha384", "HMAC-SHA-2 384"
    SHA512 = "sha512", "HMAC-SHA-2 512"


class SnmpPrivProtocol(models.TextChoices):
    NONE = "none", "None (no privacy)"
    DES = "des", "DES"
    AES128 = "aes128", "AES-128"
    AES192 = "aes192", "AES-192"
    AES256 = "aes256", "AES-256"


class SnmpKeyExtension(models.TextChoices):
    """How an AES-192/256 privacy key is extended from the pass phrase: devices differ, and
    net-snmp and pysnmp name the two methods differently."""

    BLUMENTHAL = "blumenthal", "Blumenthal draft (net-snmp AES192/AES256)"
    REEDER = "reeder", "Reeder / Cisco (net-snmp AES192C/AES256C)"


class PduMounting(models.TextChoices):
    ZERO_U_LEFT = "0u_left", "0U, left side"
    ZERO_U_RIGHT = "0u_right", "0U, right side"
    RACK_UNIT = "rack_unit", "In rack units"


class OutletState(models.TextChoices):
    UNKNOWN = "unknown", "Unknown"
    ON = "on", "On"
    OFF = "off", "Off"
    PENDING = "pending", "Pending"


class HostStatus(models.TextChoices):
    PLANNED = "planned", "Planned"
    ACTIVE = "active", "Active"
    MAINTENANCE = "maintenance", "Maintenance"
    DECOMMISSIONED = "decommissioned", "Decommissioned"
