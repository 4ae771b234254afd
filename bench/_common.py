"""What the benchmarks in bench/ share: the processes they start (reading their first line,
stopping them), a PostgreSQL connection for their own databases, and writing a report into
its section of docs/performance.md. The benchmarks run as scripts
(``python bench/<name>.py``), so this module is found beside them."""

from __future__ import annotations

import json
import re
import selectors
import subprocess
from pathlib import Path

DOCS_INTRO = (
    "# Performance\n\nNumbers measured on this project's 2-core development machine; each "
    "section's figures were taken side by side in one run, so compare only within a section.\n"
)


def read_json_line(process: subprocess.Popen, timeout_s: float) -> dict:
    """The first line the process prints on stdout, as JSON, within timeout_s."""
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout_s):
            raise TimeoutError(f"{process.args[:3]} printed nothing within {timeout_s} s")
    line = process.stdout.readline()
    if not line:
        raise RuntimeError(f"{process.args[:3]} exited with {process.wait(5)} before it was ready")
    return json.loads(line)


def stop(process: subprocess.Popen | None, grace_s: float = 15) -> None:
    """Terminate the process, and kill it if it has not exited within ``grace_s``."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(grace_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


def postgres(dbname: str = "postgres"):
    """An autocommit connection to the local PostgreSQL (creating and dropping databases)."""
    import psycopg

    return psycopg.connect(
        host="127.0.0.1", port=5432, user="postgres", dbname=dbname, autocommit=True
    )


def write_docs_section(path: Path, heading: str, body: str) -> None:
    """Put ``body`` under ``heading`` in ``path``, replacing that section if present."""
    text = path.read_text() if path.exists() else DOCS_INTRO
    section = f"{heading}\n\n{body}"
    pattern = re.compile(rf"^{re.escape(heading)}\n.*?(?=^## |\Z)", re.MULTILINE | re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text, count=1).rstrip("\n") + "\n"
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text)
