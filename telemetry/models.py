"""What telemetry keeps: the latest state of every PDU and rack (history belongs in
Prometheus), and events. Outlets' latest readings live on the inventory's Outlet (state,
current, power, energy), where power commands write what they verify too."""

from __future__ import annotations

from django.db import models

from telemetry.choices import EventKind


class PduStatus(models.Model):
    """One PDU as the last poll saw it: reachability, totals, and poll bookkeeping."""

    pdu = models.OneToOneField(
        "inventory.PDU", on_delete=models.CASCADE, primary_key=True, related_name="telemetry"
    )
    up = models.BooleanField(
        null=True, help_text="Whether the last poll succeeded; empty: never polled."
    )
    down_since = models.DateTimeField(null=True, blank=True)
    last_poll_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    poll_duration_s = models.FloatField(null=True, blank=True)
    # Counters since the PDU was first polled (exported as Prometheus counters).
    polls_total = models.PositiveBigIntegerField(default=0)
    poll_errors_total = models.PositiveBigIntegerField(default=0)
    # Handed to a worker and not yet polled: the scheduler does not queue it again meanwhile.
    poll_queued_at = models.DateTimeField(null=True, blank=True)
    # The PDU's own totals, in SI units; None where the device does not say.
    voltage_v = models.FloatField(null=True, blank=True)
    current_a = models.FloatField(null=True, blank=True)
    power_w = models.FloatField(null=True, blank=True)
    energy_kwh = models.FloatField(null=True, blank=True)
    phases = models.JSONField(default=list, blank=True)  # [{phase, voltage_v, current_a, power_w}]
    readings_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "PDU status"
        verbose_name_plural = "PDU statuses"

    def __str__(self) -> str:
        state = {True: "up", False: "down", None: "never polled"}[self.up]
        return f"{self.pdu} ({state})"


class RackStatus(models.Model):
    """A rack's measured power against its budget, from its PDUs' latest readings."""

    rack = models.OneToOneField(
        "inventory.Rack", on_delete=models.CASCADE, primary_key=True, related_name="telemetry"
    )
    power_w = models.FloatField(null=True, blank=True)
    capacity_w = models.PositiveIntegerField(default=0)  # redundant capacity (inventory)
    over_budget = models.BooleanField(default=False)
    # Losing one side would overload what is left.
    failover_overload = models.BooleanField(default=False)
    updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "rack status"
        verbose_name_plural = "rack statuses"

    def __str__(self) -> str:
        return f"{self.rack}: {self.power_w} W of {self.capacity_w} W"


class Event(models.Model):
    """Something operators and automation want to know about, delivered to webhooks too."""

    kind = models.CharField(max_length=20, choices=EventKind.choices)
    site = models.ForeignKey(
        "inventory.Site", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    rack = models.ForeignKey(
        "inventory.Rack", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    pdu = models.ForeignKey(
        "inventory.PDU", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    outlet = models.ForeignKey(
        "inventory.Outlet", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    command = models.ForeignKey(
        "power.PowerCommand", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    message = models.TextField()
    data = models.JSONField(default=dict, blank=True)
    created = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.message}"


class Webhook(models.Model):
    """An endpoint that receives events as signed JSON POSTs (docs/telemetry.md#webhooks)."""

    name = models.CharField(max_length=100, unique=True)
    endpoint = models.URLField(max_length=500, help_text="Where events are POSTed.")
    # The HMAC-SHA256 key of the X-Dcpower-Signature header; never shown again once saved.
    secret = models.CharField(max_length=200)
    kinds = models.JSONField(
        default=list, blank=True, help_text="Event kinds to deliver; empty: every kind."
    )
    active = models.BooleanField(default=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        if not isinstance(self.kinds, list) or any(k not in EventKind.values for k in self.kinds):
            raise ValidationError(
                {"kinds": f"A list of event kinds, each one of {', '.join(EventKind.values)}."}
            )
        if len(self.secret) < 16:
            raise ValidationError({"secret": "At least 16 characters."})

    def wants(self, kind: str) -> bool:
        return self.active and (not self.kinds or kind in self.kinds)


class WebhookDelivery(models.Model):
    """One attempt to deliver one event to one webhook; failed attempts are retried with
    backoff, each recorded."""

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="deliveries")
    attempt = models.PositiveSmallIntegerField()
    succeeded = models.BooleanField(default=False)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True)  # the start of it
    error = models.TextField(blank=True)
    duration_s = models.FloatField(null=True, blank=True)
    attempted_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name_plural = "webhook deliveries"
        ordering = ["-attempted_at", "-id"]

    def __str__(self) -> str:
        outcome = "ok" if self.succeeded else (self.error or f"HTTP {self.response_status}")
        return f"{self.webhook} event {self.event_id} attempt {self.attempt}: {outcome}"
