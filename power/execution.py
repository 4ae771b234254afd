"""Carrying out a power command: switch, then verify every outlet from the device's status.

The orchestration is synchronous (database writes between phases); device work runs in one
event loop per process (``device_loop``), so each worker keeps one SNMP engine. PDUs work
concurrently; outlets of one PDU are switched together in one driver call (the driver batches
them into as few requests as the vendor allows). A cycle is off, verify off, wait the off
period, on, verify on, across all PDUs together, so a dual-PSU host goes dark and comes back
as one. If the off half fails, the on half still runs for every outlet: a host is never left
dark silently. An outlet succeeds only when its state was read back from the device.

Every step is recorded per outlet before the next begins; redelivered work resumes from the
recorded step. Explicit on/off (never the vendor's native reboot) makes every step safe to
repeat, so a resumed cycle never cycles an outlet twice.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from dcpower.db import (
    Beside,
    Statement,
    execute,
    instance_from_values,
    read_instances,
    update_rows,
    update_statement,
    write_together,
    writes_in_one_statement,
)
from inventory.choices import OutletState
from inventory.models import PDU, Outlet
from power.choices import CommandAction, CommandStatus, OutletOutcome, OutletStep
from power.completion import CommandOutcome, command_finished
from power.drivers.base import OutletState as DeviceState
from power.drivers.base import PduDriver, SwitchAction
from power.drivers.errors import DeviceTimeout, DriverError
from power.drivers.registry import driver_for
from power.models import PowerCommand, PowerCommandOutlet
from power.targets import device_target_for_pdu

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExecutionSettings:
    verify_timeout_s: float = 30.0
    poll_interval_s: float = 0.5
    cycle_off_period_s: float = 5.0
    retries: int = 3  # extra attempts for a transient (timeout) error when sending
    retry_backoff_s: float = 0.5
    device_timeout_s: float = 2.0
    # Switching on, outlets on one feed go one at a time this far apart (feeds in parallel),
    # so the inrush current of a rack coming back stays within what its feeds carry.
    power_on_stagger_s: float = 0.1

    @classmethod
    def from_settings(cls) -> ExecutionSettings:
        return cls(**getattr(settings, "POWER_EXECUTION", {}))


_loop: asyncio.AbstractEventLoop | None = None
# Drivers kept for the process's life, by target (host, port, credentials, vendor: a changed
# PDU is a new key): an "auto" PDU is identified once, a driver keeps what it learned about
# its device (which APC table generation answers), and a Modbus driver keeps its connection.
# Bounded: the oldest are closed and dropped past DRIVER_CACHE_SIZE.
DRIVER_CACHE_SIZE = 2000
_drivers: dict[object, PduDriver] = {}


def device_loop() -> asyncio.AbstractEventLoop:
    """The process's event loop for device work (one SNMP engine lives in it)."""
    global _loop
    if _loop is None or _loop.is_closed():
        _loop = asyncio.new_event_loop()
    return _loop


def driver_for_process(target, loop: asyncio.AbstractEventLoop) -> PduDriver:
    return loop.run_until_complete(driver_for_target(target))


async def driver_for_target(target) -> PduDriver:
    """The process's driver for ``target``, created (an "auto" PDU identified) on first use.
    For code running in ``device_loop()``: telemetry's poll rounds, the executor."""
    driver = _drivers.pop(target, None)  # re-inserted last: the dict is in LRU order
    if driver is None:
        driver = await driver_for(target)
        while len(_drivers) >= DRIVER_CACHE_SIZE:
            await _drivers.pop(next(iter(_drivers))).close()
    _drivers[target] = driver
    return driver


@dataclass
class OutletOutcomeData:
    ok: bool
    state: DeviceState | None
    error: str = ""


