"""Reads that span relations: rack power capacity with A/B redundancy, host redundancy.

Each takes objects whose relations were loaded by the ``*_prefetch`` querysets below, so a
list of any length costs a fixed number of queries.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Prefetch, QuerySet

from inventory.choices import FeedSide, HostStatus, PowerFeedStatus
from inventory.models import PDU, Host, PowerFeed, PowerSupply, Rack


@dataclass(frozen=True)
class SidePower:
    side: str
    capacity_w: int
    allocated_draw_w: int
    feeds: list[PowerFeed] = field(default_factory=list)


@dataclass(frozen=True)
class RackPower:
    """A rack's power budget.

    ``capacity_w`` is what the rack may draw and still survive the loss of one side: with an
    A and a B side that is the smaller side (two 5 kW feeds give 5 kW, not 10). A rack fed
    from one side only is not redundant and its capacity is that side's.
    """

    redundant: bool
    capacity_w: int
    total_feed_capacity_w: int
    allocated_draw_w: int
    utilization_percent: float | None
    sides: list[SidePower]


def rack_power_prefetch(queryset: QuerySet[Rack]) -> QuerySet[Rack]:
    return queryset.prefetch_related(
        "power_feeds",
        Prefetch("pdus", queryset=PDU.objects.select_related("feed")),
        Prefetch(
            "hosts",
            queryset=Host.objects.prefetch_related(
                Prefetch(
                    "power_supplies",
                    queryset=PowerSupply.objects.select_related("outlet__pdu__feed"),
                )
            ),
        ),
    )


def rack_feeds(rack: Rack) -> list[PowerFeed]:
    """Feeds delivered to the rack, and feeds of its PDUs that are not tied to a rack."""
    feeds = {feed.pk: feed for feed in rack.power_feeds.all()}
    for pdu in rack.pdus.all():
        if pdu.feed is not None:
            feeds.setdefault(pdu.feed.pk, pdu.feed)
    return sorted(feeds.values(), key=lambda f: (f.side, f.name))


def rack_power(rack: Rack) -> RackPower:
    feeds = [f for f in rack_feeds(rack) if f.status == PowerFeedStatus.ACTIVE]
    # A decommissioned host draws nothing; planned hosts count, as budget reserved for them.
    supplies = [
        psu
        for host in rack.hosts.all()
        if host.status != HostStatus.DECOMMISSIONED
        for psu in host.power_supplies.all()
    ]
    sides = []
    for side in FeedSide.values:
        side_feeds = [f for f in feeds if f.side == side]
        side_feed_ids = {f.pk for f in side_feeds}
        allocated = sum(
            psu.allocated_draw_w
            for psu in supplies
            if psu.outlet is not None and psu.outlet.pdu.feed_id in side_feed_ids
        )
        sides.append(
            SidePower(
                side=side,
                capacity_w=sum(f.available_power_w for f in side_feeds),
                allocated_draw_w=allocated,
                feeds=side_feeds,
            )
        )
    fed_sides = [s for s in sides if s.capacity_w > 0]
    redundant = len(fed_sides) > 1
    total = sum(s.capacity_w for s in sides)
    capacity = min(s.capacity_w for s in fed_sides) if redundant else total
    allocated = sum(psu.allocated_draw_w for psu in supplies)
    utilization = round(100 * allocated / capacity, 1) if capacity else None
    return RackPower(
        redundant=redundant,
        capacity_w=capacity,
        total_feed_capacity_w=total,
        allocated_draw_w=allocated,
        utilization_percent=utilization,
        sides=sides,
    )


def host_power_prefetch(queryset: QuerySet[Host]) -> QuerySet[Host]:
    return queryset.prefetch_related(
        Prefetch(
            "power_supplies",
            queryset=PowerSupply.objects.select_related("outlet__pdu__feed"),
        )
    )


def host_power_feeds(host: Host) -> list[PowerFeed]:
    """The active feeds that reach the host through its plugged-in supplies."""
    feeds = {}
    for psu in host.power_supplies.all():
        feed = psu.outlet.pdu.feed if psu.outlet is not None else None
        if feed is not None and feed.status == PowerFeedStatus.ACTIVE:
            feeds[feed.pk] = feed
    return list(feeds.values())


def host_is_redundantly_powered(host: Host) -> bool:
    """True when the host's supplies are plugged into PDUs fed by at least two different active
    feeds, so that losing any one feed leaves it powered."""
    return len(host_power_feeds(host)) >= 2


def host_allocated_draw_w(host: Host) -> int:
    return sum(psu.allocated_draw_w for psu in host.power_supplies.all())
