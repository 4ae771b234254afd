"""Named choices for telemetry."""

from django.db import models


class EventKind(models.TextChoices):
    DRIFT = "drift", "Outlet state drift"  # changed behind dcpower's back
    PDU_DOWN = "pdu_down", "PDU down"
    PDU_UP = "pdu_up", "PDU up"
    RACK_OVER_BUDGET = "rack_over_budget", "Rack over budget"
    COMMAND_FINISHED = "command_finished", "Power command finished"


class ReadingsState(models.TextChoices):
    """How current a PDU's (or a rack's) readings are (telemetry/elevation.py)."""

    FRESH = "fresh", "Fresh"
    STALE = "stale", "Stale"  # PDU down, or last read more than STALE_POLLS intervals ago
    MISSING = "missing", "Missing"  # never read


class SlotKind(models.TextChoices):
    """What fills a span of a rack's units in its elevation."""

    HOST = "host", "Host"
    PDU = "pdu", "PDU"
    EMPTY = "empty", "Empty"