async def _send(
    driver: PduDriver, numbers: list[int], action: SwitchAction, config: ExecutionSettings
) -> str:
    """Send a command, retrying timeouts with backoff. Returns an error message or ""."""
    for attempt in range(config.retries + 1):
        try:
            await driver.switch(numbers, action)
            return ""
        except DeviceTimeout as exc:
            if attempt == config.retries:
                return str(exc)
            await asyncio.sleep(config.retry_backoff_s * 2**attempt)
        except DriverError as exc:
            return str(exc)
    return "not sent"


async def _verify(
    driver: PduDriver, numbers: list[int], wanted: DeviceState, config: ExecutionSettings
) -> dict[int, OutletOutcomeData]:
    """Poll the device until every outlet reads ``wanted`` or the timeout expires."""
    deadline = time.monotonic() + config.verify_timeout_s
    last: dict[int, DeviceState] = {}
    last_error = ""
    while True:
        try:
            states = {s.number: s.state for s in await driver.outlet_states_of(numbers)}
            last.update({n: states.get(n, DeviceState.UNKNOWN) for n in numbers})
            last_error = ""
        except DriverError as exc:
            last_error = str(exc)
        if all(last.get(n) == wanted for n in numbers) or time.monotonic() >= deadline:
            break
        await asyncio.sleep(config.poll_interval_s)
    results = {}
    for n in numbers:
        state = last.get(n)
        if state == wanted:
            results[n] = OutletOutcomeData(True, state)
        else:
            seen = state.value if state else "nothing (no answer)"
            detail = f"; last error: {last_error}" if last_error else ""
            results[n] = OutletOutcomeData(
                False,
                state,
                f"not {wanted.value} after {config.verify_timeout_s:g} s (device says {seen})"
                f"{detail}",
            )
    return results


async def _send_per_pdu(
    driver: PduDriver, numbers: list[int], action: SwitchAction, config: ExecutionSettings
) -> dict[int, str]:
    """Send to one PDU: all outlets in one call, or one at a time with the vendor's spacing."""
    spacing = driver.command_spacing_s
    if spacing <= 0 or len(numbers) == 1:
        error = await _send(driver, numbers, action, config)
        return dict.fromkeys(numbers, error) if error else {}
    errors = {}
    for position, number in enumerate(numbers):
        if position:
            await asyncio.sleep(spacing)
        error = await _send(driver, [number], action, config)
        if error:
            errors[number] = error
    return errors


async def _send_staggered(
    groups, feeds: dict[int, object], config: ExecutionSettings
) -> dict[tuple[int, int], str]:
    """Switch on outlet by outlet, ``power_on_stagger_s`` apart on each feed (at least the
    vendor's command spacing), every feed in parallel."""
    by_feed: dict[object, list[tuple[int, int]]] = defaultdict(list)
    for pdu_id, (_, numbers) in groups.items():
        by_feed[feeds.get(pdu_id, pdu_id)] += [(pdu_id, n) for n in numbers]

    async def feed_run(items):
        errors = {}
        for position, (pdu_id, number) in enumerate(items):
            driver = groups[pdu_id][0]
            if position:
                await asyncio.sleep(max(config.power_on_stagger_s, driver.command_spacing_s))
            error = await _send(driver, [number], SwitchAction.ON, config)
            if error:
                errors[(pdu_id, number)] = error
        return errors

    errors: dict[tuple[int, int], str] = {}
    for part in await asyncio.gather(*(feed_run(items) for items in by_feed.values())):
        errors.update(part)
    return errors


