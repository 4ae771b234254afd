"""Writes to the inventory that are more than saving one validated row.

Validation lives in the models' ``clean()``; these functions do what follows a save.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from inventory.models import PDU, Outlet


@transaction.atomic
def pdu_sync_outlets(*, pdu: PDU) -> None:
    """Give a PDU exactly outlets 1..outlet_count.

    Missing outlets are created; outlets above the count are deleted. ``PDU.clean()`` has
    already refused a count that would drop an outlet with a supply plugged in, and the
    supply's PROTECT foreign key makes the database refuse it too if one was plugged in since.
    """
    existing = set(pdu.outlets.values_list("number", flat=True))
    wanted = range(1, pdu.outlet_count + 1)
    Outlet.objects.bulk_create(
        [Outlet(pdu=pdu, number=number) for number in wanted if number not in existing]
    )
    surplus = pdu.outlets.filter(number__gt=pdu.outlet_count)
    if surplus.exists():
        surplus.delete()


def outlet_delete(*, outlet: Outlet) -> None:
    """Outlets exist because the PDU has them: one is removed by lowering the PDU's count."""
    if outlet.number <= outlet.pdu.outlet_count:
        raise ValidationError(
            {
                "number": (
                    f"Outlet {outlet.number} is one of PDU {outlet.pdu.name!r}'s "
                    f"{outlet.pdu.outlet_count} outlets; lower the PDU's outlet_count to remove "
                    "outlets."
                )
            }
        )
    outlet.delete()
