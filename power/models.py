"""Power commands and their per-outlet results.

A ``PowerCommand`` is persisted before anything touches a device; each targeted outlet gets a
``PowerCommandOutlet`` row that records its state before and after, the step reached (so that
redelivered work resumes instead of switching twice), attempts, timings and error. A partial
unique index on the rows of active commands makes the database refuse two commands acting on
one outlet at the same time.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from inventory.choices import OutletState
from power.choices import CommandAction, CommandStatus, OutletOutcome, OutletStep


class PowerCommand(models.Model):
    action = models.CharField(max_length=8, choices=CommandAction.choices)
    status = models.CharField(
        max_length=20, choices=CommandStatus.choices, default=CommandStatus.PENDING
    )
    site = models.ForeignKey("inventory.Site", on_delete=models.PROTECT, related_name="+")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="power_commands"
    )
    reason = models.CharField(max_length=500, blank=True)
    ticket = models.CharField(max_length=100, blank=True)
    force = models.BooleanField(default=False)
    # NULL, not "": requests without a key must not collide in the unique index below.
    idempotency_key = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001
    # What was asked for (ids), and what it was judged to touch when it was accepted.
    targets = models.JSONField(default=dict)
    blast_radius = models.JSONField(default=dict)
    not_before = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # The last time a worker touched it: a running command whose worker died goes stale.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # Which delivery of the work runs it (the Celery task id): a redelivered message has the
    # same id and resumes; a duplicate with another id leaves a live run alone.
    claimed_by = models.CharField(max_length=64, blank=True)
    # When the command was last handed to the broker (scheduled ones: when their time came).
    enqueued_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    # The request that asked for it (X-Request-ID): ties the API's log lines, this command and
    # the worker's log lines about it together.
    request_id = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["-created", "-id"]
        # Overriding the guardrails (protected hosts, last live supplies) takes more than the
        # right to switch power (docs/security.md).
        permissions = [("force_powercommand", "Can override power guardrails with force")]
        constraints = [
            models.UniqueConstraint(
                fields=["requested_by", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="powercommand_unique_idempotency_key_per_user",
            )
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.action} ({self.status})"

    @property
    def results(self):
        """The per-outlet result rows: the ones at hand when this process has just created
        them (``results_at_hand``), else the database's (prefetched if the query asked)."""
        at_hand = self.__dict__.get("results_at_hand")
        return at_hand if at_hand is not None else self.outlets.all()


class PowerCommandOutlet(models.Model):
    command = models.ForeignKey(PowerCommand, on_delete=models.CASCADE, related_name="outlets")
    outlet = models.ForeignKey("inventory.Outlet", on_delete=models.PROTECT, related_name="+")
    # True while the command is pending or running: the partial unique index below.
    active = models.BooleanField(default=True)
    step = models.CharField(max_length=16, choices=OutletStep.choices, default=OutletStep.PENDING)
    outcome = models.CharField(
        max_length=12, choices=OutletOutcome.choices, default=OutletOutcome.PENDING
    )
    state_before = models.CharField(max_length=10, choices=OutletState.choices, blank=True)
    state_after = models.CharField(max_length=10, choices=OutletState.choices, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["command_id", "outlet_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["outlet"],
                condition=Q(active=True),
                name="powercommandoutlet_one_active_command_per_outlet",
            ),
            models.UniqueConstraint(
                fields=["command", "outlet"], name="powercommandoutlet_unique_outlet_per_command"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.command_id}:{self.outlet_id} {self.outcome}"
