"""Encryption of secrets at rest (SNMP communities and v3 keys): Fernet (AES-128-CBC with an
HMAC-SHA256, from the ``cryptography`` package) under keys from configuration.

``CREDENTIALS_KEYS``: comma-separated Fernet keys, the first encrypts, all decrypt, so that a
key rotates without downtime: put the new key first, run ``manage.py reencrypt_credentials``,
then drop the old key. Unset, one key is derived from ``SECRET_KEY`` (the embedded default
runs with no configuration); production sets its own (docs/security.md).
"""

from __future__ import annotations

import base64
import functools

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

PREFIX = "fernet:"  # marks a stored value as ciphertext (a bare value is a legacy plaintext)


class UndecryptableSecret(Exception):
    """A stored secret that none of the configured keys opens (a key was removed too soon)."""


@functools.cache  # derived for every secret read otherwise: a PDU's load derived it four times
def derived_key(secret_key: str) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"dcpower credentials")
    return base64.urlsafe_b64encode(hkdf.derive(secret_key.encode()))


@functools.cache
def _cipher(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key) for key in keys])


def cipher() -> MultiFernet:
    keys = tuple(settings.CREDENTIALS_KEYS) or (derived_key(settings.SECRET_KEY).decode(),)
    return _cipher(keys)


def encrypt(plaintext: str) -> str:
    if not plaintext:
        return ""  # "none configured" stays visible as such
    return PREFIX + cipher().encrypt(plaintext.encode()).decode()


def decrypt(stored: str) -> str:
    if not stored or not stored.startswith(PREFIX):
        return stored or ""  # legacy plaintext, encrypted at its next save
    try:
        return cipher().decrypt(stored[len(PREFIX) :].encode()).decode()
    except InvalidToken:
        raise UndecryptableSecret(
            "A stored secret cannot be decrypted with any key in CREDENTIALS_KEYS."
        ) from None


def reencrypt(stored: str) -> str:
    """The same secret under the current (first) key."""
    if not stored:
        return ""
    if not stored.startswith(PREFIX):
        return encrypt(stored)
    try:
        return PREFIX + cipher().rotate(stored[len(PREFIX) :].encode()).decode()
    except InvalidToken:
        raise UndecryptableSecret(
            "A stored secret cannot be decrypted with any key in CREDENTIALS_KEYS."
        ) from None
