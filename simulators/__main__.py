"""Run a simulator fleet: ``python -m simulators FLEET.yaml [--time-scale X] [--control-port N]``.

Prints one JSON line describing every PDU's address (and the control endpoint's URL), then
serves until interrupted (Ctrl-C or SIGTERM).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import signal
import sys

from simulators.fleet import Fleet, FleetError, FleetSpec


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m simulators", description=__doc__)
    parser.add_argument("fleet", help="fleet description (.yaml, .yml or .json)")
    parser.add_argument("--time-scale", type=float, help="override the file's time_scale")
    parser.add_argument("--control-host", help="serve the HTTP control endpoint on this host")
    parser.add_argument("--control-port", type=int, help="... and this port (0: any)")
    args = parser.parse_args(argv)
    try:
        spec = FleetSpec.load(args.fleet)
    except (OSError, FleetError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.time_scale is not None:
        spec = dataclasses.replace(spec, time_scale=args.time_scale)
    if args.control_port is not None or args.control_host is not None:
        spec = dataclasses.replace(
            spec,
            control_host=args.control_host or spec.control_host or "127.0.0.1",
            control_port=args.control_port if args.control_port is not None else 0,
        )
    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(_serve(spec))
    except FleetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


async def _serve(spec: FleetSpec) -> None:
    fleet = Fleet(spec)
    try:
        await fleet.start()
    except (OSError, ValueError) as exc:
        # A fleet file that parses but cannot run (an address in use, an SNMPv3 user defined
        # twice with different keys) is a bad fleet file too: exit 2 with the reason, not a
        # traceback and 1, and close what did start.
        await fleet.stop()
        raise FleetError(f"cannot start the fleet: {exc}") from exc
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print(
        json.dumps(
            {
                "pdus": fleet.describe(),
                "control": fleet.control.url if fleet.control is not None else None,
            }
        ),
        flush=True,
    )
    try:
        await stop.wait()
    finally:
        await fleet.stop()


if __name__ == "__main__":
    sys.exit(main())
