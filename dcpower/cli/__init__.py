"""``dcpower``, the on-call CLI (docs/cli.md): switch and cycle power with the blast radius
shown first, follow the command live, read hosts, racks and commands.

It runs on an engineer's laptop and talks to dcpower's REST API only: nothing here imports
Django or the server's code (tests/cli/test_cli_imports.py holds it to that). The commands
are thin: they read their options and hand over to ``login``, ``power`` and ``show``.
"""

# No ``from __future__ import annotations``: typer reads the annotations at run time, and the
# power commands' annotations refer to their factory's local variables.
import json as jsonlib
from collections.abc import Iterator
from contextlib import contextmanager
from enum import Enum
from typing import Annotated

import typer
from typer.core import TyperGroup

from dcpower.cli import config, login, power, show
from dcpower.cli.client import Client
from dcpower.cli.errors import CliError, ExitCode
from dcpower.cli.render import Output

JSON_META = "dcpower.json"


class _Group(TyperGroup):
    """Turns a CliError raised anywhere below into its one-line message on stderr (and its
    JSON on stdout with --json) and its exit status: never a traceback."""

    def invoke(self, ctx: typer.Context):
        try:
            return super().invoke(ctx)
        except CliError as exc:
            json_mode = bool(ctx.meta.get(JSON_META))
            if json_mode:
                typer.echo(jsonlib.dumps(exc.as_json(), indent=2, default=str))
            Output().error(exc.message)
            raise typer.Exit(int(exc.exit_code)) from None


def _remember_json(ctx: typer.Context, value: bool) -> bool:
    # Parsed before the command runs: even an error raised early is reported as JSON.
    if value:
        ctx.meta[JSON_META] = True
    return value


app = typer.Typer(
    cls=_Group,
    name="dcpower",
    help="dcpower's on-call CLI: switch and cycle power safely, read hosts, racks and "
    "power commands. See docs/cli.md.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,  # a crash must never print a token
)
host_app = typer.Typer(help="A host: show it, switch its power.", no_args_is_help=True)
rack_app = typer.Typer(help="A rack: its measured power, switch its power.", no_args_is_help=True)
outlet_app = typer.Typer(help="One outlet (PDU:NUMBER): switch it.", no_args_is_help=True)
command_app = typer.Typer(help="One power command.", no_args_is_help=True)
app.add_typer(host_app, name="host")
app.add_typer(rack_app, name="rack")
app.add_typer(outlet_app, name="outlet")
app.add_typer(command_app, name="command")

Json = Annotated[
    bool,
    typer.Option(
        "--json", callback=_remember_json, help="Print JSON on stdout: no tables, no prompts."
    ),
]
Name = Annotated[str, typer.Argument(metavar="NAME", show_default=False)]
Site = Annotated[
    str | None,
    typer.Option("--site", metavar="SLUG", help="The site, where the name exists at several."),
]


@contextmanager
def _session(json_mode: bool) -> Iterator[tuple[Client, Output]]:
    out = Output(json_mode=json_mode)
    with Client(config.effective_credentials()) as client:
        yield client, out


def _exit(code: ExitCode) -> None:
    if code != ExitCode.OK:
        raise typer.Exit(int(code))


# --- Logging in ------------------------------------------------------------------------------


@app.command("login")
def login_command(
    url: Annotated[
        str | None, typer.Option(help=f"The server (default: ${config.ENV_URL} or the last one).")
    ] = None,
    username: Annotated[str | None, typer.Option("--username", "-u")] = None,
    token: Annotated[
        bool, typer.Option("--token", help="Store an API token (dcp_…) instead of a JWT login.")
    ] = False,
    stdin: Annotated[
        bool, typer.Option("--stdin", help="Read the password (or token) from stdin.")
    ] = False,
    json_: Json = False,
) -> None:
    """Log in: a user name and password give a JWT pair, refreshed automatically."""
    login.login(Output(json_mode=json_), url=url, username=username, token=token, stdin=stdin)


