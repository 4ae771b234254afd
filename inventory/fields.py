"""Model fields of the inventory."""

from __future__ import annotations

from django.db import models

from dcpower import crypto


class EncryptedCharField(models.CharField):
    """A short secret (an SNMP community, a v3 key), encrypted at rest (dcpower.crypto).

    Python code sees the plaintext; the column holds ``fernet:<token>`` (a text column:
    ciphertext is longer than ``max_length``, which still limits the plaintext).
    """

    def get_internal_type(self) -> str:
        return "TextField"

    def db_type(self, connection):
        return models.TextField().db_type(connection)

    def from_db_value(self, value, expression, connection):
        return crypto.decrypt(value) if value is not None else value

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        return crypto.encrypt(value) if value else value
