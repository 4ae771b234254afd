"""What the CLI prints: rich tables for people on stdout, JSON for scripts on stdout, notes,
progress and one-line errors on stderr. Functions here only shape data the API answered;
they never make a request."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

OUTCOME_STYLE = {"succeeded": "green", "failed": "bold red", "cancelled": "yellow"}
STATUS_STYLE = {
    "succeeded": "green",
    "failed": "bold red",
    "partially_failed": "bold red",
    "cancelled": "yellow",
    "running": "cyan",
    "pending": "cyan",
}
NONE = "-"


class Output:
    """Where one invocation prints. ``json``: JSON on stdout, no tables and no prompts."""

    def __init__(self, *, json_mode: bool = False) -> None:
        self.json = json_mode
        self.out = Console(highlight=False)
        self.err = Console(stderr=True, highlight=False)

    def emit_json(self, data: Any) -> None:
        typer.echo(json.dumps(data, indent=2, default=str))

    def print(self, *renderables) -> None:
        self.out.print(*renderables)

    def note(self, message: str, *, style: str = "dim") -> None:
        """A line for the person at the terminal (stderr, so stdout stays the data)."""
        self.err.print(Text(message, style=style), soft_wrap=True)

    def error(self, message: str) -> None:
        line = Text.assemble(("Error: ", "bold red"), message)
        self.err.print(line, soft_wrap=True)


# --- Small helpers ---------------------------------------------------------------------------


def when(value: str | None) -> str:
    """An API time (ISO 8601) in the local time zone, to the second."""
    if not value:
        return NONE
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def number(value: float | int | None, unit: str = "", digits: int = 0) -> str:
    if value is None:
        return NONE
    return f"{value:,.{digits}f}{unit}"


def yes_no(value: bool | None) -> str:
    return NONE if value is None else ("yes" if value else "no")


def styled(value: str, styles: dict[str, str]) -> Text:
    return Text(value or NONE, style=styles.get(value, ""))


def names(items: Iterable[dict], *, at_most: int = 0) -> str:
    listed = [item["name"] for item in items]
    if at_most and len(listed) > at_most:
        return ", ".join(listed[:at_most]) + f" (+{len(listed) - at_most})"
    return ", ".join(listed) or NONE


def outlet_label(outlet: dict) -> tuple[str, str]:
    """(PDU name, outlet number) of an outlet in any of the API's shapes."""
    if isinstance(outlet.get("pdu"), dict):
        return outlet["pdu"]["name"], str(outlet["number"])
    if "pdu" in outlet:
        return str(outlet["pdu"]), str(outlet["number"])
    pdu, _, number_ = str(outlet.get("name", "")).rpartition(":")
    return pdu, str(outlet.get("number", number_))


def host_of(outlet: dict | None) -> str:
    host_ = (outlet or {}).get("host")
    return host_["name"] if host_ else NONE


def _title(text: str) -> Text | None:
    return Text(text, style="italic") if text else None


def add(table: Table, *values) -> None:
    """A row of plain text: names, reasons and errors come from users and devices, and are
    never read as rich markup (``[urgent]`` stays ``[urgent]``)."""
    table.add_row(*(value if isinstance(value, Text) else Text(str(value)) for value in values))


def details(title: str, rows: list[tuple[str, Any]]) -> Table:
    table = Table(title=_title(title), show_header=False, title_justify="left", box=None)
    table.add_column(style="bold")
    table.add_column()
    for label, value in rows:
        add(table, label, value)
    return table


# --- Power commands ----------------------------------------------------------------------