@app.command("logout")
def logout_command(json_: Json = False) -> None:
    """Forget the stored credentials."""
    login.logout(Output(json_mode=json_))


# --- Power -----------------------------------------------------------------------------------

Reason = Annotated[str, typer.Option("--reason", "-r", help="Why (required for off and cycle).")]
Ticket = Annotated[str, typer.Option("--ticket", "-t", help="A ticket reference, e.g. INC-4711.")]
Force = Annotated[
    bool,
    typer.Option(
        "--force", help="Override the protected-host and last-live-supply guardrails (audited)."
    ),
]
Yes = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
DryRun = Annotated[bool, typer.Option("--dry-run", help="Show the blast radius and stop.")]
Timeout = Annotated[
    float,
    typer.Option(min=1, metavar="SECONDS", help="Stop following the command after this long."),
]


def _power_command(kind: str, action: str):
    metavar = "PDU:NUMBER" if kind == "outlet" else "NAME"

    def command(
        name: Annotated[str, typer.Argument(metavar=metavar, show_default=False)],
        reason: Reason = "",
        ticket: Ticket = "",
        site: Site = None,
        force: Force = False,
        yes: Yes = False,
        dry_run: DryRun = False,
        timeout: Timeout = 600.0,
        json_: Json = False,
    ) -> None:
        request = power.PowerRequest(
            kind=kind,
            name=name,
            action=action,
            reason=reason,
            ticket=ticket,
            site=site,
            force=force,
            yes=yes,
            dry_run=dry_run,
            timeout_s=timeout,
        )
        with _session(json_) as (client, out):
            code = power.power_run(client, out, request)
        _exit(code)

    return command


_POWER_HELP = {
    "on": "Switch {what} on",
    "off": "Switch {what} off",
    "cycle": "Cycle {what} (off, a pause, on)",
}
_POWER_STEPS = "the blast radius first, a confirmation, then each outlet's verified outcome."
_WHAT = {"host": "the host's outlets", "rack": "the rack's outlets", "outlet": "the outlet"}
for _kind, _app in (("host", host_app), ("rack", rack_app), ("outlet", outlet_app)):
    for _action in power.ACTIONS:
        _help = _POWER_HELP[_action].format(what=_WHAT[_kind])
        _app.command(_action, help=f"{_help}: {_POWER_STEPS}")(_power_command(_kind, _action))


# --- Reading ---------------------------------------------------------------------------------


@host_app.command("show")
def host_show(name: Name, site: Site = None, json_: Json = False) -> None:
    """The host, its power supplies and their outlets (state, draw)."""
    with _session(json_) as (client, out):
        show.host_show(client, out, name, site=site)


@rack_app.command("power")
def rack_power(name: Name, site: Site = None, json_: Json = False) -> None:
    """The rack's measured power against its redundant capacity."""
    with _session(json_) as (client, out):
        show.rack_power(client, out, name, site=site)


Status = Enum("Status", {status: status for status in show.STATUSES}, type=str)


@app.command("commands")
def commands(
    status: Annotated[
        list[Status] | None, typer.Option(help="Only these statuses (repeatable).")
    ] = None,
    host: Annotated[str | None, typer.Option(help="Only those that switched this host.")] = None,
    site: Site = None,
    user: Annotated[str | None, typer.Option(help="Only those asked for by this user.")] = None,
    since: Annotated[
        str | None, typer.Option(metavar="AGE|TIME", help="30m, 2h, 1d, 1w, or an ISO time.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 20,
    json_: Json = False,
) -> None:
    """Recent power commands, newest first."""
    filters = show.CommandFilters(
        statuses=[s.value for s in status or []],
        host=host,
        site=site,
        user=user,
        since=since,
        limit=limit,
    )
    with _session(json_) as (client, out):
        show.commands_list(client, out, filters)


@command_app.command("show")
def command_show(command_id: Annotated[int, typer.Argument(metavar="ID")], json_: Json = False):
    """One power command and each outlet's verified outcome."""
    with _session(json_) as (client, out):
        show.command_show(client, out, command_id)


def main() -> None:
    app(prog_name="dcpower")
