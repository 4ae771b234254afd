"""A rack's elevation: the rack as a technician sees it on the floor, for the API and the admin.

Its units top to bottom (U1 at the bottom, drawn top-down), each host in its span with its
power supplies and the outlet each is plugged into, the empty units, the PDUs by side with
every outlet, and the measured power against the redundant capacity (telemetry.selectors).

Plain dataclasses, no model instances: the API serializes them and the admin template draws
them. The rack comes from ``rack_elevation_prefetch``, so a rack of any size costs the same
fixed number of queries (seven).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from inventory.choices import FeedSide, PduMounting
from inventory.models import PDU, Outlet, Rack
from inventory.selectors import rack_power_prefetch
from telemetry.choices import ReadingsState, SlotKind
from telemetry.selectors import rack_measure
from telemetry.services import poll_interval_s

# Readings are stale once this many poll intervals have passed without a new one.
STALE_POLLS = 3


@dataclass(frozen=True)
class SupplyOutlet:
    """The outlet a host's power supply is plugged into."""

    id: int
    pdu_id: int
    pdu_name: str
    number: int
    state: str
    current_a: float | None
    power_w: float | None
    locked: bool

    @property
    def name(self) -> str:
        return f"{self.pdu_name}:{self.number}"


@dataclass(frozen=True)
class ElevationSupply:
    id: int
    name: str
    max_draw_w: int
    allocated_draw_w: int
    outlet: SupplyOutlet | None


@dataclass(frozen=True)
class ElevationHost:
    id: int
    name: str
    role: str
    status: str
    protected: bool
    position_u: int | None
    u_height: int
    supplies: list[ElevationSupply]

    @property
    def top_u(self) -> int | None:
        return None if self.position_u is None else self.position_u + self.u_height - 1


@dataclass(frozen=True)
class HostRef:
    id: int
    name: str


@dataclass(frozen=True)
class ElevationOutlet:
    id: int
    number: int
    name: str  # "PDU-A:3", as outlets are displayed everywhere
    label: str
    state: str
    current_a: float | None
    power_w: float | None
    locked: bool
    power_supply: str | None
    host: HostRef | None


@dataclass(frozen=True)
class ElevationPdu:
    id: int
    name: str
    side: str | None  # its feed's side; None without a feed
    mounting: str
    position_u: int | None
    u_height: int
    up: bool | None
    power_w: float | None
    readings_at: datetime | None
    readings: str  # ReadingsState
    outlets: list[ElevationOutlet]


@dataclass(frozen=True)
class ElevationSide:
    side: str | None
    pdus: list[ElevationPdu]


@dataclass(frozen=True)
class ElevationSlot:
    """A span of units, top to bottom: one host, one rack-unit PDU, or one empty unit."""

    kind: str  # SlotKind
    top_u: int
    position_u: int  # the lowest unit
    host: ElevationHost | None = None
    pdu: ElevationPdu | None = None

    @property
    def u_height(self) -> int:
        return self.top_u - self.position_u + 1


@dataclass(frozen=True)
class ElevationPower:
    measured_w: float | None  # None: nothing read, never 0 for "unknown"
    allocated_w: int
    capacity_w: int
    redundant: bool
    utilization_percent: float | None  # measured / capacity
    allocated_percent: float | None  # allocated / capacity
    over_budget: bool
    failover_overload: bool
    readings_at: datetime | None
    readings: str  # ReadingsState of the rack: its worst PDU's


@dataclass(frozen=True)
class RackElevation:
    id: int
    name: str
    site_id: int
    site_name: str
    u_height: int
    status: str
    slots: list[ElevationSlot]
    unplaced_hosts: list[ElevationHost]  # in the rack without a position, or beyond its top
    sides: list[ElevationSide]
    power: ElevationPower

    @property
    def empty_units(self) -> list[int]:
        return [s.top_u for s in self.slots if s.kind == SlotKind.EMPTY]


def rack_elevation_prefetch(queryset: QuerySet[Rack]) -> QuerySet[Rack]:
    """rack_measure's relations, with every outlet's plugged-in supply and host."""
    outlets = Outlet.objects.select_related("power_supply__host")
    return rack_power_prefetch(queryset.select_related("site")).prefetch_related(
        Prefetch(
            "pdus",
            queryset=PDU.objects.select_related("feed", "telemetry").prefetch_related(
                Prefetch("outlets", queryset=outlets)
            ),
            to_attr="measured_pdus",
        )
    )


def _readings_at(pdu: PDU) -> datetime | None:
    """When the PDU was last read: its own totals' time, else its newest outlet reading's
    (rack_measure sums the outlets of a PDU that reports no total)."""
    status = getattr(pdu, "telemetry", None)
    if status is not None and status.readings_at is not None:
        return status.readings_at
    times = [o.readings_at for o in pdu.outlets.all() if o.readings_at is not None]
    return max(times, default=None)


def _readings_state(pdu: PDU, readings_at: datetime | None, now: datetime) -> str:
    if readings_at is None:
        return ReadingsState.MISSING
    status = getattr(pdu, "telemetry", None)
    too_old = readings_at < now - timedelta(seconds=STALE_POLLS * poll_interval_s(pdu))
    down = status is not None and status.up is False
    return ReadingsState.STALE if down or too_old else ReadingsState.FRESH


