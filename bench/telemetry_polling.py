"""Telemetry polling (issue #6): how many outlet values one worker core reads per CPU-second
polling a fleet of simulated PDUs, next to net-snmp's snmpbulkwalk reading the same columns
from the same simulators; and whether the worker's memory stays flat over 1,000 poll rounds.

    .venv/bin/python bench/telemetry_polling.py            # about ten minutes
    .venv/bin/python bench/telemetry_polling.py --help     # fleet size, rounds, ...

What it does, all on loopback:

1. Creates a PostgreSQL database of its own (``dcpower_bench_telemetry``), migrated, dropped
   at the end; starts ``python -m simulators`` with 200 apc_rpdu2 PDUs x 24 outlets, each on
   its own 127.0.X.Y address; this process then becomes the worker (Django set up on that
   database, the inventory created for the fleet).
2. Throughput: after a warm-up round (drivers created, tables discovered), ``--rounds``
   rounds of ``telemetry.polling.poll_round`` over every PDU (the device work alone, in the
   worker's one event loop, as a poll task runs it) and as many of ``poll_pdus`` (the whole
   task: the device work and the database writes: statuses, outlets, drift, racks). Each
   is timed in wall time and in this process's CPU time (``time.process_time``); outlet
   values are the state, current, power and energy of every outlet read.
3. net-snmp: ``snmpbulkwalk -v2c -Cr25`` of each outlet column the driver reads (status,
   pending, name, current, power, energy) of every PDU, 4 processes at a time; CPU time is
   the children's user + system time (process start-up included: it is what the CLI costs).
4. Memory: ``--memory-rounds`` rounds of ``poll_pdus`` over ``--memory-pdus`` PDUs; the
   resident set size after round 100 and after the last one (VmRSS): at most 10 % growth.
5. Prints a table and writes it into docs/performance.md under "Telemetry polling (issue #6)".
   Exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from _common import postgres, write_docs_section  # bench/_common.py, beside this script

ROOT = Path(__file__).resolve().parent.parent
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"
PYTHON = str(VENV_PYTHON) if VENV_PYTHON.exists() else sys.executable
sys.path.insert(0, str(ROOT))

TARGET_VALUES_PER_CPU_S = 5_000
STRETCH_VALUES_PER_CPU_S = 25_000
MEMORY_GROWTH_MAX = 0.10
MEMORY_BASELINE_ROUND = 100
VALUES_PER_OUTLET = 4  # state, current, power, energy
DOCS = ROOT / "docs" / "performance.md"
DOCS_HEADING = "## Telemetry polling (issue #6)"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pdus", type=int, default=200)
    parser.add_argument("--outlets", type=int, default=24, help="per PDU")
    parser.add_argument("--rounds", type=int, default=5, help="throughput rounds of each kind")
    parser.add_argument("--memory-rounds", type=int, default=1000)
    parser.add_argument("--memory-pdus", type=int, default=10)
    parser.add_argument("--database", default="dcpower_bench_telemetry", help="created, dropped")
    parser.add_argument("--no-docs", action="store_true", help="print only")
    return parser.parse_args(argv)


def rss_mb() -> float:
    match = re.search(r"VmRSS:\s+(\d+) kB", Path("/proc/self/status").read_text())
    return int(match.group(1)) / 1000 if match else float("nan")


def start_fleet(args, tmp: Path) -> tuple[subprocess.Popen, list[dict]]:
    fleet = {
        "time_scale": 1.0,
        "defaults": {"outlets": args.outlets, "relay_delay_s": 0},
        "pdus": [
            {
                "name": f"BENCH-PDU-{i:03d}",
                "protocol": "snmp",
                "profile": "apc_rpdu2",
                "host": f"127.0.{160 + i // 250}.{1 + i % 250}",
                "port": 0,
            }
            for i in range(args.pdus)
        ],
    }
    path = tmp / "fleet.json"
    path.write_text(json.dumps(fleet))
    process = subprocess.Popen(
        [PYTHON, "-m", "simulators", str(path)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=(tmp / "simulator.log").open("w"),
        text=True,
    )
    line = process.stdout.readline()
    if not line:
        raise RuntimeError(f"the simulator exited: {(tmp / 'simulator.log').read_text()[-2000:]}")
    return process, json.loads(line)["pdus"]


def setup_django(args, tmp: Path) -> None:
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "dcpower.settings",
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{args.database}",
            "SECRET_KEY": "bench-" + "x" * 40,
            "DEBUG": "0",
            "DCPOWER_DATA_DIR": str(tmp / "var"),
            "LOG_LEVEL": "ERROR",
            "TELEMETRY_DEVICE_TIMEOUT_S": "5",
            "TELEMETRY_POLL_BUDGET_S": "120",
        }
    )
    os.environ.pop("CELERY_BROKER_URL", None)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def create_inventory(simulated: list[dict], outlets: int) -> list[int]:
    from inventory.models import PDU, Rack, Site
    from inventory.services import pdu_sync_outlets

    site = Site.objects.create(name="Bench", slug="bench")
    ids = []
    for i, pdu in enumerate(simulated):
        rack, _ = Rack.objects.get_or_create(site=site, name=f"R{i // 2:03d}")
        created = PDU.objects.create(
            rack=rack,
            name=pdu["name"],
            vendor_profile="apc_rpdu2",
            management_host=pdu["host"],
            management_port=pdu["port"],
            snmp_read_community="public",
            outlet_count=outlets,
        )
        pdu_sync_outlets(pdu=created)
        ids.append(created.pk)
    return ids


def outlet_values(outcomes) -> int:
    values = 0
    for outcome in outcomes:
        if not outcome.ok:
            continue
        for o in outcome.readings.outlets:
            values += 1 + sum(v is not None for v in (o.current_a, o.power_w, o.energy_kwh))
    return values


def timed(function):
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    result = function()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def measure_worker(args, pdu_ids: list[int]) -> dict:
    from django.conf import settings

    from inventory.models import PDU
    from power.execution import device_loop
    from power.targets import device_target_for_pdu
    from telemetry.polling import poll_pdus, poll_round

    pdus = list(PDU.objects.filter(pk__in=pdu_ids).select_related("rack__site"))
    targets = {p.pk: device_target_for_pdu(p, timeout_s=5) for p in pdus}
    budget = settings.TELEMETRY_POLL_BUDGET_S
    loop = device_loop()
    warm = loop.run_until_complete(poll_round(targets, budget))
    failed = [o for o in warm if not o.ok]
    if failed:
        raise RuntimeError(f"{len(failed)} PDUs failed the warm-up round: {failed[0].error}")
    device, full = [], []
    for _ in range(args.rounds):
        outcomes, wall, cpu = timed(lambda: loop.run_until_complete(poll_round(targets, budget)))
        device.append({"wall": wall, "cpu": cpu, "values": outlet_values(outcomes)})
        outcomes, wall, cpu = timed(lambda: poll_pdus(pdu_ids))
        full.append({"wall": wall, "cpu": cpu, "values": outlet_values(outcomes)})
        print(
            f"round: device {device[-1]['values'] / device[-1]['cpu']:,.0f} values/CPU-s "
            f"({device[-1]['wall']:.2f} s wall), with the database "
            f"{full[-1]['values'] / full[-1]['cpu']:,.0f} values/CPU-s",
            flush=True,
        )
    return {"device": device, "full": full}


def snmp_columns() -> list[str]:
    from power.drivers.base import DeviceTarget
    from power.drivers.registry import driver_for_vendor
    from power.drivers.snmp.client import oid_str

    driver = driver_for_vendor(DeviceTarget(host="127.0.0.1", port=161), "apc_rpdu2")
    return [oid_str(c) for c in driver._state_columns() + driver._metric_columns()]


def measure_snmpbulkwalk(simulated: list[dict], columns: list[str]) -> dict:
    tool = shutil.which("snmpbulkwalk")
    if tool is None:
        return {}

    def walk(job):
        host, port, column = job
        result = subprocess.run(
            [
                tool,
                "-v2c",
                "-c",
                "public",
                "-Cr25",
                "-On",
                "-Oq",
                "-t",
                "5",
                f"{host}:{port}",
                column,
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        return sum(1 for line in result.stdout.splitlines() if line.startswith("."))

    jobs = [(p["host"], p["port"], c) for p in simulated for c in columns]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = time.perf_counter()
    with ThreadPoolExecutor(max_workers=4) as pool:
        rows = sum(pool.map(walk, jobs))
    wall = time.perf_counter() - wall
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"rows": rows, "walks": len(jobs), "wall": wall, "cpu": cpu}


def measure_memory(args, pdu_ids: list[int]) -> dict:
    from telemetry.polling import poll_pdus

    subset = pdu_ids[: args.memory_pdus]
    samples = {}
    started = time.perf_counter()
    for number in range(1, args.memory_rounds + 1):
        outcomes = poll_pdus(subset)
        if not all(o.ok for o in outcomes):
            raise RuntimeError(f"round {number}: {[o.error for o in outcomes if not o.ok][:1]}")
        if number in (1, MEMORY_BASELINE_ROUND, args.memory_rounds) or number % 100 == 0:
            gc.collect()
            samples[number] = rss_mb()
            print(f"memory round {number}: {samples[number]:.1f} MB", flush=True)
    return {"samples": samples, "wall": time.perf_counter() - started, "pdus": len(subset)}


def report(args, worker: dict, cli: dict, memory: dict, columns: list[str]) -> tuple[str, bool]:
    def rate(rounds):
        return statistics.median(r["values"] / r["cpu"] for r in rounds)

    def median(rounds, key):
        return statistics.median(r[key] for r in rounds)

    device_rate, full_rate = rate(worker["device"]), rate(worker["full"])
    values = worker["device"][0]["values"]
    cli_rate = cli["rows"] / cli["cpu"] if cli and cli["cpu"] else None
    base = memory["samples"].get(MEMORY_BASELINE_ROUND)
    last = memory["samples"][max(memory["samples"])]
    growth = (last - base) / base if base else None
    ok_rate = full_rate >= TARGET_VALUES_PER_CPU_S
    ok_memory = growth is not None and growth <= MEMORY_GROWTH_MAX
    verdict = {True: "PASS", False: "FAIL"}
    date = datetime.date.today().isoformat()
    lines = [
        f"Measured {date} with `.venv/bin/python bench/telemetry_polling.py`.",
        "",
        "| measurement | wall per round (s) | CPU per round (s) | outlet values per round | "
        "outlet values per CPU-second | target |",
        "| --- | --- | --- | --- | --- | --- |",
        f"| worker, device work (`poll_round`) | {median(worker['device'], 'wall'):.2f} | "
        f"{median(worker['device'], 'cpu'):.2f} | {values:,} | {device_rate:,.0f} | |",
        f"| worker, whole poll task (`poll_pdus`: device work and database writes) | "
        f"{median(worker['full'], 'wall'):.2f} | {median(worker['full'], 'cpu'):.2f} | "
        f"{worker['full'][0]['values']:,} | {full_rate:,.0f} | ≥ {TARGET_VALUES_PER_CPU_S:,} "
        f"({verdict[ok_rate]}; stretch {STRETCH_VALUES_PER_CPU_S:,}) |",
    ]
    if cli:
        lines.append(
            f"| net-snmp `snmpbulkwalk`, same columns and simulators ({cli['walks']:,} walks, "
            f"process start-up included) | {cli['wall']:.2f} | {cli['cpu']:.2f} | "
            f"{cli['rows']:,} column values | {cli_rate:,.0f} column values | |"
        )
    lines += [
        "",
        f"Memory over {args.memory_rounds:,} rounds of `poll_pdus` ({memory['pdus']} PDUs each, "
        f"{memory['wall']:.0f} s): "
        + ", ".join(f"round {n}: {mb:.1f} MB" for n, mb in sorted(memory["samples"].items()))
        + f". Growth after round {MEMORY_BASELINE_ROUND}: "
        + (f"{growth:+.1%}" if growth is not None else "n/a")
        + f" (at most +{MEMORY_GROWTH_MAX:.0%}: {verdict[ok_memory]}).",
        "",
        "Method:",
        "",
        f"- Fleet: one `python -m simulators` process, {args.pdus} apc_rpdu2 PDUs x "
        f"{args.outlets} outlets, each on its own 127.0.X.Y address; a PostgreSQL database "
        "created for the run. The benchmark's own process is the worker: Django on that "
        "database, the telemetry code a poll task runs, one event loop and SNMP engine.",
        f"- Outlet values: state, current, power and energy of every outlet ({VALUES_PER_OUTLET} "
        "per outlet). The driver reads them with GETBULK walks of the outlet columns "
        f"({', '.join(columns)}) plus the PDU's totals and phases.",
        f"- {args.rounds} rounds of each kind after one warm-up round; medians. CPU is this "
        "process's (`time.process_time`): the simulators and PostgreSQL run in their own "
        "processes on the same 2 cores.",
        "- net-snmp: `snmpbulkwalk -v2c -Cr25` of each of those columns of every PDU, 4 at a "
        "time; CPU is the children's user + system time, process start-up included (a CLI "
        "process per walk is what the tool costs); its values are the column rows returned.",
    ]
    if not ok_rate:
        lines += [
            "",
            "What would close the gap: the worker's CPU goes to pysnmp's message processing and "
            "pyasn1's BER decoding of each varbind (see the power commands' profile above); a "
            "faster SNMP path for the poll loop (a BER codec of our own for v1/v2c GETBULK, "
            "pysnmp kept for v3) and more worker processes per site (the rate is per core).",
        ]
    return "\n".join(lines) + "\n", ok_rate and ok_memory


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="telemetry-bench-"))
    with postgres() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{args.database}"')
    fleet = None
    try:
        fleet, simulated = start_fleet(args, tmp)
        print(f"fleet: {len(simulated)} PDUs x {args.outlets} outlets", flush=True)
        setup_django(args, tmp)
        pdu_ids = create_inventory(simulated, args.outlets)
        worker = measure_worker(args, pdu_ids)
        columns = snmp_columns()
        cli = measure_snmpbulkwalk(simulated, columns)
        memory = measure_memory(args, pdu_ids)
        body, passed = report(args, worker, cli, memory, columns)
    finally:
        if fleet is not None:
            fleet.terminate()
            fleet.wait(15)
        if "django" in sys.modules and "DJANGO_SETTINGS_MODULE" in os.environ:
            from django.db import connections

            connections.close_all()
        with postgres() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
        shutil.rmtree(tmp, ignore_errors=True)
    print(body)
    if not args.no_docs:
        write_docs_section(DOCS, DOCS_HEADING, body)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
