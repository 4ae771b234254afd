"""Project-level promises: the README's test command is the one CI runs, settings refuse an
insecure production start, and the embedded broker works without a server."""

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def readme_command(heading: str) -> str:
    text = (ROOT / "README.md").read_text()
    section = text.split(f"## {heading}", 1)[1]
    return re.search(r"```sh\n(.+?)\n```", section, re.S).group(1).strip()


def test_ci_runs_the_readme_test_command():
    ci_lines = [line.strip() for line in (ROOT / ".ci/run").read_text().splitlines()]
    assert readme_command("Test it") in ci_lines


def test_readme_run_command_uses_the_demo():
    assert readme_command("Run it").endswith("manage.py demo")


def _settings_env(**env) -> dict:
    clean = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG"}}
    clean.update(env)
    return clean


def _load_settings(env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings;"
            " print(settings.DEBUG)",
        ],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "dcpower.settings"},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_no_configuration_means_development_mode():
    result = _load_settings(_settings_env())
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"


@pytest.mark.parametrize(
    "env",
    [
        {"DEBUG": "0"},
        {"DEBUG": "0", "SECRET_KEY": "short"},
        {"DEBUG": "0", "SECRET_KEY": "django-insecure-" + "x" * 40},
    ],
    ids=["no-key", "short-key", "insecure-key"],
)
def test_production_refuses_to_start_without_a_real_secret_key(env):
    result = _load_settings(_settings_env(**env))
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_a_real_secret_key_turns_debug_off_by_default():
    result = _load_settings(_settings_env(SECRET_KEY="k" * 50))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_invalid_debug_value_is_named():
    result = _load_settings(_settings_env(DEBUG="maybe"))
    assert result.returncode != 0
    assert "DEBUG must be one of" in result.stderr


def test_production_settings_pass_djangos_deployment_check():
    """HTTPS-only cookies, redirects, HSTS, and a schema with every authenticator known:
    ``manage.py check --deploy`` has nothing to say, not even a warning."""
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=_settings_env(SECRET_KEY=secrets.token_urlsafe(50), ALLOWED_HOSTS="dcpower.example"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_plain_http_can_be_chosen_for_a_trusted_network():
    script = (
        "import django; django.setup(); from django.conf import settings as s;"
        " print(s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE, s.SECURE_HSTS_SECONDS)"
    )
    for https, expected in (("1", "True True 31536000"), ("0", "False False 0")):
        result = subprocess.run(
            [sys.executable, "-c", script],
            cwd=ROOT,
            env={
                **_settings_env(SECRET_KEY="k" * 50, DCPOWER_HTTPS=https),
                "DJANGO_SETTINGS_MODULE": "dcpower.settings",
            },
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.stdout.strip() == expected, result.stderr
