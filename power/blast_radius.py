"""What a power action will touch, before it touches anything: the outlets a request resolves
to, the PDUs involved, the hosts that lose all power, the hosts that lose only redundancy, and
the protected or active hosts among them. Power commands show it first (dry run) and check the
guardrails against it.

An outlet counts as live unless its last known state is off: an unknown or pending outlet might
be carrying the host, so it is assumed to be.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db.models import Count, Q

from inventory.choices import HostStatus, OutletState
from inventory.models import PDU, Host, Outlet, PowerSupply, Rack, Site


class PowerAction(enum.StrEnum):
    ON = "on"
    OFF = "off"
    CYCLE = "cycle"

    @property
    def cuts_power(self) -> bool:
        return self is not PowerAction.ON


@dataclass(frozen=True)
class HostImpact:
    host: Host
    supplies_affected: int  # live supplies on the targeted outlets
    supplies_live: int  # live supplies in all

    @property
    def loses_all_power(self) -> bool:
        return self.supplies_affected == self.supplies_live


@dataclass(frozen=True)
class BlastRadius:
    action: PowerAction
    outlets: list[Outlet]
    pdus: list[PDU]
    hosts: list[HostImpact]  # every host with a supply on a targeted outlet
    locked_outlets: list[Outlet] = field(default_factory=list)

    @property
    def hosts_losing_all_power(self) -> list[Host]:
        if not self.action.cuts_power:
            return []
        return [i.host for i in self.hosts if i.supplies_live and i.loses_all_power]

    @property
    def hosts_losing_redundancy(self) -> list[Host]:
        if not self.action.cuts_power:
            return []
        return [i.host for i in self.hosts if i.supplies_affected and not i.loses_all_power]

    @property
    def protected_hosts_affected(self) -> list[Host]:
        return [i.host for i in self.hosts if i.host.protected and i.supplies_affected]

    @property
    def active_hosts_affected(self) -> list[Host]:
        return [
            i.host for i in self.hosts if i.host.status == HostStatus.ACTIVE and i.supplies_affected
        ]

    @property
    def active_hosts_losing_all_power(self) -> list[Host]:
        return [h for h in self.hosts_losing_all_power if h.status == HostStatus.ACTIVE]

    @property
    def hosts_powered_on(self) -> list[Host]:
        return [i.host for i in self.hosts] if self.action is PowerAction.ON else []


class UnknownTargets(ValidationError):
    """Ids that name nothing; ``fields`` says which kinds (outlets, hosts, racks)."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(errors)
        self.fields = set(errors)


def resolve_outlets(
    *,
    outlet_ids: Iterable[int] = (),
    host_ids: Iterable[int] = (),
    rack_ids: Iterable[int] = (),
) -> list[Outlet]:
    """The outlets a request names: outlets themselves, every outlet a host's supplies are
    plugged into, or a whole rack (its PDUs' outlets and its hosts' outlets). Unknown ids
    (UnknownTargets), or a host plugged into nothing, are a ValidationError naming the field.
    Outlets named by id are checked by the query that loads them (the common one-outlet
    request costs one query)."""
    outlet_ids, host_ids, rack_ids = set(outlet_ids), set(host_ids), set(rack_ids)
    if not (outlet_ids or host_ids or rack_ids):
        raise ValidationError({"outlets": "Name at least one outlet, host or rack."})
    errors: dict[str, str] = {}
    selected: set[int] = set(outlet_ids)
    _check_known(Host, host_ids, "hosts", errors)
    _check_known(Rack, rack_ids, "racks", errors)
    if errors:
        _check_known(Outlet, outlet_ids, "outlets", errors)
        raise UnknownTargets(errors)
    if host_ids:
        plugged = dict(
            PowerSupply.objects.filter(host_id__in=host_ids, outlet__isnull=False).values_list(
                "outlet_id", "host_id"
            )
        )
        unplugged = sorted(host_ids - set(plugged.values()))
        if unplugged:
            _check_known(Outlet, outlet_ids, "outlets", errors)
            if errors:
                raise UnknownTargets(errors)
            names = ", ".join(Host.objects.filter(pk__in=unplugged).values_list("name", flat=True))
            raise ValidationError(
                {"hosts": f"No power supply of {names} is plugged into an outlet."}
            )
        selected |= set(plugged)
    if rack_ids:
        selected |= set(
            Outlet.objects.filter(pdu__rack_id__in=rack_ids).values_list("pk", flat=True)
        )
        selected |= set(
            PowerSupply.objects.filter(
                host__rack_id__in=rack_ids, outlet__isnull=False
            ).values_list("outlet_id", flat=True)
        )
    outlets = _outlets_with_pdus(selected)
    missing = sorted(outlet_ids - {outlet.pk for outlet in outlets})
    if missing:
        raise UnknownTargets({"outlets": _unknown_message(Outlet, missing)})
    if not outlets:  # only racks can name nothing: hosts were checked for plugged supplies
        raise ValidationError({"racks": "The rack(s) have no outlets and no plugged-in hosts."})
    return outlets