async def _phase(
    groups: dict[int, tuple[PduDriver, list[int]]],
    action: SwitchAction,
    config: ExecutionSettings,
    feeds: dict[int, object] | None = None,
) -> dict[tuple[int, int], OutletOutcomeData]:
    """One switching phase on every PDU concurrently: send, then verify from the status."""
    wanted = DeviceState.ON if action is SwitchAction.ON else DeviceState.OFF
    staggered: dict[tuple[int, int], str] | None = None
    if action is SwitchAction.ON and config.power_on_stagger_s > 0:
        staggered = await _send_staggered(groups, feeds or {}, config)

    async def on_pdu(pdu_id: int, driver: PduDriver, numbers: list[int]):
        if staggered is None:
            errors = await _send_per_pdu(driver, numbers, action, config)
        else:
            errors = {n: e for (p, n), e in staggered.items() if p == pdu_id}
        results = {
            (pdu_id, n): OutletOutcomeData(False, None, f"{action} not accepted: {errors[n]}")
            for n in numbers
            if n in errors
        }
        sent = [n for n in numbers if n not in errors]
        if sent:
            verified = await _verify(driver, sent, wanted, config)
            results.update({(pdu_id, n): outcome for n, outcome in verified.items()})
        return results

    results: dict[tuple[int, int], OutletOutcomeData] = {}
    for part in await asyncio.gather(
        *(on_pdu(pdu_id, driver, numbers) for pdu_id, (driver, numbers) in groups.items())
    ):
        results.update(part)
    return results


async def _read_states(groups) -> dict[tuple[int, int], DeviceState]:
    async def on_pdu(pdu_id: int, driver: PduDriver, numbers: list[int]):
        try:
            states = {s.number: s.state for s in await driver.outlet_states_of(numbers)}
        except DriverError:
            return {}
        return {(pdu_id, n): states.get(n, DeviceState.UNKNOWN) for n in numbers}

    found: dict[tuple[int, int], DeviceState] = {}
    for part in await asyncio.gather(*(on_pdu(p, d, ns) for p, (d, ns) in groups.items())):
        found.update(part)
    return found


def stale_after(config: ExecutionSettings) -> timedelta:
    """How long a running command may go without a heartbeat before it is presumed orphaned:
    well beyond the longest phase (send retries, verify timeout, off period)."""
    longest_phase = (
        config.verify_timeout_s * 3
        + config.cycle_off_period_s
        + config.device_timeout_s * (config.retries + 1) * 4
    )
    return timedelta(seconds=max(300.0, longest_phase))


# The columns the executor reads: not the targets and blast radius, JSON as large as the
# command (joined to each of 1,000 rows they cost over a second).
_UNREAD_COLUMNS = {"targets", "blast_radius"}


def _claim(
    command_id: int, claim: str, config: ExecutionSettings, now: datetime
) -> PowerCommand | None:
    """Mark the command running for this delivery and return it, or None when it is not
    runnable. Runnable: pending and due, or running but orphaned (no claim, its heartbeat
    stale) or claimed by this very delivery (a redelivered message resumes).

    One conditional UPDATE, which the database serialises against a concurrent claim or
    cancellation, returning the claimed row: the claim and the read of what was claimed
    are one statement (SQLite has RETURNING too), read as ``raw()`` reads (converters
    included) by ``read_instances``, prepared once the connection has run it often."""
    sql, params = _claim_statement(command_id, claim, config, now)
    return next(iter(read_instances(PowerCommand, sql, params)), None)


def _claim_statement(command_id: int, claim: str, config: ExecutionSettings, now: datetime):
    """The claim's ``UPDATE ... RETURNING`` and its (named) parameters."""
    qn, table = connection.ops.quote_name, PowerCommand._meta.db_table
    sql = f"""
        UPDATE {qn(table)}
           SET status = %(running)s,
               started_at = COALESCE(started_at, %(now)s),
               heartbeat_at = %(now)s,
               claimed_by = %(claim)s
         WHERE id = %(id)s
           AND (not_before IS NULL OR not_before <= %(now)s)
           AND (status = %(pending)s
                OR status = %(running)s
                   AND (claimed_by = '' OR claimed_by = %(claim)s
                        OR heartbeat_at IS NULL OR heartbeat_at <= %(stale)s))
     RETURNING {", ".join(qn(f.column) for f in _claimed_fields())}
    """  # noqa: S608 - names from the model
    params = {
        "id": command_id,
        "now": now,
        "stale": now - stale_after(config),
        "claim": claim,
        "pending": CommandStatus.PENDING,
        "running": CommandStatus.RUNNING,
    }
    return sql, params


