"""A small, realistic data center for the demo, the docs and manual testing.

One site with four racks. Each rack has an A and a B feed (230 V, 32 A, single phase), an A and
a B PDU on them (one vendor profile per rack), and ten dual-PSU hosts with PSU1 on the A PDU and
PSU2 on the B PDU. Each rack's top-of-rack switch and the database hosts are protected.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from inventory import services
from inventory.choices import FeedSide, HostStatus, PduMounting, VendorProfile
from inventory.models import PDU, Host, PowerFeed, PowerSupply, Rack, Site

DEMO_SITE_SLUG = "demo-fra1"
RACK_COUNT = 4
HOSTS_PER_RACK = 10
OUTLETS_PER_PDU = 24
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
    ("web01", "web", 1, 180, False),
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
                status=HostStatus.ACTIVE,
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
