"""What a power action will touch, before it touches anything: the outlets a request resolves
to, the PDUs involved, the hosts that lose all power, the hosts that lose only redundancy, and
the protected or active hosts among them. Power commands show it first (dry run) and check the
guardrails against it.

An outlet counts as live unless its last known state is off: an unknown or pending outlet might
be carrying the host, so it is assumed to be.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import connection

from dcpower.db import Beside, instance_from_values, placeholders, read_instances
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


def _outlets_with_pdus(ids: set[int]) -> list[Outlet]:
    """The outlets, in the order people read them (site, rack, PDU, number), each with its PDU,
    the PDU's rack and the rack's site, and the host its supply feeds (``fed_host``: None for
    an outlet that feeds none, else the host with its ``supplies_live`` counted, one instance
    per host), which the blast radius reads: one statement, made into instances here, so that
    the outlets of one PDU share one PDU instance. select_related gave every outlet its own
    PDU, rack and site, the PDU with its secrets decrypted: nearly half of a 1,000-outlet
    request.

    Written in SQL and read as ``raw()`` reads, by ``read_instances`` (the outlet's
    converters apply; the PDU's, rack's and site's ids and names need none; the host's
    columns are converted as the ORM would): built with the ORM, the join, the ordering and
    the values cost 1 ms for 0.1 ms in the database, and the hosts were a second statement,
    on the path of every power request."""
    if not ids:
        return []
    ordered = sorted(ids)
    sql, fed_host = _outlets_with_pdus_sql(connection.vendor)
    rows = read_instances(Outlet, sql % placeholders(len(ordered)), [OutletState.OFF, *ordered])
    pdus: dict[int, PDU] = {}
    hosts: dict[int, Host] = {}
    outlets = []
    for outlet in rows:
        pdu = pdus.get(outlet.pdu_id)
        if pdu is None:
            site = instance_from_values(
                Site, {"id": outlet.target_site_id, "name": outlet.target_site_name}
            )
            rack = instance_from_values(
                Rack,
                {
                    "id": outlet.target_rack_id,
                    "name": outlet.target_rack_name,
                    "site_id": outlet.target_site_id,
                },
            )
            rack.site = site
            pdu = instance_from_values(
                PDU,
                {"id": outlet.pdu_id, "name": outlet.target_pdu_name, "rack_id": rack.pk},
            )
            pdu.rack = rack
            pdus[outlet.pdu_id] = pdu
        outlet.pdu = pdu
        host_id = fed_host.value(outlet, "id")
        if host_id is not None and host_id not in hosts:
            hosts[host_id] = fed_host.instance(outlet)
            hosts[host_id].supplies_live = outlet.target_host_supplies_live
        outlet.fed_host = hosts.get(host_id)
        outlets.append(outlet)
    return outlets


@functools.cache
def _outlets_with_pdus_sql(vendor: str) -> tuple[str, Beside]:
    """The statement of ``_outlets_with_pdus``, names from the models (``vendor`` keys the
    cache), and the host's columns in it. Its parameters: the state "off", then the outlets'
    ids where ``%s`` is (a placeholder each). A supply is live when plugged into an outlet not
    known to be off; an outlet feeds one supply at the most (the database holds it to that),
    so the joins keep one row an outlet."""
    qn = connection.ops.quote_name
    outlet, pdu, rack, site = Outlet._meta, PDU._meta, Rack._meta, Site._meta
    host, supply = Host._meta, PowerSupply._meta
    columns = ", ".join(f"o.{qn(outlet.get_field(n).column)}" for n in TARGET_OUTLET_FIELDS)
    fed_host = Beside.columns(Host, "h", "target_host__")
    name, pk = qn("name"), qn("id")
    live = (
        f"(SELECT COUNT(*) FROM {qn(supply.db_table)} ls "  # noqa: S608 - names from the models
        f"JOIN {qn(outlet.db_table)} lo ON lo.{pk} = ls.{qn('outlet_id')} "
        f"WHERE ls.{qn('host_id')} = h.{pk} AND lo.{qn('state')} <> %%s)"
    )
    sql = (
        f"SELECT {columns}, p.{name} AS target_pdu_name, r.{pk} AS target_rack_id, "  # noqa: S608 - names from the models
        f"r.{name} AS target_rack_name, t.{pk} AS target_site_id, "
        f"t.{name} AS target_site_name, {fed_host.select}, "
        f"{live} AS target_host_supplies_live "
        f"FROM {qn(outlet.db_table)} o "
        f"JOIN {qn(pdu.db_table)} p ON p.{pk} = o.{qn('pdu_id')} "
        f"JOIN {qn(rack.db_table)} r ON r.{pk} = p.{qn('rack_id')} "
        f"JOIN {qn(site.db_table)} t ON t.{pk} = r.{qn('site_id')} "
        f"LEFT JOIN {qn(supply.db_table)} s ON s.{qn('outlet_id')} = o.{pk} "
        f"LEFT JOIN {qn(host.db_table)} h ON h.{pk} = s.{qn('host_id')} "
        f"WHERE o.{pk} IN (%s) "
        f"ORDER BY t.{name}, r.{name}, p.{name}, o.{qn('number')}"
    )
    return sql, fed_host


def _check_known(model, ids: set[int], field_name: str, errors: dict[str, str]) -> None:
    if not ids:
        return
    missing = sorted(ids - set(model.objects.filter(pk__in=ids).values_list("pk", flat=True)))
    if missing:
        errors[field_name] = _unknown_message(model, missing)


def _unknown_message(model, missing: list[int]) -> str:
    return f"No {model._meta.verbose_name} with id {', '.join(map(str, missing))}."


def blast_radius(*, action: PowerAction | str, outlets: list[Outlet]) -> BlastRadius:
    """What switching ``outlets`` (as ``resolve_outlets`` gives them: each with the host it
    feeds, ``fed_host``) will touch."""
    action = PowerAction(action)
    hosts: dict[int, Host] = {}
    affected: dict[int, int] = {}  # live supplies on the targeted outlets, by host
    for outlet in outlets:
        host = outlet.fed_host
        if host is not None:
            hosts[host.pk] = host
            live = 1 if outlet.state != OutletState.OFF else 0
            affected[host.pk] = affected.get(host.pk, 0) + live
    impacts = [
        HostImpact(host=host, supplies_affected=affected[pk], supplies_live=host.supplies_live)
        for pk, host in sorted(hosts.items(), key=lambda item: (item[1].name, item[0]))
    ]
    pdus = sorted({outlet.pdu for outlet in outlets}, key=lambda pdu: (pdu.rack.name, pdu.name))
    return BlastRadius(
        action=action,
        outlets=outlets,
        pdus=pdus,
        hosts=impacts,
        locked_outlets=[outlet for outlet in outlets if outlet.locked],
    )