def _mark_fresh_sql(action: str, command: str) -> str:
    """The UPDATE that marks a claimed command's fresh rows (nothing done to them yet) as
    sent for its first phase ("on sent" for an on, "off sent" for an off or a cycle), and
    started now; ``action`` and ``command`` are SQL giving the command's action and id. Its
    parameters are ``_mark_params``, named apart from the claim's so that it can be a clause
    of the claim's statement."""
    qn, meta = connection.ops.quote_name, PowerCommandOutlet._meta
    column = {name: qn(meta.get_field(name).column) for name in ("step", "started_at", "outcome")}
    return (
        f"UPDATE {qn(meta.db_table)} "  # noqa: S608 - names from the model
        f"SET {column['step']} = CASE {action} WHEN %(on)s THEN %(on_sent)s "
        f"ELSE %(off_sent)s END, {column['started_at']} = %(now)s "
        f"WHERE {qn(meta.get_field('command').column)} = {command} "
        f"AND {column['step']} = %(step_pending)s AND {column['outcome']} = %(outcome_pending)s"
    )


def _mark_params(now: datetime) -> dict:
    return {
        "now": now,
        "on": CommandAction.ON,
        "on_sent": OutletStep.ON_SENT,
        "off_sent": OutletStep.OFF_SENT,
        "step_pending": OutletStep.PENDING,
        "outcome_pending": OutletOutcome.PENDING,
    }


def _first_sent_step(action: str) -> str:
    return OutletStep.ON_SENT if action == CommandAction.ON else OutletStep.OFF_SENT


def _claimed_fields():
    return [f for f in PowerCommand._meta.concrete_fields if f.name not in _UNREAD_COLUMNS]


def _claim_with_rows(
    command_id: int, claim: str, config: ExecutionSettings
) -> tuple[PowerCommand | None, list[PowerCommandOutlet], list[PowerCommandOutlet]]:
    """The claim (``_claim``) and, when it took the command, the command's rows with their
    outlets and PDUs (``_rows_with_pdus``), and which of them are fresh (nothing done to them
    yet: the state before is still to be read).

    The claim marks the fresh rows as sent for the command's first phase: the mark that must
    be recorded before anything is sent, recorded before the state before is read instead of
    after it, so that it comes with the claim. A delivery that dies after the claim leaves
    them marked sent, which a redelivery repeats safely (explicit on and off), with no state
    before: unknown, never a state read after the outlet was switched. The state before is
    recorded with the outcome (or halfway through a cycle).

    On PostgreSQL one statement, the claim and the mark WITH clauses of the read (a round
    trip less on every command's path: ADR 0023); elsewhere the claim, the read, the mark.
    The read sees the rows as they were before the claim and the mark; their marked step and
    start are set on them here."""
    now = timezone.now()
    if not writes_in_one_statement():
        command = _claim(command_id, claim, config, now)
        if command is None:
            return None, [], []
        rows = _rows_with_pdus(command_id)
        fresh = [row for row in rows if _is_fresh(row)]
        if fresh:
            mark = _mark_fresh_sql("%(action)s", "%(id)s")
            execute(
                Statement(mark, {**_mark_params(now), "id": command_id, "action": command.action})
            )
        return command, rows, _marked(command, fresh, now)
    claim_sql, params = _claim_statement(command_id, claim, config, now)
    params |= _mark_params(now)  # "now" is the claim's too
    mark_sql = _mark_fresh_sql("(SELECT action FROM claimed)", "(SELECT id FROM claimed)")
    load = _load_parts(connection.vendor, "%(id)s")
    # The command's columns come with its first row only (alone when it has none): repeated
    # on each of 1,000 rows they cost more than the round trip saved.
    claimed = Beside.columns(
        PowerCommand,
        "claimed",
        "command__",
        fields=_claimed_fields(),
        only_when="n.nth_of_command IS NULL OR n.nth_of_command = 1",
    )
    # LEFT JOIN: a claimed command without rows still says it was claimed.
    sql = (
        f"WITH claimed AS ({claim_sql}), marked AS ({mark_sql}) "  # noqa: S608 - names from the models
        f"SELECT {load.columns}, {claimed.select} "
        f"FROM claimed LEFT JOIN ({load.tables}) ON TRUE ORDER BY {load.order}"
    )
    found = read_instances(PowerCommandOutlet, sql, params)
    if not found:
        return None, [], []
    command = claimed.instance(found[0])
    rows = [row for row in found if row.pk is not None]
    _attach_outlets(rows, load.pdu)
    return command, rows, _marked(command, [row for row in rows if _is_fresh(row)], now)