def blast_radius(
    *, title: str, radius: dict, outlets: dict[int, dict], refusals: list[dict]
) -> list:
    """The outlets to be switched and who goes dark: what a person confirms."""
    switched = Table(title=_title(title), title_justify="left")
    for column in ("PDU", "Outlet", "Host", "State now", "Locked"):
        switched.add_column(column)
    for brief in radius["outlets"]:
        outlet = outlets.get(brief["id"], {})
        add(
            switched,
            brief["pdu"],
            str(brief["number"]),
            host_of(outlet),
            outlet.get("state") or NONE,
            yes_no(outlet.get("locked")),
        )
    impact = Table(title=_title("Impact"), title_justify="left")
    impact.add_column("")
    impact.add_column("Count", justify="right")
    impact.add_column("Which")
    rows = (
        ("PDUs involved", "pdus", ""),
        ("Hosts losing all power", "hosts_losing_all_power", "bold red"),
        ("Hosts losing redundancy", "hosts_losing_redundancy", "yellow"),
        ("Protected hosts affected", "protected_hosts_affected", "bold red"),
        ("Active hosts affected", "active_hosts_affected", "yellow"),
        ("Hosts powered on", "hosts_powered_on", "green"),
        ("Locked outlets", "locked_outlets", "bold red"),
    )
    for label, key, style in rows:
        items = radius.get(key) or []
        if key == "locked_outlets":
            items = [{"name": f"{o['pdu']}:{o['number']}"} for o in items]
        add(impact, label, str(len(items)), Text(names(items), style=style if items else ""))
    shown: list = [switched, impact]
    if refusals:
        refused = Table(title=_title("Refused by the guardrails"), title_justify="left")
        refused.add_column("Guardrail")
        refused.add_column("Why")
        refused.add_column("--force overrides")
        for refusal in refusals:
            add(
                refused,
                refusal["code"],
                Text(refusal["message"], style="bold red"),
                yes_no(refusal["overridable"]),
            )
        shown.append(refused)
    return shown


def command_header(command: dict) -> Table:
    results = command.get("results", [])
    succeeded = sum(row["outcome"] == "succeeded" for row in results)
    rows = [
        ("Command", f"#{command['id']} {command['action']}"),
        ("Status", styled(command["status"], STATUS_STYLE)),
        ("Outlets", f"{succeeded} of {len(results)} succeeded"),
        ("Site", (command.get("site") or {}).get("name", NONE)),
        ("Requested by", command.get("requested_by") or NONE),
        ("Reason", command.get("reason") or NONE),
        ("Ticket", command.get("ticket") or NONE),
        ("Forced", yes_no(command.get("force"))),
        ("Created", when(command.get("created"))),
        ("Started", when(command.get("started_at"))),
        ("Finished", when(command.get("finished_at"))),
    ]
    if command.get("error"):
        rows.append(("Error", Text(command["error"], style="bold red")))
    return details("", rows)


def command_results(command: dict, outlets: dict[int, dict]) -> Table:
    """Each outlet's verified outcome."""
    table = Table(
        title=_title(f"Command #{command['id']}: outcome per outlet"), title_justify="left"
    )
    for column in ("PDU", "Outlet", "Host", "Before", "After", "Outcome", "Error"):
        table.add_column(column)
    for row in command.get("results", []):
        pdu, number_ = outlet_label(row["outlet"])
        add(
            table,
            pdu,
            number_,
            host_of(outlets.get(row["outlet"]["id"])),
            row.get("state_before") or NONE,
            row.get("state_after") or NONE,
            styled(row["outcome"], OUTCOME_STYLE),
            Text(row.get("error") or "", style="red"),
        )
    return table


def affected_hosts(command: dict) -> list[dict]:
    radius = command.get("blast_radius") or {}
    seen: dict[int, dict] = {}
    for key in (
        "hosts_losing_all_power",
        "hosts_losing_redundancy",
        "active_hosts_affected",
        "protected_hosts_affected",
        "hosts_powered_on",
    ):
        for host in radius.get(key) or []:
            seen.setdefault(host["id"], host)
    return list(seen.values())


def commands(items: list[dict]) -> Table:
    table = Table(title=_title("Power commands"), title_justify="left")
    for column in ("ID", "Created", "Action", "Status", "OK", "By", "Hosts", "Reason", "Ticket"):
        table.add_column(column, justify="right" if column in ("ID", "OK") else "left")
    for command in items:
        results = command.get("results", [])
        succeeded = sum(row["outcome"] == "succeeded" for row in results)
        add(
            table,
            str(command["id"]),
            when(command.get("created")),
            command["action"],
            styled(command["status"], STATUS_STYLE),
            f"{succeeded}/{len(results)}",
            command.get("requested_by") or NONE,
            names(affected_hosts(command), at_most=3),
            command.get("reason") or NONE,
            command.get("ticket") or NONE,
        )
    return table


