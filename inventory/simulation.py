"""The simulator fleet that mirrors the inventory, so the demo's (and tests') PDUs answer at
the addresses, with the credentials and the loads that the inventory holds.

This is the project side of the bridge: it writes the plain YAML/JSON description that
``python -m simulators`` reads. ``simulators/`` never imports Django or the inventory.
"""

from __future__ import annotations

import math
from collections import Counter

from django.db.models import Prefetch, QuerySet

from inventory.choices import FeedPhase, PduProtocol, VendorProfile
from inventory.models import PDU, Outlet

# Inventory vendor profile -> (simulator protocol, simulator profile). A profile without a
# simulator would be absent and reported, not guessed.
SIMULATOR_PROFILES = {
    VendorProfile.APC_RPDU2: ("snmp", "apc_rpdu2"),
    VendorProfile.APC_MASTERSWITCH: ("snmp", "apc_masterswitch"),
    VendorProfile.RARITAN_PX: ("snmp", "raritan_px"),
    VendorProfile.SERVERTECH_SENTRY4: ("snmp", "servertech_sentry4"),
    VendorProfile.SERVERTECH_SENTRY3: ("snmp", "servertech_sentry3"),
    VendorProfile.EATON_EPDU: ("snmp", "eaton_epdu"),
    VendorProfile.CYBERPOWER_EPDU: ("snmp", "cyberpower_epdu"),
    VendorProfile.MODBUS_SWITCHED_PDU: ("modbus", "netio_switched_pdu"),
    VendorProfile.MODBUS_POWER_METER: ("modbus", "sdm630_meter"),
}


class UnsupportedPdu(ValueError):
    """A PDU whose vendor profile has no simulator yet (reported and skipped)."""


def fleet_pdus(queryset: QuerySet[PDU] | None = None) -> QuerySet[PDU]:
    queryset = queryset if queryset is not None else PDU.objects.all()
    return (
        queryset.select_related("rack__site", "feed")
        .prefetch_related(
            Prefetch("outlets", queryset=Outlet.objects.select_related("power_supply"))
        )
        .order_by("rack__site__name", "rack__name", "name")
    )


def simulator_fleet_description(
    pdus: QuerySet[PDU],
    *,
    time_scale: float = 1.0,
    auto_profile: str = VendorProfile.APC_RPDU2,
    port: int | None = None,
    control_port: int | None = None,
) -> tuple[dict, list[str]]:
    """The fleet description for these PDUs, and a list of PDUs skipped (with why).

    Each simulated outlet carries the allocated draw of the supply plugged into it (an empty
    outlet draws nothing); the voltage and phases come from the PDU's feed.
    """
    pdus = list(fleet_pdus(pdus))
    name_counts = Counter(pdu.name for pdu in pdus)
    entries, skipped = [], []
    for pdu in pdus:
        try:
            entries.append(
                _pdu_entry(
                    pdu,
                    unique_name=name_counts[pdu.name] == 1,
                    auto_profile=auto_profile,
                    port=port,
                )
            )
        except UnsupportedPdu as exc:
            skipped.append(str(exc))
    description: dict = {"time_scale": time_scale, "pdus": entries}
    if control_port is not None:
        description["control"] = {"host": "127.0.0.1", "port": control_port}
    return description, skipped


def simulator_pdu_name(pdu: PDU, *, unique_name: bool = True) -> str:
    return pdu.name if unique_name else f"{pdu.rack.site.slug}/{pdu.rack.name}/{pdu.name}"


def _pdu_entry(pdu: PDU, *, unique_name: bool, auto_profile: str, port: int | None) -> dict:
    vendor = auto_profile if pdu.vendor_profile == VendorProfile.AUTO else pdu.vendor_profile
    if vendor not in SIMULATOR_PROFILES:
        raise UnsupportedPdu(f"{pdu.name}: no simulator for vendor profile {vendor!r} yet")
    protocol, profile = SIMULATOR_PROFILES[vendor]
    feed = pdu.feed
    three_phase = feed is not None and feed.phase == FeedPhase.THREE
    voltage = float(feed.voltage) if feed is not None else 230.0
    if three_phase:
        voltage = round(voltage / math.sqrt(3))  # line-to-neutral, what an outlet sees
    loads = [
        float(getattr(outlet, "power_supply", None).allocated_draw_w)
        if getattr(outlet, "power_supply", None) is not None
        else 0.0
        for outlet in pdu.outlets.all()
    ]
    entry = {
        "name": simulator_pdu_name(pdu, unique_name=unique_name),
        "protocol": protocol,
        "profile": profile,
        "host": pdu.management_host,
        "port": pdu.effective_port if port is None else port,
        "outlets": len(loads),
        "loads_w": loads,
        # A power meter measures a three-phase supply whatever the feed record says.
        "phases": 3 if three_phase or profile == "sdm630_meter" else 1,
        "nominal_voltage": voltage,
    }
    if pdu.protocol == PduProtocol.SNMP:
        entry["snmp"] = _snmp_credentials(pdu)
    else:
        entry["modbus"] = {"unit_id": pdu.modbus_unit_id}
    return entry


def _snmp_credentials(pdu: PDU) -> dict:
    credentials: dict = {
        "read_communities": [c for c in [pdu.snmp_read_community] if c],
        "write_communities": [c for c in [pdu.snmp_write_community] if c],
    }
    if pdu.snmp_v3_username:
        credentials["v3_users"] = [
            {
                "name": pdu.snmp_v3_username,
                "auth": pdu.snmp_v3_auth_protocol,
                "auth_key": pdu.snmp_v3_auth_key,
                "priv": _simulator_priv(pdu),
                "priv_key": pdu.snmp_v3_priv_key,
                "write": True,
            }
        ]
    return credentials


def _simulator_priv(pdu: PDU) -> str:
    """The simulator names Reeder's AES-192/256 key extension "aes192c"/"aes256c"."""
    priv = pdu.snmp_v3_priv_protocol
    if priv in ("aes192", "aes256") and pdu.snmp_v3_priv_key_extension == "reeder":
        return priv + "c"
    return priv
