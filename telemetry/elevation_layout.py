"""Where the admin's rack elevation page draws each thing: SVG coordinates computed here, so
the template (admin/telemetry/rack_elevation.html) only places what it is given.

The rack is drawn as it stands: U1 at the bottom, so a unit's y grows as its number falls. Its
A-side PDUs are drawn on its left and its B-side ones (and PDUs on no feed) on its right, by
the feed that powers them rather than by ``mounting``: the feed is what a technician follows
when a side is switched, and a rack whose PDUs are all mounted "0U left" still has two sides.
"""

from __future__ import annotations

from dataclasses import dataclass

from inventory.choices import FeedSide, HostStatus, OutletState, PduMounting
from telemetry.choices import SlotKind
from telemetry.elevation import (
    ElevationOutlet,
    ElevationPdu,
    ElevationSlot,
    ElevationSupply,
    RackElevation,
)

UNIT_PX = 24  # one rack unit
TOP_PX = 48  # room above the units and outlets for the PDUs' headings
RACK_W = 510
GUTTER_W = 40  # the unit numbers, left of the rack
COLUMN_W = 250  # one PDU's outlets
GAP_W = 16
OUTLET_PX = 20  # one outlet row
BADGE_W = 102  # one power supply's badge in a host
BADGE_X = 300  # where the badges start inside the rack, after the name and status
BAR_W = 600  # the power bar

# Fill colours; every one is also named in text beside it (legend, labels, titles).
HOST_COLOURS = {
    HostStatus.ACTIVE: "#b7e1b9",
    HostStatus.PLANNED: "#b9d7f5",
    HostStatus.MAINTENANCE: "#ffd59a",
    HostStatus.DECOMMISSIONED: "#d6d6d6",
}
OUTLET_COLOURS = {
    OutletState.ON: "#2e7d32",
    OutletState.OFF: "#c62828",
    OutletState.PENDING: "#f9a825",
    OutletState.UNKNOWN: "#8a8a8a",
}

MOUNTING_LABELS = {PduMounting.ZERO_U_LEFT: "0U left", PduMounting.ZERO_U_RIGHT: "0U right"}


@dataclass(frozen=True)
class Legend:
    value: str
    label: str
    colour: str


@dataclass(frozen=True)
class DrawnBadge:
    supply: ElevationSupply
    x: int
    y: int
    state: str  # the outlet's state, "unplugged" without one
    state_label: str
    colour: str


@dataclass(frozen=True)
class DrawnSlot:
    slot: ElevationSlot
    x: int
    y: int
    width: int
    height: int
    text_y: int
    colour: str
    status_label: str
    badges: list[DrawnBadge]


@dataclass(frozen=True)
class DrawnOutlet:
    outlet: ElevationOutlet
    y: int
    text_y: int
    state_label: str
    colour: str


@dataclass(frozen=True)
class DrawnPdu:
    pdu: ElevationPdu
    x: int
    side_label: str
    mounting_label: str
    outlets: list[DrawnOutlet]


@dataclass(frozen=True)
class DrawnUnitNumber:
    number: int
    y: int


@dataclass(frozen=True)
class PowerBar:
    width: int
    measured_x: int | None  # the measured power's end; None when nothing was read
    allocated_x: int
    over_budget: bool


@dataclass(frozen=True)
class ElevationLayout:
    width: int
    height: int
    rack_x: int
    rack_y: int
    rack_height: int
    rack_width: int
    gutter_x: int
    slots: list[DrawnSlot]
    unit_numbers: list[DrawnUnitNumber]
    left: list[DrawnPdu]
    right: list[DrawnPdu]
    bar: PowerBar
    host_legend: list[Legend]
    outlet_legend: list[Legend]


