"""Power command requests: resolve the targets, show or check the blast radius, persist the
command before anything touches a device, and queue it after the transaction commits."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from dcpower.db import cursor, placeholders, writes_in_one_statement
from dcpower.request_id import current_request_id
from inventory.models import Outlet
from power.blast_radius import BlastRadius, blast_radius, resolve_outlets
from power.choices import CommandStatus
from power.completion import command_finished
from power.guardrails import Refusal, guardrail_refusals
from power.models import PowerCommand, PowerCommandOutlet


class GuardrailRefused(Exception):
    def __init__(self, radius: BlastRadius, refusals: list[Refusal]) -> None:
        super().__init__("; ".join(r.message for r in refusals))
        self.radius = radius
        self.refusals = refusals


class OutletBusy(Exception):
    """Another active command already acts on one of the outlets."""

    def __init__(self, command: PowerCommand | None, outlets: list[str]) -> None:
        which = (
            f"command #{command.pk} ({command.action}, {command.status})"
            if command
            else "another command"
        )
        super().__init__(f"Outlet(s) {', '.join(outlets)} are being switched by {which}.")
        self.command = command


@dataclass(frozen=True)
class PowerRequestResult:
    radius: BlastRadius
    command: PowerCommand | None  # None for a dry run
    created: bool  # False when an idempotency key returned an existing command


def radius_summary(radius: BlastRadius) -> dict:
    def hosts(items):
        return [{"id": h.pk, "name": h.name} for h in items]

    return {
        "outlets": [{"id": o.pk, "pdu": o.pdu.name, "number": o.number} for o in radius.outlets],
        "pdus": [{"id": p.pk, "name": p.name} for p in radius.pdus],
        "hosts_losing_all_power": hosts(radius.hosts_losing_all_power),
        "hosts_losing_redundancy": hosts(radius.hosts_losing_redundancy),
        "protected_hosts_affected": hosts(radius.protected_hosts_affected),
        "active_hosts_affected": hosts(radius.active_hosts_affected),
        "hosts_powered_on": hosts(radius.hosts_powered_on),
        "locked_outlets": [
            {"id": o.pk, "pdu": o.pdu.name, "number": o.number} for o in radius.locked_outlets
        ],
    }


def power_command_request(
    *,
    user,
    action: str,
    outlet_ids=(),
    host_ids=(),
    rack_ids=(),
    reason: str = "",
    ticket: str = "",
    force: bool = False,
    dry_run: bool = False,
    not_before: datetime | None = None,
    idempotency_key: str | None = None,
) -> PowerRequestResult:
    # A dry run persists nothing and answers with a blast radius, so a key is not looked up:
    # returning the key's command (with no radius) made the API's dry-run answer fail (500).
    if idempotency_key and not dry_run:
        existing = PowerCommand.objects.filter(
            requested_by=user, idempotency_key=idempotency_key
        ).first()
        if existing is not None:
            requested = _targets(outlet_ids, host_ids, rack_ids)
            if existing.action != action or existing.targets != requested:
                raise ValidationError(
                    {
                        "Idempotency-Key": f"Already used for command #{existing.pk} "
                        f"({existing.action} of other targets); use a new key."
                    }
                )
            return PowerRequestResult(radius=None, command=existing, created=False)
    outlets = resolve_outlets(outlet_ids=outlet_ids, host_ids=host_ids, rack_ids=rack_ids)
    radius = blast_radius(action=action, outlets=outlets)
    if dry_run:
        return PowerRequestResult(radius=radius, command=None, created=False)
    sites = {outlet.pdu.rack.site_id for outlet in outlets}
    if len(sites) > 1:
        raise ValidationError(
            {
                "outlets": "The targets span several sites; send one command "
                "per site (each site's own workers switch its PDUs)."
            }
        )
    site = outlets[0].pdu.rack.site
    _check_may_switch(user, site, force=force)
    if not_before is not None and not_before <= timezone.now():
        not_before = None
    refusals = guardrail_refusals(radius, reason=reason, force=force)
    if refusals:
        raise GuardrailRefused(radius, refusals)
    command = PowerCommand(
        action=action,
        site=site,
        requested_by=user,
        reason=reason,
        ticket=ticket,
        force=force,
        idempotency_key=idempotency_key or None,
        targets=_targets(outlet_ids, host_ids, rack_ids),
        blast_radius=radius_summary(radius),
        not_before=not_before,
        request_id=current_request_id(),
        # Queued as soon as it is written (power_command_enqueue without a second write).
        enqueued_at=None if not_before else timezone.now(),
    )
    try:
        rows = _command_create(command, outlets)
    except IntegrityError:
        if idempotency_key:  # a concurrent request with the same key won the race
            existing = PowerCommand.objects.filter(
                requested_by=user, idempotency_key=idempotency_key
            ).first()
            if existing is not None:
                return PowerRequestResult(radius=radius, command=existing, created=False)
        raise _busy(outlets) from None
    if not_before is None:
        transaction.on_commit(lambda: power_command_enqueue(command=command, mark_enqueued=False))
    command.results_at_hand = rows  # the answer needs no second read of what was just written
    return PowerRequestResult(radius=radius, command=command, created=True)


def _command_create(command: PowerCommand, outlets: list[Outlet]) -> list[PowerCommandOutlet]:
    """Write ``command`` (unsaved) and a result row for each outlet, all or nothing: on
    PostgreSQL one statement (ADR 0023), elsewhere, or inside a transaction the caller holds,
    a transaction (a savepoint). Returns the rows for the answer, as written (without their
    ids, which nothing reads). A busy outlet, a repeated idempotency key and an outlet
    deleted meanwhile are each an IntegrityError, and then nothing is written."""
    # Inside the caller's transaction one statement would save nothing (no BEGIN or COMMIT
    # of ours to spare), and a refused write must not abort that transaction.
    if connection.in_atomic_block or not writes_in_one_statement():
        with transaction.atomic():
            command.save(force_insert=True)
            return _result_rows_create(command=command, outlets=outlets)
    rows = _result_rows(command, outlets)
    meta, rows_meta = PowerCommand._meta, PowerCommandOutlet._meta
    qn = connection.ops.quote_name
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    values = [f.get_db_prep_save(f.pre_save(command, add=True), connection) for f in fields]
    command_column = rows_meta.get_field("command").column
    row_fields, row_values = _row_defaults(rows[0], but=("command", "outlet"))
    outlet_column = rows_meta.get_field("outlet").column
    # The outlets by id from a VALUES list, not from their table: the foreign key then
    # refuses an outlet deleted meanwhile (checked as the statement commits), where a join
    # would silently write fewer rows than the command has outlets.
    outlet_ids = ", ".join(["(%s)"] * len(rows))
    sql = (
        f"WITH new_command AS (INSERT INTO {qn(meta.db_table)} "  # noqa: S608 - names from the models
        f"({', '.join(qn(f.column) for f in fields)}) VALUES ({placeholders(len(fields))}) "
        f"RETURNING {qn(meta.pk.column)}), "
        f"new_rows AS (INSERT INTO {qn(rows_meta.db_table)} "
        f"({qn(command_column)}, {', '.join(qn(f.column) for f in row_fields)}, "
        f"{qn(outlet_column)}) "
        f"SELECT new_command.{qn(meta.pk.column)}, {placeholders(len(row_values))}, outlet.id "
        f"FROM new_command CROSS JOIN (VALUES {outlet_ids}) AS outlet (id)) "
        f"SELECT {qn(meta.pk.column)} FROM new_command"
    )
    params = [*values, *row_values, *(row.outlet_id for row in rows)]
    with cursor(params) as c:
        c.execute(sql, params)
        (command.pk,) = c.fetchone()
    command._state.adding, command._state.db = False, connection.alias
    for row in rows:
        row.command = command
    return rows


def _result_rows(command: PowerCommand, outlets: list[Outlet]) -> list[PowerCommandOutlet]:
    return [
        PowerCommandOutlet(command=command, outlet=outlet)
        for outlet in sorted(outlets, key=lambda outlet: outlet.pk)
    ]


def _row_defaults(row: PowerCommandOutlet, *, but: tuple[str, ...]):
    """The fields of a new result row other than ``but``, and their values as the database
    takes them (every row of a command starts alike)."""
    fields = [
        f
        for f in PowerCommandOutlet._meta.concrete_fields
        if not f.primary_key and f.name not in but
    ]
    return fields, [f.get_db_prep_save(f.pre_save(row, add=True), connection) for f in fields]


def _result_rows_create(
    *, command: PowerCommand, outlets: list[Outlet]
) -> list[PowerCommandOutlet]:
    """A result row of ``command`` for each outlet, every other field at its default, as
    bulk_create would write them; but in one ``INSERT ... SELECT`` that takes the outlet ids
    from the outlets' table (one parameter a row), because bulk_create prepares each of the
    eleven values of each row one by one: a quarter of the CPU time of a 1,000-outlet request.
    The database checks the same constraints: a busy outlet is an IntegrityError, and so is an
    outlet deleted meanwhile (as its foreign key would be). Returns the rows for the answer, as
    written (without their ids, which nothing reads)."""
    rows = _result_rows(command, outlets)
    if not rows:
        return rows
    meta, outlet_meta = PowerCommandOutlet._meta, Outlet._meta
    outlet_column = meta.get_field("outlet").column
    shared, values = _row_defaults(rows[0], but=("outlet",))
    qn = connection.ops.quote_name
    outlet_pk = qn(outlet_meta.pk.column)
    params = [*values, *(row.outlet_id for row in rows)]
    with cursor(params) as c:
        c.execute(
            f"INSERT INTO {qn(meta.db_table)} "  # noqa: S608 - names from the models
            f"({', '.join(qn(f.column) for f in shared)}, {qn(outlet_column)}) "
            f"SELECT {', '.join(['%s'] * len(values))}, {outlet_pk} "
            f"FROM {qn(outlet_meta.db_table)} WHERE {outlet_pk} IN "
            f"({', '.join(['%s'] * len(rows))})",
            params,
        )
        if c.rowcount != len(rows):
            raise IntegrityError("An outlet of the command was deleted meanwhile.")
    return rows


def _check_may_switch(user, site, *, force: bool) -> None:
    """Roles are per site (dcpower/access.py): switching power there, and forcing past the
    guardrails, each need their permission at the site."""
    if not user.has_perm("power.add_powercommand", site):
        raise PermissionDenied(f"Your roles do not allow power commands at site {site.name!r}.")
    if force and not user.has_perm("power.force_powercommand", site):
        raise PermissionDenied(
            f"Your roles do not allow force at site {site.name!r}: ask someone who holds "
            "guardrail-override there, or leave force out."
        )


def _targets(outlet_ids, host_ids, rack_ids) -> dict:
    return {
        "outlets": sorted(set(outlet_ids)),
        "hosts": sorted(set(host_ids)),
        "racks": sorted(set(rack_ids)),
    }


def _busy(outlets) -> OutletBusy:
    rows = PowerCommandOutlet.objects.filter(active=True, outlet__in=outlets).select_related(
        "command", "outlet__pdu"
    )
    rows = list(rows)
    command = rows[0].command if rows else None
    return OutletBusy(command, [f"{r.outlet.pdu.name}:{r.outlet.number}" for r in rows])


def power_command_enqueue(*, command: PowerCommand, mark_enqueued: bool = True) -> None:
    """Queue the command on its site's queue now. A scheduled command is not queued with an
    ETA: a broker holds such a message unacknowledged, and Redis hands it out again after its
    visibility timeout, so a long wait could run it twice. The beat task
    ``power_commands_enqueue_due`` queues it when its time comes instead."""
    from power.tasks import execute_power_command

    if mark_enqueued:
        PowerCommand.objects.filter(pk=command.pk).update(enqueued_at=timezone.now())
    execute_power_command.apply_async(
        args=[command.pk],
        kwargs={"request_id": command.request_id},
        queue=site_queue(command.site_id),
    )


def power_commands_enqueue_due() -> list[int]:
    """Queue the scheduled commands whose time has come (run by beat every few seconds)."""
    due = PowerCommand.objects.filter(
        status=CommandStatus.PENDING, enqueued_at__isnull=True, not_before__lte=timezone.now()
    )
    queued = []
    for command in due:
        power_command_enqueue(command=command)
        queued.append(command.pk)
    return queued


def site_queue(site_id: int) -> str:
    return f"power.site.{site_id}"


def power_command_cancel(*, command: PowerCommand) -> PowerCommand:
    """Cancel a pending (or scheduled) command; a running or finished one cannot be."""
    with transaction.atomic():
        command = PowerCommand.objects.select_for_update().get(pk=command.pk)
        if command.status != CommandStatus.PENDING:
            raise ValidationError(
                {
                    "status": f"Command #{command.pk} is {command.status}; only a pending command "
                    "can be cancelled."
                }
            )
        command.status = CommandStatus.CANCELLED
        command.finished_at = timezone.now()
        command.save(update_fields=["status", "finished_at"])
        command.outlets.update(active=False, outcome="cancelled")
        pdu_ids = sorted(set(command.outlets.values_list("outlet__pdu_id", flat=True)))
        transaction.on_commit(lambda: command_finished(command, command.status, pdu_ids))
    return command


class LiveReadTimeout(Exception):
    """No worker of the PDU's site answered a live read in time."""


def pdu_live_read(*, pdu) -> dict:
    """Ask the PDU's site worker to read it now and wait for the answer."""
    from celery.exceptions import TimeoutError as CeleryTimeout
    from django.conf import settings

    from power.tasks import read_pdu_live

    timeout = settings.POWER_LIVE_READ_TIMEOUT_S
    async_result = read_pdu_live.apply_async(
        args=[pdu.pk], queue=site_queue(pdu.rack.site_id), expires=timeout
    )
    try:
        return async_result.get(timeout=timeout, interval=0.05)
    except CeleryTimeout:
        with contextlib.suppress(Exception):  # nothing stored yet is fine too
            async_result.forget()
        raise LiveReadTimeout(
            f"No worker for site {pdu.rack.site.name!r} answered within {timeout:g} s "
            f"(queue {site_queue(pdu.rack.site_id)})."
        ) from None
