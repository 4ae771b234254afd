"""Reading: a host with its supplies and outlets, a rack's measured power, recent power
commands and one command."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from dcpower.cli import render, resolve
from dcpower.cli.client import API, Client
from dcpower.cli.errors import UsageError
from dcpower.cli.render import Output

STATUSES = ("pending", "running", "succeeded", "failed", "partially_failed", "cancelled")
UNITS_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def host_show(client: Client, out: Output, name: str, *, site: str | None) -> None:
    host = resolve.host(client, name, site=site)
    found = client.list_all(f"{API}/outlets/", {"host": host["id"]})
    outlets = {item["id"]: item for item in found}
    if out.json:
        out.emit_json({"host": host, "outlets": list(outlets.values())})
    else:
        out.print(*render.host(host, outlets))


def rack_power(client: Client, out: Output, name: str, *, site: str | None) -> None:
    rack = resolve.rack(client, name, site=site)
    summary = client.get(f"{API}/racks/{rack['id']}/power/")
    if out.json:
        out.emit_json(summary)
    else:
        out.print(*render.rack_power(summary))


@dataclass(frozen=True)
class CommandFilters:
    statuses: list[str] = field(default_factory=list)
    host: str | None = None
    site: str | None = None
    user: str | None = None
    since: str | None = None
    limit: int = 20


def commands_list(client: Client, out: Output, filters: CommandFilters) -> None:
    params: dict = {"ordering": "-created"}
    if filters.statuses:
        params["status"] = filters.statuses  # repeated: ?status=a&status=b
    if filters.host:
        params["host"] = resolve.host(client, filters.host, site=filters.site)["id"]
    if filters.site:
        params["site"] = resolve.site_id(client, filters.site)
    if filters.user:
        params["user"] = filters.user
    if filters.since:
        params["created_after"] = since(filters.since).isoformat()
    items = client.list_all(f"{API}/power/commands/", params, limit=filters.limit)
    if out.json:
        out.emit_json(items)
    elif items:
        out.print(render.commands(items))
    else:
        out.note("No power commands match.")


def command_show(client: Client, out: Output, command_id: int) -> None:
    command = client.get(f"{API}/power/commands/{command_id}/")
    if out.json:
        out.emit_json(command)
        return
    outlets = resolve.outlets_by_id(client, [row["outlet"]["id"] for row in command["results"]])
    out.print(render.command_header(command), render.command_results(command, outlets))


def since(text: str, *, now: datetime | None = None) -> datetime:
    """``30m``, ``2h``, ``1d``, ``1w`` ago, or an ISO 8601 date or time (local if naive)."""
    now = now or datetime.now(UTC)
    match = re.fullmatch(r"\s*(\d+)\s*([smhdw])\s*", text)
    if match:
        return now - timedelta(seconds=int(match[1]) * UNITS_S[match[2]])
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(
            f"--since takes an age (30m, 2h, 1d, 1w) or an ISO date or time, not {text!r}."
        ) from None
    if moment.tzinfo is None:
        moment = moment.astimezone()  # the local time zone
    return moment