def _is_fresh(row: PowerCommandOutlet) -> bool:
    return row.step == OutletStep.PENDING and row.outcome == OutletOutcome.PENDING


def _marked(command, fresh, now) -> list[PowerCommandOutlet]:
    """The ``fresh`` rows (as read before the claim's mark), given the step and start the
    mark wrote."""
    for row in fresh:
        row.step, row.started_at = _first_sent_step(command.action), now
    return fresh


def execute_command(
    command_id: int, *, config: ExecutionSettings | None = None, claim: str = ""
) -> str:
    """Run (or resume) a command. Returns its final status, or its status unchanged when it
    is not runnable here: cancelled, finished, scheduled for later, or being run by another
    live delivery (``claim`` is the delivery's id: a redelivery of the same message resumes)."""
    config = config or ExecutionSettings.from_settings()
    command, rows, fresh = _claim_with_rows(command_id, claim, config)
    if command is None:
        command = PowerCommand.objects.get(pk=command_id)
        if command.status == CommandStatus.RUNNING:
            logger.info(
                "power command %s is run by %s; %s leaves it alone",
                command.pk,
                command.claimed_by,
                claim or "this call",
            )
        return command.status
    loop = device_loop()
    drivers: dict[int, PduDriver] = {}
    try:
        for row in rows:
            pdu = row.outlet.pdu
            if pdu.pk not in drivers:
                target = device_target_for_pdu(pdu, timeout_s=config.device_timeout_s)
                drivers[pdu.pk] = driver_for_process(target, loop)
    except DriverError as exc:  # a PDU could not even be identified
        failure = OutletOutcomeData(False, None, str(exc))
        concluded = [(row, failure, "") for row in rows if row.outcome == OutletOutcome.PENDING]
        return _finish(command, rows, concluded)
    return _finish(command, rows, _run_steps(command, rows, fresh, drivers, loop, config))


def _rows_with_pdus(command_id: int) -> list[PowerCommandOutlet]:
    """The command's per-outlet rows with their outlets (id, PDU, number: all the executor
    reads of them), each outlet sharing its PDU's one instance.

    One statement written in SQL, read as ``raw()`` reads (``read_instances``: the row
    model's converters apply, and the statement is prepared on a connection that runs it
    often): building it with the ORM (a join, an ordering, then in_bulk) cost three times what
    the database took to answer, on every command's path. Each PDU's columns come with the
    first of its rows only (a window function numbers each PDU's rows), converted as the ORM
    converts them: a PDU built for every row built (and decrypted the credentials of) a PDU
    per outlet, a third of a second for 1,000 outlets; a second statement for the PDUs was a
    round trip more on every command's path."""
    load = _load_parts(connection.vendor, "%s")
    sql = f"SELECT {load.columns} FROM {load.tables} ORDER BY {load.order}"  # noqa: S608
    rows = read_instances(PowerCommandOutlet, sql, [command_id])
    _attach_outlets(rows, load.pdu)
    return rows


