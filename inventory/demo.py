"""A small, realistic data center for the demo, the docs and manual testing.

One site with four racks. Each rack has an A and a B feed (230 V, 32 A, single phase), an A and
a B PDU on them (one vendor profile per rack), and ten dual-PSU hosts with PSU1 on the A PDU and
PSU2 on the B PDU. Each rack's top-of-rack switch and the database hosts are protected; each
rack's web01 is in maintenance, waiting for a power cycle.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from django.db import transaction

from inventory import services
from inventory.choices import FeedSide, HostStatus, PduMounting, VendorProfile
from inventory.models import PDU, Host, PowerFeed, PowerSupply, Rack, Site
from inventory.simulation import simulator_fleet_description, simulator_pdu_name

DEMO_SITE_SLUG = "demo-fra1"
RACK_COUNT = 4
HOSTS_PER_RACK = 10
OUTLETS_PER_PDU = 24
# Each rack's web01 is in maintenance, waiting for a power cycle: the demo's example.
MAINTENANCE_HOST = "web01"
RACK_VENDORS = [
    VendorProfile.APC_RPDU2,
    VendorProfile.RARITAN_PX,
    VendorProfile.SERVERTECH_SENTRY4,
    VendorProfile.EATON_EPDU,
]
# (name suffix, role, height in U, allocated draw per PSU in W, protected)
HOST_LAYOUT = [
    ("tor01", "network", 1, 90, True),
    ("db01", "database", 2, 350, True),
    ("web01", "web", 1, 180, False),  # in maintenance: the one to power-cycle (below)
    ("web02", "web", 1, 180, False),
    ("app01", "compute", 1, 220, False),
    ("app02", "compute", 1, 220, False),
    ("app03", "compute", 1, 220, False),
    ("stor01", "storage", 2, 300, False),
    ("stor02", "storage", 2, 300, False),
    ("mgmt01", "management", 1, 60, False),
]


@dataclass(frozen=True)
class DemoSummary:
    site: Site
    created: bool


def demo_pdu_address(rack_index: int, side: str) -> str:
    """Each demo PDU answers on its own loopback address: 127.0.10.<n>."""
    return f"127.0.10.{rack_index * 2 + (1 if side == FeedSide.A else 2)}"


@transaction.atomic
def demo_inventory_load() -> DemoSummary:
    existing = Site.objects.filter(slug=DEMO_SITE_SLUG).first()
    if existing is not None:
        return DemoSummary(site=existing, created=False)
    site = Site.objects.create(
        name="Demo FRA1", slug=DEMO_SITE_SLUG, description="dcpower demo data center"
    )
    for rack_index in range(RACK_COUNT):
        _load_rack(site, rack_index)
    return DemoSummary(site=site, created=True)


def demo_fleet_description(*, site: Site, time_scale: float = 1.0) -> tuple[dict, list[str]]:
    """The simulator fleet for the site's PDUs, every PDU on a free port (the demo runs
    unprivileged: 161 and 502 need root) and the control endpoint on a free port too. The
    ports the fleet chose are written back with ``demo_pdu_addresses_set``."""
    return simulator_fleet_description(
        PDU.objects.filter(rack__site=site), time_scale=time_scale, port=0, control_port=0
    )


@transaction.atomic
def demo_pdu_addresses_set(*, site: Site, addresses: dict[str, tuple[str, int]]) -> int:
    """Point the site's PDUs at the addresses the running fleet serves them on (keyed by the
    fleet's PDU names); returns how many changed."""
    pdus = list(PDU.objects.filter(rack__site=site).select_related("rack__site"))
    name_counts = Counter(pdu.name for pdu in pdus)
    changed = 0
    for pdu in pdus:
        name = simulator_pdu_name(pdu, unique_name=name_counts[pdu.name] == 1)
        if name not in addresses:
            continue
        host, port = addresses[name]
        if (pdu.management_host, pdu.management_port) != (host, port):
            pdu.management_host, pdu.management_port = host, port
            changed += 1
            _saved(pdu)
    return changed


def demo_cycle_host(*, site: Site) -> Host | None:
    """The host that the demo's example command cycles: the first one in maintenance (an
    active host's cycle cuts its last live supply, which the guardrails refuse without
    ``force``; a host taken out of service for the reboot needs only a reason)."""
    return (
        Host.objects.filter(site=site, protected=False, status=HostStatus.MAINTENANCE)
        .order_by("rack__name", "position_u")
        .first()
    )


def _load_rack(site: Site, rack_index: int) -> None:
    rack_name = f"R{rack_index + 1:02d}"
    rack = _saved(Rack(site=site, name=rack_name, room="Hall 1", row="A", u_height=42))
    pdus = {}
    for side in FeedSide.values:
        feed = _saved(
            PowerFeed(
                site=site,
                rack=rack,
                name=f"{rack_name}-FEED-{side}",
                side=side,
                voltage=230,
                amperage=32,
            )
        )
        pdu = _saved(
            PDU(
                rack=rack,
                name=f"{rack_name}-PDU-{side}",
                vendor_profile=RACK_VENDORS[rack_index % len(RACK_VENDORS)],
                management_host=demo_pdu_address(rack_index, side),
                snmp_read_community="public",
                snmp_write_community="private",
                outlet_count=OUTLETS_PER_PDU,
                feed=feed,
                mounting=PduMounting.ZERO_U_LEFT
                if side == FeedSide.A
                else PduMounting.ZERO_U_RIGHT,
            )
        )
        services.pdu_sync_outlets(pdu=pdu)
        pdus[side] = pdu
    position = 1
    for outlet_number, (suffix, role, height, draw, protected) in enumerate(HOST_LAYOUT, 1):
        host = _saved(
            Host(
                site=site,
                rack=rack,
                name=f"{rack_name.lower()}-{suffix}",
                position_u=position,
                u_height=height,
                status=HostStatus.MAINTENANCE if suffix == MAINTENANCE_HOST else HostStatus.ACTIVE,
                role=role,
                protected=protected,
                serial=f"SN{rack_index + 1:02d}{outlet_number:03d}",
            )
        )
        position += height
        for psu_index, side in enumerate(FeedSide.values, 1):
            _saved(
                PowerSupply(
                    host=host,
                    name=f"PSU{psu_index}",
                    max_draw_w=800,
                    allocated_draw_w=draw,
                    outlet=pdus[side].outlets.get(number=outlet_number),
                )
            )


def _saved(obj):
    """Validate like the admin and API do, then save."""
    obj.full_clean()
    obj.save()
    return obj
