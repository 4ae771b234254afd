"""The script in docs/api.md ("Switching power from a script") runs as written against a live
server, a real worker and simulated PDUs, and does what the guide says: dry run, then one
command with an Idempotency-Key, the verified outcome, exit 0. (Here, beside the CLI's tests,
because it uses the same live-server fixtures, tests/cli/conftest.py.)"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from power.models import PowerCommand
from tests.simulated_dc import received, relay_on

pytestmark = [
    pytest.mark.requires_service("postgres", "redis"),
    pytest.mark.django_db(transaction=True),
]

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def guide_script() -> str:
    section = GUIDE.read_text().split("## Switching power from a script", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_api_guides_script_cycles_a_host_once_and_verified(
    live_server, token, fleet, dc, start_worker, tmp_path
):
    start_worker(dc["site"])
    script = tmp_path / "cycle.py"
    script.write_text(guide_script())
    before = received(fleet)
    environment = {**os.environ, "DCPOWER_URL": live_server.url, "DCPOWER_TOKEN": token}
    done = subprocess.run(
        [sys.executable, str(script)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 2 and all(" succeeded on" in line for line in lines), done.stdout
    after = received(fleet)
    assert {name: after[name] - before[name] for name in after} == {"A": 2, "B": 2}
    assert relay_on(fleet, "A", 1) and relay_on(fleet, "B", 1)
    command = PowerCommand.objects.get()  # the dry run persisted nothing
    assert command.idempotency_key == f"chg-1234-{dc['web'].pk}"

    # Run again: the same key answers with the same command; nothing is switched twice.
    again = subprocess.run(
        [sys.executable, str(script)], env=environment, capture_output=True, text=True, timeout=120
    )
    assert again.returncode == 0, again.stdout + again.stderr
    assert PowerCommand.objects.count() == 1
    assert received(fleet) == after
