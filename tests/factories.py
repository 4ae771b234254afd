"""Build valid inventory objects for tests, validated exactly as the admin and API do."""

from __future__ import annotations

import itertools

from inventory import services
from inventory.models import PDU, Host, PowerFeed, PowerSupply, Rack, Site

_seq = itertools.count(1)


def _saved(obj):
    obj.full_clean()
    obj.save()
    return obj


def make_site(**fields) -> Site:
    n = next(_seq)
    fields.setdefault("name", f"Site {n}")
    fields.setdefault("slug", f"site-{n}")
    return _saved(Site(**fields))


def make_rack(*, site: Site | None = None, **fields) -> Rack:
    fields.setdefault("name", f"R{next(_seq):03d}")
    return _saved(Rack(site=site or make_site(), **fields))


def make_feed(*, rack: Rack, side: str = "A", **fields) -> PowerFeed:
    fields.setdefault("name", f"{rack.name}-{side}-{next(_seq)}")
    fields.setdefault("voltage", 230)
    fields.setdefault("amperage", 32)
    return _saved(PowerFeed(site=rack.site, rack=rack, side=side, **fields))


def make_pdu(*, rack: Rack, **fields) -> PDU:
    fields.setdefault("name", f"PDU-{next(_seq)}")
    fields.setdefault("management_host", f"127.0.0.{next(_seq) % 250 + 2}")
    fields.setdefault("snmp_read_community", "public")
    fields.setdefault("outlet_count", 24)
    pdu = _saved(PDU(rack=rack, **fields))
    services.pdu_sync_outlets(pdu=pdu)
    return pdu


def make_host(*, rack: Rack | None = None, site: Site | None = None, **fields) -> Host:
    fields.setdefault("name", f"host-{next(_seq)}")
    site = site or (rack.site if rack else make_site())
    return _saved(Host(site=site, rack=rack, **fields))


def make_supply(*, host: Host, outlet=None, **fields) -> PowerSupply:
    fields.setdefault("name", f"PSU{next(_seq)}")
    fields.setdefault("max_draw_w", 800)
    fields.setdefault("allocated_draw_w", 200)
    return _saved(PowerSupply(host=host, outlet=outlet, **fields))


def make_dual_psu_host(*, rack: Rack, pdu_a: PDU, pdu_b: PDU, outlet: int, **fields) -> Host:
    host = make_host(rack=rack, **fields)
    make_supply(host=host, name="PSU1", outlet=pdu_a.outlets.get(number=outlet))
    make_supply(host=host, name="PSU2", outlet=pdu_b.outlets.get(number=outlet))
    return host


def grant(user, role: str, *sites):
    """Give ``user`` a role (dcpower/access.py ROLES) at ``sites`` (none: every site)."""
    from django.contrib.auth.models import Group

    from dcpower.models import RoleGrant

    role_grant, _ = RoleGrant.objects.get_or_create(user=user, role=Group.objects.get(name=role))
    role_grant.sites.set(sites)
    user.__dict__.pop("_dcpower_role_grants", None)  # the backend's per-user cache
    return role_grant
