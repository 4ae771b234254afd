"""The CLI against a live server: pytest-django's ``live_server`` (a real HTTP server in a
thread of this process, on the test database), simulated PDUs in a thread, and, for commands
that must be carried out, a real Celery worker process (tests/workers.py).

The CLI runs in-process through typer's CliRunner, with its configuration directory in the
test's tmp_path and the live server as DCPOWER_URL; tests/cli/test_power.py also runs it as
the installed console script."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from typer.testing import CliRunner

from dcpower.cli import app
from dcpower.tokens import api_token_create

PASSWORD = "pw-root-123"  # the admin_user fixture's (tests/conftest.py)


@pytest.fixture
def config_dir(tmp_path):
    return tmp_path / "config" / "dcpower"


@pytest.fixture
def cli_env(live_server, config_dir) -> dict[str, str | None]:
    return {
        "DCPOWER_URL": live_server.url,
        "DCPOWER_CONFIG_DIR": str(config_dir),
        "DCPOWER_TOKEN": None,  # unset: the caller's own must not leak in
        "COLUMNS": "200",  # wide tables: no wrapped names
    }


@pytest.fixture
def cli(cli_env) -> Callable:
    """``cli("host", "show", "web01", token=…, input=…)``: the result of the CLI in-process."""

    def run(*args: str, token: str | None = None, input: str | None = None, **env):
        environment = {**cli_env, **env}
        if token is not None:
            environment["DCPOWER_TOKEN"] = token
        return CliRunner().invoke(app, list(args), env=environment, input=input)

    return run


@pytest.fixture
def token(admin_user) -> str:
    """An API token of the superuser (tests/conftest.py's admin_user)."""
    return api_token_create(user=admin_user, name="cli tests")[1]
