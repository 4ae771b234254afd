"""Switching power: show the blast radius (a dry run), confirm, ask once (an Idempotency-Key
makes a retried request return the same command instead of switching twice), follow the
command live until it has finished, and report every outlet's verified outcome."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from dcpower.cli import render, resolve
from dcpower.cli.client import API, READ_TIMEOUT_S, Client, describe_refusals
from dcpower.cli.errors import (
    Aborted,
    ExitCode,
    Interrupted,
    Refused,
    Unfinished,
    UsageError,
)
from dcpower.cli.render import Output

ACTIONS = ("on", "off", "cycle")
NEEDS_REASON = ("off", "cycle")
VERB = {"on": "Switch on", "off": "Switch off", "cycle": "Cycle"}
FINISHED = ("succeeded", "failed", "partially_failed", "cancelled")
FOLLOW_STEP_S = 2  # each long-poll of the command (?wait=N) lasts at most this long
# Sending again after a broken connection or a 502/503/504 is safe: the power request
# carries an Idempotency-Key, and reading a command changes nothing.
RETRIES = 2


@dataclass(frozen=True)
class PowerRequest:
    kind: str  # host, rack or outlet
    name: str  # a host or rack name, or PDU:NUMBER
    action: str  # on, off or cycle
    reason: str = ""
    ticket: str = ""
    site: str | None = None
    force: bool = False
    yes: bool = False
    dry_run: bool = False
    timeout_s: float = 600.0


def check_usage(request: PowerRequest, *, json_mode: bool) -> None:
    """Mistakes found before any request is sent."""
    if json_mode and not (request.yes or request.dry_run):
        raise UsageError("--json prints no prompt: add --yes to switch, or --dry-run to look.")
    if request.action in NEEDS_REASON and not request.reason.strip():
        raise UsageError(f'Switching {request.action} needs --reason "…" (it is recorded).')
    if request.force and not request.reason.strip():
        raise UsageError('--force needs --reason "…" (it is recorded).')


def power_run(client: Client, out: Output, request: PowerRequest) -> ExitCode:
    """The whole action; the exit status (OK only when every outlet was verified)."""
    check_usage(request, json_mode=out.json)
    target = resolve.target(client, request.kind, request.name, site=request.site)
    label = f"{request.kind} {_name(request.kind, target)}"
    path = f"{API}/{resolve.COLLECTION[request.kind]}/{target['id']}/power/{request.action}/"
    body = {"reason": request.reason, "ticket": request.ticket, "force": request.force}

    preview = client.post(path, {**body, "dry_run": True})
    radius = preview["blast_radius"]
    outlets = resolve.outlets_by_id(client, [o["id"] for o in radius["outlets"]])
    if not out.json:
        title = f"{VERB[request.action]} {label}: blast radius"
        out.print(
            *render.blast_radius(
                title=title, radius=radius, outlets=outlets, refusals=preview["refusals"]
            )
        )
    if preview["refusals"]:
        raise Refused(
            f"Refused by the guardrails: {describe_refusals(preview['refusals'])}",
            data={"refusals": preview["refusals"], "blast_radius": radius},
        )
    if request.dry_run:
        if out.json:
            out.emit_json(preview)
        else:
            out.note("Dry run: nothing was switched.")
        return ExitCode.OK
    if not request.yes:
        _confirm(request, label, radius)

    accepted = client.post(
        path, body, headers={"Idempotency-Key": str(uuid.uuid4())}, retries=RETRIES
    )
    command = follow(client, out, accepted, timeout_s=request.timeout_s)
    return report(client, out, command, outlets)


def _name(kind: str, target: dict) -> str:
    if kind == "outlet":
        pdu, number = render.outlet_label(target)
        return f"{pdu}:{number}"
    return target["name"]


def _confirm(request: PowerRequest, label: str, radius: dict) -> None:
    dark = len(radius["hosts_losing_all_power"])
    question = (
        f"{VERB[request.action]} {len(radius['outlets'])} outlet(s) of {label}"
        + (f" ({dark} host(s) lose all power)" if dark else "")
        + "?"
    )
    try:
        confirmed = typer.confirm(question, default=False)
    except typer.Abort:  # end of input, Ctrl-C
        confirmed = False
    if not confirmed:
        raise Aborted("Not confirmed: nothing was switched.")


def follow(client: Client, out: Output, command: dict, *, timeout_s: float) -> dict:
    """Long-poll the command (GET …/{id}/?wait=N) until it has finished, showing progress."""
    deadline = time.monotonic() + timeout_s
    url = f"{API}/power/commands/{command['id']}/"
    progress = _progress(out)
    try:
        with progress:
            first = _progress_fields(command)
            task = progress.add_task(
                first["description"],
                completed=first["completed"],
                total=len(command.get("results", [])) or None,
            )
            while True:
                progress.update(task, **_progress_fields(command))
                if command["status"] in FINISHED:
                    return command
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise Unfinished(
                        f"Command #{command['id']} is still {command['status']} after "
                        f"{timeout_s:g} s; it goes on. See `dcpower command show {command['id']}`.",
                        data={"command": command},
                    )
                wait = max(1, min(FOLLOW_STEP_S, int(remaining)))
                command = client.get(
                    url, {"wait": wait}, timeout_s=wait + READ_TIMEOUT_S, retries=RETRIES
                )
    except KeyboardInterrupt:
        raise Interrupted(
            f"Stopped following command #{command['id']}; it goes on. "
            f"See `dcpower command show {command['id']}`."
        ) from None


def _progress(out: Output) -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("outlets"),
        TimeElapsedColumn(),
        console=out.err,
        disable=out.json,
        transient=out.err.is_terminal,  # a terminal keeps the outcome table, not the bar
    )


def _progress_fields(command: dict) -> dict:
    results = command.get("results", [])
    steps: dict[str, int] = {}
    for row in results:
        if row["step"] != "pending":
            steps[row["step"]] = steps.get(row["step"], 0) + 1
    where = ", ".join(f"{step.replace('_', ' ')} {count}" for step, count in steps.items())
    return {
        "completed": sum(row["outcome"] != "pending" for row in results),
        "description": f"#{command['id']} {command['action']} {command['status']}"
        + (f" ({where})" if where and command["status"] not in FINISHED else ""),
    }


def report(client: Client, out: Output, command: dict, outlets: dict[int, dict]) -> ExitCode:
    missing = [
        row["outlet"]["id"] for row in command["results"] if row["outlet"]["id"] not in outlets
    ]
    if missing:
        outlets = {**outlets, **resolve.outlets_by_id(client, missing)}
    ok = command["status"] == "succeeded" and all(
        row["outcome"] == "succeeded" for row in command["results"]
    )
    if out.json:
        for row in command["results"]:
            host = (outlets.get(row["outlet"]["id"]) or {}).get("host")
            row["host"] = host
        out.emit_json(command)
    else:
        out.print(render.command_header(command), render.command_results(command, outlets))
    failed = sum(row["outcome"] != "succeeded" for row in command["results"])
    if ok:
        out.note(f"Command #{command['id']} {command['status']}: every outlet verified.")
        return ExitCode.OK
    out.note(
        f"Command #{command['id']} {command['status']}: {failed} of "
        f"{len(command['results'])} outlet(s) not verified.",
        style="bold red",
    )
    return ExitCode.OUTLETS_FAILED
