"""Logging in and staying logged in: a JWT pair or an API token stored owner-only, secrets
never printed, an expired access token refreshed (and the new pair stored), a dead session
sent back to `dcpower login`, and logging out."""

from __future__ import annotations

import json
import stat
from datetime import timedelta

import pytest
from rest_framework_simplejwt.tokens import RefreshToken

from dcpower.cli import config
from dcpower.cli.client import jwt_expires_soon
from dcpower.cli.errors import ExitCode
from tests.cli.conftest import PASSWORD

pytestmark = [pytest.mark.requires_service("postgres"), pytest.mark.django_db(transaction=True)]


def stored(config_dir) -> dict:
    return json.loads((config_dir / config.FILE_NAME).read_text())


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_login_stores_a_jwt_pair_owner_only_and_prints_no_secret(
    cli, config_dir, live_server, admin_user
):
    result = cli("login", input=f"root\n{PASSWORD}\n")
    assert result.exit_code == ExitCode.OK, result.output
    saved = stored(config_dir)
    assert saved["url"] == live_server.url and saved["kind"] == "jwt"
    assert saved["username"] == "root" and saved["access"] and saved["refresh"]
    assert mode(config_dir / config.FILE_NAME) == 0o600
    assert mode(config_dir) == 0o700
    for secret in (PASSWORD, saved["access"], saved["refresh"]):
        assert secret not in result.output
    assert f"Logged in to {live_server.url} as root" in result.output
    # The stored pair authenticates the next commands.
    listed = cli("commands", "--json")
    assert listed.exit_code == ExitCode.OK, listed.output
    assert json.loads(listed.stdout) == []


def test_a_wrong_password_stores_nothing(cli, config_dir, admin_user):
    result = cli("login", "--username", "root", input="wrong-password\n")
    assert result.exit_code == ExitCode.AUTH
    assert "Login to" in result.stderr and "failed" in result.stderr
    assert "wrong-password" not in result.output
    assert not (config_dir / config.FILE_NAME).exists()


def test_token_login_with_json_and_stdin(cli, config_dir, token):
    result = cli("login", "--token", "--stdin", "--json", input=f"{token}\n")
    assert result.exit_code == ExitCode.OK, result.output
    answer = json.loads(result.stdout)
    assert answer["kind"] == "token" and answer["credentials_file"].endswith("credentials.json")
    assert token not in result.output
    assert stored(config_dir)["token"] == token
    assert mode(config_dir / config.FILE_NAME) == 0o600
    assert cli("commands").exit_code == ExitCode.OK
    # A token the server refuses is not stored.
    refused = cli("login", "--token", input="dcp_000000000000_nope\n")
    assert refused.exit_code == ExitCode.AUTH and "refused the API token" in refused.stderr
    assert stored(config_dir)["token"] == token
    # Logging out removes the file; then nothing is authenticated.
    logout = cli("logout")
    assert logout.exit_code == ExitCode.OK and "Logged out" in logout.stderr
    assert not (config_dir / config.FILE_NAME).exists()
    after = cli("commands")
    assert after.exit_code == ExitCode.AUTH and "dcpower login" in after.stderr


def save_jwt(config_dir, url: str, *, access: str, refresh: str, monkeypatch) -> None:
    monkeypatch.setenv(config.ENV_CONFIG_DIR, str(config_dir))
    config.save(
        config.Credentials(url=url, kind="jwt", username="root", access=access, refresh=refresh)
    )


def test_an_expired_access_token_is_refreshed_and_the_new_pair_stored(
    cli, config_dir, live_server, admin_user, monkeypatch
):
    refresh = RefreshToken.for_user(admin_user)
    access = refresh.access_token
    access.set_exp(lifetime=-timedelta(minutes=1))  # expired a minute ago
    save_jwt(
        config_dir,
        live_server.url,
        access=str(access),
        refresh=str(refresh),
        monkeypatch=monkeypatch,
    )
    result = cli("commands")
    assert result.exit_code == ExitCode.OK, result.output
    renewed = stored(config_dir)
    assert renewed["access"] != str(access) and not jwt_expires_soon(renewed["access"])
    assert renewed["refresh"] != str(refresh)  # the server replaces it at each refresh
    assert mode(config_dir / config.FILE_NAME) == 0o600


def test_a_refused_access_token_is_refreshed_once(
    cli, config_dir, live_server, admin_user, monkeypatch
):
    refresh = RefreshToken.for_user(admin_user)
    access = str(refresh.access_token)
    forged = access[:-4] + ("AAAA" if not access.endswith("AAAA") else "BBBB")  # unexpired
    save_jwt(
        config_dir, live_server.url, access=forged, refresh=str(refresh), monkeypatch=monkeypatch
    )
    result = cli("commands")
    assert result.exit_code == ExitCode.OK, result.output
    assert stored(config_dir)["access"] != forged


def test_a_dead_session_asks_for_login(cli, config_dir, live_server, admin_user, monkeypatch):
    refresh = RefreshToken.for_user(admin_user)
    access = refresh.access_token
    access.set_exp(lifetime=-timedelta(minutes=1))
    dead = str(refresh)[:-4] + ("AAAA" if not str(refresh).endswith("AAAA") else "BBBB")
    save_jwt(config_dir, live_server.url, access=str(access), refresh=dead, monkeypatch=monkeypatch)
    result = cli("commands")
    assert result.exit_code == ExitCode.AUTH
    assert "session" in result.stderr and "dcpower login" in result.stderr
    assert "Traceback" not in result.output


def test_credentials_of_one_server_are_not_sent_to_another(cli, config_dir, token):
    assert cli("login", "--token", input=f"{token}\n").exit_code == ExitCode.OK
    result = cli("commands", DCPOWER_URL="http://127.0.0.1:9")
    assert result.exit_code == ExitCode.AUTH
    assert "not to http://127.0.0.1:9" in result.stderr
