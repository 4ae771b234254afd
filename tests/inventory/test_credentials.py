"""Device credentials at rest: SNMP communities and v3 keys are stored encrypted (never as
plaintext in the database), read back transparently, never returned by the API, masked in
the admin, and re-encrypted under a new key by ``manage.py reencrypt_credentials``, after
which the old key can go and the old ciphertext is unreadable."""

from __future__ import annotations

import io

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from dcpower import crypto
from inventory.models import PDU
from tests import factories

pytestmark = pytest.mark.django_db

SECRETS = ["snmp_read_community", "snmp_write_community", "snmp_v3_auth_key", "snmp_v3_priv_key"]


def stored(pdu: PDU) -> dict[str, str]:
    """What the database itself holds, bypassing the field's decryption."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {', '.join(SECRETS)} FROM inventory_pdu WHERE id = %s",  # noqa: S608
            [pdu.pk],
        )
        return dict(zip(SECRETS, cursor.fetchone(), strict=True))


@pytest.fixture
def pdu(rack):
    return factories.make_pdu(
        rack=rack,
        name="PDU-S",
        snmp_read_community="public-r34d",
        snmp_write_community="pr1vate-wr1te",
        snmp_v3_auth_key="auth-key-long-enough",
        snmp_v3_priv_key="priv-key-long-enough",
    )


def test_secrets_are_stored_encrypted_and_read_back_plain(pdu):
    raw = stored(pdu)
    for name in SECRETS:
        assert raw[name].startswith(crypto.PREFIX), name
        assert getattr(pdu, name) not in raw[name]
    fresh = PDU.objects.get(pk=pdu.pk)
    assert fresh.snmp_read_community == "public-r34d"
    assert fresh.snmp_v3_priv_key == "priv-key-long-enough"
    # Filtering on a secret cannot work (each encryption differs), and nothing relies on it.
    assert stored(fresh)["snmp_read_community"] == raw["snmp_read_community"]


def test_an_empty_secret_stays_empty(rack):
    pdu = factories.make_pdu(rack=rack, name="PDU-E", snmp_write_community="")
    assert stored(pdu)["snmp_write_community"] == ""
    assert PDU.objects.get(pk=pdu.pk).snmp_write_community == ""


def test_the_api_never_returns_a_secret(api, pdu):
    body = api.get(f"/api/v1/pdus/{pdu.pk}/").content.decode()
    for name in SECRETS:
        assert name not in api.get(f"/api/v1/pdus/{pdu.pk}/").data
        assert getattr(pdu, name) not in body
    listed = api.get("/api/v1/pdus/").content.decode()
    assert "public-r34d" not in listed and crypto.PREFIX not in listed


def test_the_admin_masks_secrets_and_keeps_them_when_left_empty(admin_client, pdu):
    url = f"/admin/inventory/pdu/{pdu.pk}/change/"
    page = admin_client.get(url).content.decode()
    for name in SECRETS:
        assert getattr(pdu, name) not in page
    assert "Set. Leave empty to keep it." in page
    form = {
        "rack": pdu.rack_id,
        "name": pdu.name,
        "outlet_count": pdu.outlet_count,
        "mounting": pdu.mounting,
        "u_height": pdu.u_height,
        "vendor_profile": pdu.vendor_profile,
        "protocol": pdu.protocol,
        "management_host": "10.9.9.9",
        "snmp_version": pdu.snmp_version,
        "snmp_read_community": "",
        "snmp_write_community": "new-write-community",
        "snmp_v3_auth_protocol": pdu.snmp_v3_auth_protocol,
        "snmp_v3_priv_protocol": pdu.snmp_v3_priv_protocol,
        "snmp_v3_priv_key_extension": pdu.snmp_v3_priv_key_extension,
        "modbus_unit_id": pdu.modbus_unit_id,
        "outlets-TOTAL_FORMS": "0",
        "outlets-INITIAL_FORMS": "0",
        "outlets-MIN_NUM_FORMS": "0",
        "outlets-MAX_NUM_FORMS": "1000",
    }
    response = admin_client.post(url, form)
    assert response.status_code == 302, response.content.decode()[-3000:]
    pdu.refresh_from_db()
    assert pdu.management_host == "10.9.9.9"
    assert pdu.snmp_read_community == "public-r34d"  # left empty: kept
    assert pdu.snmp_write_community == "new-write-community"
    assert pdu.snmp_v3_auth_key == "auth-key-long-enough"


def test_rotation_reencrypts_and_the_old_key_can_go(pdu, settings):
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.CREDENTIALS_KEYS = [old_key]
    pdu.save()  # under the old key
    under_old = stored(pdu)

    settings.CREDENTIALS_KEYS = [new_key, old_key]
    assert PDU.objects.get(pk=pdu.pk).snmp_read_community == "public-r34d"  # both open it
    out = io.StringIO()
    call_command("reencrypt_credentials", stdout=out)
    assert "1 PDU(s)" in out.getvalue()
    under_new = stored(pdu)
    assert all(under_new[n] != under_old[n] for n in SECRETS)

    settings.CREDENTIALS_KEYS = [new_key]  # the old key removed
    fresh = PDU.objects.get(pk=pdu.pk)
    assert (fresh.snmp_read_community, fresh.snmp_v3_auth_key) == (
        "public-r34d",
        "auth-key-long-enough",
    )
    with pytest.raises(crypto.UndecryptableSecret):
        crypto.decrypt(under_old["snmp_read_community"])  # old ciphertext: unreadable now


def test_rotation_without_the_key_a_secret_needs_changes_nothing(pdu, settings):
    settings.CREDENTIALS_KEYS = [Fernet.generate_key().decode()]
    before = stored(pdu)  # encrypted under the default (derived) key, now not configured
    with pytest.raises(CommandError, match="nothing was changed"):
        call_command("reencrypt_credentials", stdout=io.StringIO())
    assert stored(pdu) == before


def test_legacy_plaintext_is_read_and_encrypted_on_save(pdu):
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE inventory_pdu SET snmp_read_community = %s WHERE id = %s", ["legacy", pdu.pk]
        )
    fresh = PDU.objects.get(pk=pdu.pk)
    assert fresh.snmp_read_community == "legacy"
    call_command("reencrypt_credentials", stdout=io.StringIO())
    assert stored(pdu)["snmp_read_community"].startswith(crypto.PREFIX)
    assert PDU.objects.get(pk=pdu.pk).snmp_read_community == "legacy"


def test_a_malformed_key_is_refused_at_startup():
    import os
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-c", "import dcpower.settings"],
        env={**os.environ, "CREDENTIALS_KEYS": "not-a-key"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "CREDENTIALS_KEYS: each key is 32 url-safe base64-encoded bytes" in result.stderr


def test_driver_errors_and_targets_never_show_a_community(pdu):
    from power.targets import device_target_for_pdu

    target = device_target_for_pdu(pdu)
    assert "public-r34d" not in repr(target) and "pr1vate" not in repr(target)
    assert "auth-key" not in repr(target)
