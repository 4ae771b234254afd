"""A rack's measured power against its budget: the inventory's redundant capacity
(inventory.selectors.rack_power) next to what its PDUs last reported, per side and per feed,
and whether losing one side would overload what is left.

A PDU's measured power is its own total where the device reports one, else the sum of its
outlets' readings; None when nothing was ever read. Reads only: the objects come from
``rack_measure_prefetch`` so that any number of racks costs a fixed number of queries.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Prefetch, QuerySet

from inventory.models import PDU, PowerFeed, Rack
from inventory.selectors import RackPower, rack_power, rack_power_prefetch


@dataclass(frozen=True)
class PduMeasure:
    pdu: PDU
    up: bool | None
    power_w: float | None
    readings_at: datetime | None


@dataclass(frozen=True)
class FeedMeasure:
    feed: PowerFeed
    capacity_w: int
    power_w: float | None

    @property
    def overloaded(self) -> bool:
        return self.power_w is not None and self.power_w > self.capacity_w


@dataclass(frozen=True)
class SideMeasure:
    side: str
    capacity_w: int
    power_w: float | None
    feeds: list[FeedMeasure]


@dataclass(frozen=True)
class RackMeasure:
    rack: Rack
    budget: RackPower
    power_w: float | None
    sides: list[SideMeasure]
    pdus: list[PduMeasure]
    # Losing one side would put the whole draw on the other, beyond its capacity.
    failover_overload: bool

    @property
    def capacity_w(self) -> int:
        return self.budget.capacity_w

    @property
    def utilization_percent(self) -> float | None:
        if self.power_w is None or not self.capacity_w:
            return None
        return round(100 * self.power_w / self.capacity_w, 1)

    @property
    def over_budget(self) -> bool:
        return self.power_w is not None and self.capacity_w > 0 and self.power_w > self.capacity_w

    @property
    def readings_at(self) -> datetime | None:
        times = [p.readings_at for p in self.pdus if p.readings_at is not None]
        return min(times) if times else None  # the oldest reading in the sum


def rack_measure_prefetch(queryset: QuerySet[Rack]) -> QuerySet[Rack]:
    return rack_power_prefetch(queryset).prefetch_related(
        Prefetch(
            "pdus",
            queryset=PDU.objects.select_related("feed", "telemetry").prefetch_related("outlets"),
            to_attr="measured_pdus",
        )
    )


def pdu_power_w(pdu: PDU) -> float | None:
    status = getattr(pdu, "telemetry", None)
    if status is not None and status.power_w is not None:
        return status.power_w
    readings = [o.power_w for o in pdu.outlets.all() if o.power_w is not None]
    return sum(readings) if readings else None


def _sum(values) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def rack_measure(rack: Rack) -> RackMeasure:
    budget = rack_power(rack)
    pdus = []
    by_feed: dict[int, list[float | None]] = {}
    for pdu in rack.measured_pdus:
        status = getattr(pdu, "telemetry", None)
        measured = pdu_power_w(pdu)
        pdus.append(
            PduMeasure(
                pdu=pdu,
                up=status.up if status else None,
                power_w=measured,
                readings_at=(status.readings_at if status else None),
            )
        )
        if pdu.feed_id is not None:
            by_feed.setdefault(pdu.feed_id, []).append(measured)
    sides = []
    for side in budget.sides:
        feeds = [
            FeedMeasure(feed=f, capacity_w=f.available_power_w, power_w=_sum(by_feed.get(f.pk, [])))
            for f in side.feeds
        ]
        sides.append(
            SideMeasure(
                side=side.side,
                capacity_w=side.capacity_w,
                power_w=_sum(f.power_w for f in feeds),
                feeds=feeds,
            )
        )
    total = _sum(p.power_w for p in pdus)
    failover_overload = False
    if budget.redundant and total is not None:
        fed = [s for s in sides if s.capacity_w > 0]
        failover_overload = any(
            total > sum(o.capacity_w for o in fed if o is not lost) for lost in fed
        )
    return RackMeasure(
        rack=rack,
        budget=budget,
        power_w=total,
        sides=sides,
        pdus=pdus,
        failover_overload=failover_overload,
    )