# --- Inventory -------------------------------------------------------------------------------


def host(host_: dict, outlets: dict[int, dict]) -> list:
    rack = host_.get("rack") or {}
    about = details(
        f"Host {host_['name']}",
        [
            ("Site", host_["site"]["name"]),
            ("Rack", rack.get("name", NONE)),
            ("Position", f"U{host_['position_u']}" if host_.get("position_u") else NONE),
            ("Status", host_.get("status") or NONE),
            ("Role", host_.get("role") or NONE),
            (
                "Protected",
                Text("yes", style="bold red") if host_.get("protected") else "no",
            ),
            ("Redundant power", yes_no(host_.get("redundant_power"))),
            ("Allocated draw", number(host_.get("allocated_draw_w"), " W")),
        ],
    )
    supplies = Table(title=_title("Power supplies"), title_justify="left")
    for column in ("Supply", "PDU", "Outlet", "State", "Draw", "Current", "Allocated", "Seen"):
        supplies.add_column(column, justify="right" if column in ("Draw", "Current") else "left")
    for supply in host_.get("power_supplies", []):
        brief = supply.get("outlet")
        outlet = outlets.get(brief["id"], {}) if brief else {}
        pdu, number_ = outlet_label(outlet) if outlet else (NONE, NONE)
        add(
            supplies,
            supply["name"],
            pdu,
            number_,
            styled(outlet.get("state") or NONE, {"on": "green", "off": "bold red"}),
            number(outlet.get("power_w"), " W"),
            number(outlet.get("current_a"), " A", 2),
            number(supply.get("allocated_draw_w"), " W"),
            when(outlet.get("state_seen_at")),
        )
    return [about, supplies]


def rack_power(summary: dict) -> list:
    about = details(
        f"Rack {summary['rack']['name']}: power",
        [
            ("Redundant", yes_no(summary.get("redundant"))),
            ("Capacity (survives one side lost)", number(summary.get("capacity_w"), " W")),
            ("Allocated (inventory)", number(summary.get("allocated_draw_w"), " W")),
            ("Measured", number(summary.get("power_w"), " W")),
            ("Utilization", number(summary.get("utilization_percent"), " %", 1)),
            (
                "Over budget",
                Text("YES", style="bold red") if summary.get("over_budget") else "no",
            ),
            (
                "Failover overload",
                Text("YES", style="bold red") if summary.get("failover_overload") else "no",
            ),
            ("Readings at", when(summary.get("readings_at"))),
        ],
    )
    sides = Table(title=_title("Sides and feeds"), title_justify="left")
    for column in ("Side", "Feed", "Capacity", "Measured", "Overloaded"):
        sides.add_column(column, justify="right" if column in ("Capacity", "Measured") else "left")
    for side in summary.get("sides", []):
        add(
            sides,
            side["side"],
            Text("all feeds", style="bold"),
            number(side.get("capacity_w"), " W"),
            number(side.get("power_w"), " W"),
            "",
        )
        for feed in side.get("feeds", []):
            add(
                sides,
                "",
                feed["feed"]["name"],
                number(feed.get("capacity_w"), " W"),
                number(feed.get("power_w"), " W"),
                Text("YES", style="bold red") if feed.get("overloaded") else "no",
            )
    pdus = Table(title=_title("PDUs"), title_justify="left")
    for column in ("PDU", "Up", "Measured", "Readings at"):
        pdus.add_column(column, justify="right" if column == "Measured" else "left")
    for pdu in summary.get("pdus", []):
        add(
            pdus,
            pdu["pdu"]["name"],
            yes_no(pdu.get("up")),
            number(pdu.get("power_w"), " W"),
            when(pdu.get("readings_at")),
        )
    return [about, sides, pdus]
