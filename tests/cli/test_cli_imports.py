"""The CLI runs on a laptop and talks to the REST API only: none of its modules imports
Django, DRF or the server's apps, and the module form (``python -m dcpower.cli``) works."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import dcpower.cli

CLI = Path(dcpower.cli.__file__).parent
ALLOWED = {"typer", "rich", "httpx", "dcpower.cli"}
SERVER = ("django", "celery", "kombu", "rest_framework", "inventory", "power", "telemetry")
SERVER += ("simulators",)


def imported(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def test_the_cli_imports_only_the_standard_library_and_its_client_libraries():
    modules = sorted(CLI.glob("*.py"))
    assert len(modules) >= 6
    for path in modules:
        for name in imported(path):
            top = name.split(".")[0]
            assert top not in ("django", *SERVER), f"{path.name} imports {name}"
            allowed = top in sys.stdlib_module_names or any(
                name == ok or name.startswith(f"{ok}.") for ok in ALLOWED
            )
            assert allowed, f"{path.name} imports {name}"


def test_importing_the_cli_loads_no_server_code():
    """In a fresh interpreter: neither Django nor Celery (the Celery app is loaded by the
    Django app's ready(), not by dcpower/__init__.py), nor the server's apps."""
    code = "import json, sys, dcpower.cli; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    loaded = json.loads(done.stdout)
    assert not {name.split(".")[0] for name in loaded} & set(SERVER)


def test_the_module_form_runs():
    done = subprocess.run(
        [sys.executable, "-m", "dcpower.cli", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "Usage: dcpower" in done.stdout and "login" in done.stdout