def _badges(slot: ElevationSlot, x: int, y: int) -> list[DrawnBadge]:
    badges = []
    for i, supply in enumerate(slot.host.supplies if slot.host else []):
        outlet = supply.outlet
        state = outlet.state if outlet else "unplugged"
        badges.append(
            DrawnBadge(
                supply=supply,
                x=x + BADGE_X + (i % 2) * BADGE_W,
                y=y + (i // 2) * OUTLET_PX,
                state=state,
                state_label=OutletState(state).label.lower() if outlet else "not plugged in",
                colour=OUTLET_COLOURS.get(state, "#ffffff"),
            )
        )
    return badges


def _pdu(pdu: ElevationPdu, x: int) -> DrawnPdu:
    outlets = [
        DrawnOutlet(
            outlet=outlet,
            y=TOP_PX + i * OUTLET_PX,
            text_y=TOP_PX + i * OUTLET_PX + 14,
            state_label=OutletState(outlet.state).label.lower(),
            colour=OUTLET_COLOURS[outlet.state],
        )
        for i, outlet in enumerate(pdu.outlets)
    ]
    side = FeedSide(pdu.side).label if pdu.side else "no feed"
    mounting = MOUNTING_LABELS.get(pdu.mounting, "in units")
    return DrawnPdu(pdu=pdu, x=x, side_label=side, mounting_label=mounting, outlets=outlets)


def elevation_layout(elevation: RackElevation) -> ElevationLayout:
    pdus = [p for side in elevation.sides for p in side.pdus]
    left_pdus = [p for p in pdus if p.side == FeedSide.A]
    right_pdus = [p for p in pdus if p.side != FeedSide.A]
    left = [_pdu(p, i * (COLUMN_W + GAP_W)) for i, p in enumerate(left_pdus)]
    gutter_x = len(left) * (COLUMN_W + GAP_W)
    rack_x = gutter_x + GUTTER_W
    right_x = rack_x + RACK_W + GAP_W
    right = [_pdu(p, right_x + i * (COLUMN_W + GAP_W)) for i, p in enumerate(right_pdus)]
    rack_height = elevation.u_height * UNIT_PX

    slots = []
    for slot in elevation.slots:
        y = TOP_PX + (elevation.u_height - slot.top_u) * UNIT_PX
        if slot.kind == SlotKind.HOST:
            colour = HOST_COLOURS[slot.host.status]
            status_label = HostStatus(slot.host.status).label
        elif slot.kind == SlotKind.PDU:
            colour, status_label = "#9fa8b3", "PDU"
        else:
            colour, status_label = "none", "empty"
        slots.append(
            DrawnSlot(
                slot=slot,
                x=rack_x + 2,
                y=y + 1,
                width=RACK_W - 4,
                height=slot.u_height * UNIT_PX - 2,
                text_y=y + 16,
                colour=colour,
                status_label=status_label,
                badges=_badges(slot, rack_x + 2, y + 3),
            )
        )
    numbers = [
        DrawnUnitNumber(number=u, y=TOP_PX + (elevation.u_height - u) * UNIT_PX + 16)
        for u in range(elevation.u_height, 0, -1)
    ]
    tallest_pdu = max((len(p.outlets) for p in pdus), default=0) * OUTLET_PX
    power = elevation.power

    def bar_x(watts: float | None) -> int | None:
        if watts is None:
            return None
        if not power.capacity_w:
            return BAR_W if watts else 0
        return round(BAR_W * min(watts / power.capacity_w, 1.0))

    return ElevationLayout(
        width=(right[-1].x + COLUMN_W) if right else right_x,
        height=TOP_PX + max(rack_height, tallest_pdu) + 8,
        rack_x=rack_x,
        rack_y=TOP_PX,
        rack_height=rack_height,
        rack_width=RACK_W,
        gutter_x=rack_x - 6,
        slots=slots,
        unit_numbers=numbers,
        left=left,
        right=right,
        bar=PowerBar(
            width=BAR_W,
            measured_x=bar_x(power.measured_w),
            allocated_x=bar_x(power.allocated_w) or 0,
            over_budget=power.over_budget,
        ),
        host_legend=[Legend(s.value, s.label, HOST_COLOURS[s]) for s in HostStatus],
        outlet_legend=[Legend(s.value, s.label, OUTLET_COLOURS[s]) for s in OutletState],
    )