# What is read of the outlets a request resolves to, and of their PDUs, racks and sites: by
# the blast radius, the guardrails, the command (its site) and its answer. Another field still
# loads when read, at a query each (as after only()).
TARGET_OUTLET_FIELDS = ("id", "pdu_id", "number", "label", "locked", "lock_reason", "state")
TARGET_RELATED_FIELDS = (
    "pdu__name",
    "pdu__rack_id",
    "pdu__rack__name",
    "pdu__rack__site_id",
    "pdu__rack__site__name",
)


def _outlets_with_pdus(ids: set[int]) -> list[Outlet]:
    """The outlets, in the order people read them (site, rack, PDU, number), each with its PDU,
    the PDU's rack and the rack's site: one query of values, made into instances here, so that
    the outlets of one PDU share one PDU instance. select_related gave every outlet its own
    PDU, rack and site, the PDU with its secrets decrypted: nearly half of a 1,000-outlet
    request."""
    rows = (
        Outlet.objects.filter(pk__in=ids)
        .order_by("pdu__rack__site__name", "pdu__rack__name", "pdu__name", "number")
        .values_list(*TARGET_OUTLET_FIELDS, *TARGET_RELATED_FIELDS)
    )
    split = len(TARGET_OUTLET_FIELDS)
    pdus: dict[int, PDU] = {}
    outlets = []
    for row in rows:
        outlet = _loaded(Outlet, dict(zip(TARGET_OUTLET_FIELDS, row[:split], strict=True)), rows.db)
        pdu = pdus.get(outlet.pdu_id)
        if pdu is None:
            pdu_name, rack_id, rack_name, site_id, site_name = row[split:]
            site = _loaded(Site, {"id": site_id, "name": site_name}, rows.db)
            rack = _loaded(Rack, {"id": rack_id, "name": rack_name, "site_id": site_id}, rows.db)
            rack.site = site
            pdu = _loaded(PDU, {"id": outlet.pdu_id, "name": pdu_name, "rack_id": rack_id}, rows.db)
            pdu.rack = rack
            pdus[outlet.pdu_id] = pdu
        outlet.pdu = pdu
        outlets.append(outlet)
    return outlets


def _loaded(model, values: dict, db: str):
    """An instance of ``model`` as the database ``db`` gave ``values``, the other fields
    deferred (as only() makes one)."""
    names = [f.attname for f in model._meta.concrete_fields if f.attname in values]
    return model.from_db(db, names, [values[name] for name in names])


def _check_known(model, ids: set[int], field_name: str, errors: dict[str, str]) -> None:
    if not ids:
        return
    missing = sorted(ids - set(model.objects.filter(pk__in=ids).values_list("pk", flat=True)))
    if missing:
        errors[field_name] = _unknown_message(model, missing)


def _unknown_message(model, missing: list[int]) -> str:
    return f"No {model._meta.verbose_name} with id {', '.join(map(str, missing))}."


def blast_radius(*, action: PowerAction | str, outlets: list[Outlet]) -> BlastRadius:
    action = PowerAction(action)
    targeted = {outlet.pk for outlet in outlets}
    # Every host with a supply on a targeted outlet, its live supplies counted by the same
    # query: in all, and on the targeted outlets (one query, where loading the hosts and then
    # their supplies took two).
    live = Q(power_supplies__outlet__isnull=False) & ~Q(
        power_supplies__outlet__state=OutletState.OFF
    )
    hosts = (
        Host.objects.filter(
            pk__in=PowerSupply.objects.filter(outlet__in=targeted).values("host_id")
        )
        .annotate(
            supplies_live=Count("power_supplies", filter=live),
            supplies_affected=Count(
                "power_supplies", filter=live & Q(power_supplies__outlet__in=targeted)
            ),
        )
        .order_by("name")
    )
    impacts = [
        HostImpact(
            host=host,
            supplies_affected=host.supplies_affected,
            supplies_live=host.supplies_live,
        )
        for host in hosts
    ]
    pdus = sorted({outlet.pdu for outlet in outlets}, key=lambda pdu: (pdu.rack.name, pdu.name))
    return BlastRadius(
        action=action,
        outlets=outlets,
        pdus=pdus,
        hosts=impacts,
        locked_outlets=[outlet for outlet in outlets if outlet.locked],
    )
