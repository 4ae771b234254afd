"""Named choices for power commands."""

from django.db import models


class CommandAction(models.TextChoices):
    ON = "on", "On"
    OFF = "off", "Off"
    CYCLE = "cycle", "Cycle"


class CommandStatus(models.TextChoices):
    PENDING = "pending", "Pending"  # persisted, queued (or waiting for not_before)
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    PARTIALLY_FAILED = "partially_failed", "Partially failed"
    CANCELLED = "cancelled", "Cancelled"


ACTIVE_COMMAND_STATUSES = (CommandStatus.PENDING, CommandStatus.RUNNING)


class OutletStep(models.TextChoices):
    """How far one outlet's part of a command has got; redelivered work resumes from here."""

    PENDING = "pending", "Not started"
    OFF_SENT = "off_sent", "Off sent"
    OFF_VERIFIED = "off_verified", "Off verified"
    ON_SENT = "on_sent", "On sent"
    DONE = "done", "Done"


class OutletOutcome(models.TextChoices):
    PENDING = "pending", "Pending"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"
