"""Re-encrypt every stored device credential under the current key.

Rotating the key that protects SNMP communities and v3 keys (docs/security.md):

1. put a new key first in CREDENTIALS_KEYS, keeping the old one after it, and restart;
2. run ``manage.py reencrypt_credentials``;
3. remove the old key from CREDENTIALS_KEYS and restart.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from dcpower.crypto import UndecryptableSecret
from inventory.models import PDU

SECRETS = ["snmp_read_community", "snmp_write_community", "snmp_v3_auth_key", "snmp_v3_priv_key"]


class Command(BaseCommand):
    help = "Re-encrypt every stored device credential under the first key of CREDENTIALS_KEYS."

    def handle(self, *args, **options):
        rewritten = 0
        with transaction.atomic():  # all or nothing: a PDU no key opens stops the run
            locked = PDU.objects.select_for_update().only("pk", *SECRETS)
            for pdu_id in PDU.objects.order_by("pk").values_list("pk", flat=True):
                try:
                    pdu = locked.get(pk=pdu_id)
                except UndecryptableSecret as exc:
                    raise CommandError(
                        f"PDU id {pdu_id}: {exc} Put back the key it was encrypted with; "
                        "nothing was changed."
                    ) from None
                # update() encrypts under the first key; save() would touch last_updated.
                PDU.objects.filter(pk=pdu.pk).update(**{n: getattr(pdu, n) for n in SECRETS})
                rewritten += 1
        self.stdout.write(f"Re-encrypted the credentials of {rewritten} PDU(s).")