def _elevation_pdu(pdu: PDU, *, up, power_w, readings_at, readings: str) -> ElevationPdu:
    outlets = []
    for outlet in pdu.outlets.all():
        supply = getattr(outlet, "power_supply", None)
        outlets.append(
            ElevationOutlet(
                id=outlet.pk,
                number=outlet.number,
                name=f"{pdu.name}:{outlet.number}",
                label=outlet.label,
                state=outlet.state,
                current_a=outlet.current_a,
                power_w=outlet.power_w,
                locked=outlet.locked,
                power_supply=supply.name if supply else None,
                host=HostRef(id=supply.host.pk, name=supply.host.name) if supply else None,
            )
        )
    return ElevationPdu(
        id=pdu.pk,
        name=pdu.name,
        side=pdu.feed.side if pdu.feed is not None else None,
        mounting=pdu.mounting,
        position_u=pdu.position_u,
        u_height=pdu.u_height,
        up=up,
        power_w=power_w,
        readings_at=readings_at,
        readings=readings,
        outlets=outlets,
    )


def _elevation_host(host) -> ElevationHost:
    supplies = []
    for psu in host.power_supplies.all():
        outlet = psu.outlet
        supplies.append(
            ElevationSupply(
                id=psu.pk,
                name=psu.name,
                max_draw_w=psu.max_draw_w,
                allocated_draw_w=psu.allocated_draw_w,
                outlet=None
                if outlet is None
                else SupplyOutlet(
                    id=outlet.pk,
                    pdu_id=outlet.pdu_id,
                    pdu_name=outlet.pdu.name,
                    number=outlet.number,
                    state=outlet.state,
                    current_a=outlet.current_a,
                    power_w=outlet.power_w,
                    locked=outlet.locked,
                ),
            )
        )
    return ElevationHost(
        id=host.pk,
        name=host.name,
        role=host.role,
        status=host.status,
        protected=host.protected,
        position_u=host.position_u,
        u_height=host.u_height,
        supplies=supplies,
    )


def _slots(
    u_height: int, hosts: list[ElevationHost], pdus: list[ElevationPdu]
) -> tuple[list[ElevationSlot], list[ElevationHost]]:
    """The rack's units top to bottom; hosts that cannot be drawn in them come back apart."""
    by_top: dict[int, ElevationSlot] = {}
    unplaced = []
    for host in sorted(hosts, key=lambda h: (h.position_u or 0, h.name)):
        if host.position_u is None or host.top_u > u_height:
            unplaced.append(host)
            continue
        by_top.setdefault(
            host.top_u,
            ElevationSlot(SlotKind.HOST, top_u=host.top_u, position_u=host.position_u, host=host),
        )
    for pdu in pdus:
        if pdu.mounting != PduMounting.RACK_UNIT or pdu.position_u is None:
            continue
        top = pdu.position_u + pdu.u_height - 1
        if top <= u_height:
            by_top.setdefault(top, ElevationSlot(SlotKind.PDU, top, pdu.position_u, pdu=pdu))
    slots = []
    unit = u_height
    while unit >= 1:
        slot = by_top.get(unit) or ElevationSlot(SlotKind.EMPTY, top_u=unit, position_u=unit)
        slots.append(slot)
        unit = slot.position_u - 1
    drawn = {s.host.id for s in slots if s.host is not None}
    # Overlapping hosts (refused by Host.clean(), but the database does not forbid them).
    unplaced += [h for h in hosts if h.position_u is not None and h.id not in drawn]
    return slots, [h for h in unplaced if h.id not in drawn]


def rack_elevation(rack: Rack, *, now: datetime | None = None) -> RackElevation:
    """The elevation of a rack loaded through ``rack_elevation_prefetch``."""
    now = now or timezone.now()
    measure = rack_measure(rack)
    measured_by_pdu = {m.pdu.pk: m for m in measure.pdus}
    pdus = []
    for pdu in rack.measured_pdus:
        m = measured_by_pdu[pdu.pk]
        readings_at = _readings_at(pdu)
        pdus.append(
            _elevation_pdu(
                pdu,
                up=m.up,
                power_w=m.power_w,
                readings_at=readings_at,
                readings=_readings_state(pdu, readings_at, now),
            )
        )
    sides = [
        ElevationSide(side=side, pdus=[p for p in pdus if p.side == side])
        for side in FeedSide.values
    ]
    unfed = [p for p in pdus if p.side is None]
    if unfed:
        sides.append(ElevationSide(side=None, pdus=unfed))
    hosts = [_elevation_host(h) for h in rack.hosts.all()]
    slots, unplaced = _slots(rack.u_height, hosts, pdus)
    states = {p.readings for p in pdus}
    if not pdus or states == {ReadingsState.MISSING}:
        readings = ReadingsState.MISSING
    elif states == {ReadingsState.FRESH}:
        readings = ReadingsState.FRESH
    else:
        readings = ReadingsState.STALE  # some PDU is down, late, or was never read
    budget = measure.budget
    return RackElevation(
        id=rack.pk,
        name=rack.name,
        site_id=rack.site_id,
        site_name=rack.site.name,
        u_height=rack.u_height,
        status=rack.status,
        slots=slots,
        unplaced_hosts=unplaced,
        sides=sides,
        power=ElevationPower(
            measured_w=measure.power_w,
            allocated_w=budget.allocated_draw_w,
            capacity_w=budget.capacity_w,
            redundant=budget.redundant,
            utilization_percent=measure.utilization_percent,
            allocated_percent=budget.utilization_percent,
            over_budget=measure.over_budget,
            failover_overload=measure.failover_overload,
            # The oldest reading in the sum.
            readings_at=min((p.readings_at for p in pdus if p.readings_at), default=None),
            readings=readings,
        ),
    )
