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
from django.db.models import Prefetch

from inventory.choices import HostStatus, OutletState
from inventory.models import PDU, Host, Outlet, PowerSupply, Rack


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
    outlets = list(
        Outlet.objects.filter(pk__in=selected)
        .select_related("pdu__rack__site")
        .order_by("pdu__rack__site__name", "pdu__rack__name", "pdu__name", "number")
    )
    missing = sorted(outlet_ids - {outlet.pk for outlet in outlets})
    if missing:
        raise UnknownTargets({"outlets": _unknown_message(Outlet, missing)})
    if not outlets:  # only racks can name nothing: hosts were checked for plugged supplies
        raise ValidationError({"racks": "The rack(s) have no outlets and no plugged-in hosts."})
    return outlets


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
    hosts = (
        Host.objects.filter(power_supplies__outlet__in=targeted)
        .distinct()
        .prefetch_related(
            Prefetch("power_supplies", queryset=PowerSupply.objects.select_related("outlet"))
        )
        .order_by("name")
    )
    impacts = []
    for host in hosts:
        live = [
            psu
            for psu in host.power_supplies.all()
            if psu.outlet is not None and psu.outlet.state != OutletState.OFF
        ]
        impacts.append(
            HostImpact(
                host=host,
                supplies_affected=sum(1 for psu in live if psu.outlet_id in targeted),
                supplies_live=len(live),
            )
        )
    pdus = sorted({outlet.pdu for outlet in outlets}, key=lambda pdu: (pdu.rack.name, pdu.name))
    return BlastRadius(
        action=action,
        outlets=outlets,
        pdus=pdus,
        hosts=impacts,
        locked_outlets=[outlet for outlet in outlets if outlet.locked],
    )