def _attach_outlets(rows: list[PowerCommandOutlet], pdu: Beside) -> None:
    """Give each row its outlet, and each outlet its PDU's one instance (built from the
    columns that came with the first of the PDU's rows)."""
    pdus = {}
    for row in rows:
        if row.outlet_pdu_id not in pdus:  # the first of its PDU's rows
            pdus[row.outlet_pdu_id] = pdu.instance(row)
        outlet = instance_from_values(
            Outlet, {"id": row.outlet_id, "pdu_id": row.outlet_pdu_id, "number": row.outlet_number}
        )
        outlet.pdu = pdus[outlet.pdu_id]
        row.outlet = outlet


@dataclasses.dataclass(frozen=True)
class _LoadParts:
    columns: str  # the select list: the row's columns, its outlet's, its PDU's (aliased)
    tables: str  # what they come from, the command's id a parameter
    order: str
    pdu: Beside  # the PDU's columns, with the first of its rows


@functools.cache
def _load_parts(vendor: str, placeholder: str) -> _LoadParts:
    """The SQL of ``_rows_with_pdus`` in parts, to read alone or after a claim; names from the
    models (``vendor`` keys the cache), ``placeholder`` the command id's."""
    qn = connection.ops.quote_name
    rows, outlets, pdus = PowerCommandOutlet._meta, Outlet._meta, PDU._meta
    row_columns = [qn(f.column) for f in rows.concrete_fields]
    pdu = Beside.columns(PDU, "p", "pdu__")
    columns = (
        f"{', '.join(f'n.{c}' for c in row_columns)}, n.outlet_number, n.outlet_pdu_id, "
        f"{pdu.select}"
    )
    tables = (
        f"(SELECT {', '.join(f'r.{c}' for c in row_columns)}, "  # noqa: S608 - names
        f"o.{qn('number')} AS outlet_number, o.{qn('pdu_id')} AS outlet_pdu_id, "
        f"ROW_NUMBER() OVER (PARTITION BY o.{qn('pdu_id')} ORDER BY o.{qn('number')}) "
        f"AS nth_of_pdu, "
        f"ROW_NUMBER() OVER (ORDER BY o.{qn('pdu_id')}, o.{qn('number')}) AS nth_of_command "
        f"FROM {qn(rows.db_table)} r JOIN {qn(outlets.db_table)} o "
        f"ON o.{qn('id')} = r.{qn('outlet_id')} WHERE r.{qn('command_id')} = {placeholder}) n "
        f"LEFT JOIN {qn(pdus.db_table)} p ON p.{qn('id')} = n.outlet_pdu_id AND n.nth_of_pdu = 1"
    )
    return _LoadParts(columns, tables, "n.outlet_pdu_id, n.outlet_number", pdu)


def _groups(rows, drivers, steps) -> dict[int, tuple[PduDriver, list[int]]]:
    groups: dict[int, list[int]] = defaultdict(list)
    for row in rows:
        if row.step in steps and row.outcome == OutletOutcome.PENDING:
            groups[row.outlet.pdu_id].append(row.outlet.number)
    return {pdu_id: (drivers[pdu_id], numbers) for pdu_id, numbers in groups.items()}


def _by_key(rows) -> dict[tuple[int, int], PowerCommandOutlet]:
    return {(row.outlet.pdu_id, row.outlet.number): row for row in rows}


Concluded = list[tuple[PowerCommandOutlet, OutletOutcomeData, str]]


