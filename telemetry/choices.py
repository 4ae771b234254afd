"""Named choices for telemetry."""

from django.db import models


class EventKind(models.TextChoices):
    DRIFT = "drift", "Outlet state drift"  # changed behind dcpower's back
    PDU_DOWN = "pdu_down", "PDU down"
    PDU_UP = "pdu_up", "PDU up"
    RACK_OVER_BUDGET = "rack_over_budget", "Rack over budget"
    COMMAND_FINISHED = "command_finished", "Power command finished"