def _run_steps(command, rows, fresh, drivers, loop, config) -> Concluded:
    """Switch and verify; returns each concluded outlet's outcome (with the error of a cycle's
    off half), which ``_finish`` records. Progress before that is written step by step; the
    state before of the ``fresh`` rows (which the claim marked sent) is read here and
    recorded with the next write of their rows."""
    by_key = _by_key(rows)
    if fresh:
        sent = {OutletStep.OFF_SENT, OutletStep.ON_SENT}
        before = loop.run_until_complete(_read_states(_groups(fresh, drivers, sent)))
        for key, state in before.items():
            by_key[key].state_before = state.value

    concluded: Concluded = []
    if command.action in (CommandAction.OFF, CommandAction.CYCLE):
        pending_off = _groups(rows, drivers, {OutletStep.PENDING, OutletStep.OFF_SENT})
        _mark_sent(rows, pending_off, step=OutletStep.OFF_SENT)
        results = loop.run_until_complete(_phase(pending_off, SwitchAction.OFF, config))
        halfway = []
        for key, result in results.items():
            row = by_key[key]
            row.attempts += 1
            row.state_after = (result.state or DeviceState.UNKNOWN).value
            if command.action == CommandAction.OFF:
                concluded.append((row, result, ""))
            else:
                row.step = OutletStep.OFF_VERIFIED if result.ok else OutletStep.OFF_SENT
                row.error = "" if result.ok else f"off failed: {result.error}"
                halfway.append(row)
        if halfway:
            fields = ("attempts", "state_after", "step", "error", "state_before")
            _save_rows(halfway, fields, of=rows)
            _heartbeat(command)
            # The off period starts when the last outlet is verified off.
            time.sleep(config.cycle_off_period_s)

    if command.action in (CommandAction.ON, CommandAction.CYCLE):
        # For a cycle every outlet is switched back on, including those whose off failed.
        steps = {
            OutletStep.PENDING,
            OutletStep.ON_SENT,
            OutletStep.OFF_SENT,
            OutletStep.OFF_VERIFIED,
        }
        pending_on = _groups(rows, drivers, steps)
        _mark_sent(rows, pending_on, step=OutletStep.ON_SENT)
        feeds = {
            row.outlet.pdu_id: row.outlet.pdu.feed_id or f"pdu-{row.outlet.pdu_id}" for row in rows
        }
        results = loop.run_until_complete(_phase(pending_on, SwitchAction.ON, config, feeds))
        for key, result in results.items():
            row = by_key[key]
            row.attempts += 1
            row.state_after = (result.state or DeviceState.UNKNOWN).value
            off_error = row.error if command.action == CommandAction.CYCLE else ""
            concluded.append((row, result, off_error))
    return concluded


def _mark_sent(rows, groups, *, step: str) -> None:
    """Record that a phase's command is about to be sent (with the states read before), so a
    redelivery knows where each outlet stands; nothing for rows already at ``step`` (the
    claim marks the fresh rows for the first phase)."""
    keys = {(pdu_id, n) for pdu_id, (_, numbers) in groups.items() for n in numbers}
    marked = [
        row for row in rows if (row.outlet.pdu_id, row.outlet.number) in keys and row.step != step
    ]
    for row in marked:
        row.step = step
    _save_rows(marked, ("step", "state_before", "started_at"), of=rows)


def _save_rows(
    rows: list[PowerCommandOutlet], fields: tuple[str, ...], *, of: list[PowerCommandOutlet]
) -> None:
    """Write ``fields`` of ``rows`` (some or all of ``of``, the command's rows), together."""
    write_together(_row_statements(rows, fields, of=of))


def _row_statements(
    rows: list[PowerCommandOutlet], fields: tuple[str, ...], *, of: list[PowerCommandOutlet]
) -> list[Statement]:
    """The writes of ``fields`` of ``rows`` (some or all of ``of``, the command's rows): one
    UPDATE per distinct set of values, which for a phase is nearly always one (bulk_update's
    CASE per row cost seconds for 1,000 outlets). When that one covers every row of the
    command it chooses them by the command, not by a list of a thousand ids."""
    by_values: dict[tuple, list[int]] = defaultdict(list)
    for row in rows:
        by_values[tuple(getattr(row, name) for name in fields)].append(row.pk)
    every_row = len(by_values) == 1 and len(rows) == len(of)
    statements = []
    for values, ids in by_values.items():
        values_by_name = dict(zip(fields, values, strict=True))
        if every_row:
            where, match = "command", rows[0].command_id
        else:
            where, match = "id", ids
        statements.append(
            update_statement(PowerCommandOutlet, values_by_name, where=where, match=match)
        )
    return statements


def _heartbeat(command) -> None:
    update_rows(PowerCommand, {"heartbeat_at": timezone.now()}, where="id", match=command.pk)


# What the end of a command writes of each concluded outlet's row.
# The state before too: a fresh row's is first recorded here (the claim marked it sent).
_CONCLUDED_FIELDS = (
    "attempts",
    "state_before",
    "state_after",
    "step",
    "outcome",
    "error",
    "finished_at",
    "active",
)


def _finish(command: PowerCommand, rows: list[PowerCommandOutlet], concluded: Concluded) -> str:
    """Record the concluded outlets' outcomes and verified states, release every outlet and
    close the command, all or nothing (one statement on PostgreSQL: ADR 0023); then announce
    it to waiting requests."""
    now = timezone.now()
    observed: dict[str, list[int]] = defaultdict(list)
    for row, result, earlier_error in concluded:
        ok = result.ok and not earlier_error
        row.step = OutletStep.DONE
        row.outcome = OutletOutcome.SUCCEEDED if ok else OutletOutcome.FAILED
        row.error = "; ".join(e for e in (earlier_error, "" if result.ok else result.error) if e)
        row.finished_at = now
        row.active = False
        if result.state is not None:
            observed[result.state.value].append(row.outlet_id)
    outcomes = [row.outcome for row in rows]
    if outcomes and all(o == OutletOutcome.SUCCEEDED for o in outcomes):
        status = CommandStatus.SUCCEEDED
    elif any(o == OutletOutcome.SUCCEEDED for o in outcomes):
        status = CommandStatus.PARTIALLY_FAILED
    else:
        status = CommandStatus.FAILED
    concluded_rows = [row for row, _, _ in concluded]
    concluded_ids = {row.pk for row in concluded_rows}
    # Released too: the rows concluded by an earlier delivery (each row written once).
    earlier_ids = [row.pk for row in rows if row.pk not in concluded_ids]
    statements = [
        *_row_statements(concluded_rows, _CONCLUDED_FIELDS, of=rows),
        update_statement(PowerCommandOutlet, {"active": False}, where="id", match=earlier_ids),
    ]
    for state, outlet_ids in observed.items():
        seen = {"state": OutletState(state), "state_seen_at": now}
        if len(observed) == 1 and len(outlet_ids) == len(rows):  # every outlet, as one
            match = Statement(_outlets_of_command_sql(connection.vendor), [command.pk])
        else:
            match = outlet_ids
        statements.append(update_statement(Outlet, seen, where="id", match=match))
    finished = {"status": status, "finished_at": now}
    statements.append(update_statement(PowerCommand, finished, where="id", match=command.pk))
    write_together(statements)
    command.status, command.finished_at = status, now
    # Built from what was just written; announced once it has committed (at once, unless
    # the caller holds a transaction open).
    outcome = CommandOutcome.of(command, rows)
    pdu_ids = sorted({row.outlet.pdu_id for row in rows})
    transaction.on_commit(lambda: _finished(command, outcome, pdu_ids))
    return status


@functools.cache
def _outlets_of_command_sql(vendor: str) -> str:
    """The ids of a command's outlets, as a subquery (``vendor`` keys the cache): written,
    not built by the ORM, which took half a millisecond to build it on every command."""
    qn, meta = connection.ops.quote_name, PowerCommandOutlet._meta
    outlet, command = (qn(meta.get_field(name).column) for name in ("outlet", "command"))
    return f"SELECT {outlet} FROM {qn(meta.db_table)} WHERE {command} = %s"  # noqa: S608 - names


def _finished(command: PowerCommand, outcome: CommandOutcome, pdu_ids: list[int]) -> None:
    logger.info("power command %s finished: %s", command.pk, outcome.status)
    command_finished(command, outcome.status, pdu_ids, outcome)
