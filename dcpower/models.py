"""Who may do what where: a role (a group of permissions, docs/security.md) granted to a user
for some sites, or for all of them."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models
from django.db.models.functions import Now


class RoleGrant(models.Model):
    """``user`` holds ``role``'s permissions at ``sites`` (none listed: at every site)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="role_grants"
    )
    role = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="grants")
    sites = models.ManyToManyField(
        "inventory.Site",
        blank=True,
        related_name="role_grants",
        help_text="Where the role applies; none: every site.",
    )
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "role"], name="rolegrant_unique_user_role")
        ]

    def __str__(self) -> str:
        return f"{self.user} as {self.role}"


class ApiToken(models.Model):
    """A credential for scripts: shown once at creation, stored only as a SHA-256 hash (the
    secret is 32 random bytes: nothing to brute-force, so no slow hash is needed)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100, help_text="What uses it, e.g. 'netbox-sync'.")
    # The token's public part: finds the row; the rest is only ever compared by hash.
    prefix = models.CharField(max_length=12, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, editable=False)
    created = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Empty: never.")
    read_only = models.BooleanField(default=False, help_text="Only GET, HEAD and OPTIONS.")
    allowed_networks = models.JSONField(
        default=list,
        blank=True,
        help_text='Client networks it is accepted from, e.g. ["10.0.0.0/8"]; empty: any.',
    )
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    def clean(self) -> None:
        import ipaddress

        from django.core.exceptions import ValidationError

        if not isinstance(self.allowed_networks, list):
            raise ValidationError({"allowed_networks": "A list of networks, e.g. 10.0.0.0/8."})
        for network in self.allowed_networks:
            try:
                ipaddress.ip_network(str(network), strict=False)
            except ValueError:
                raise ValidationError(
                    {"allowed_networks": f"{network!r} is not a network (e.g. 10.0.0.0/8)."}
                ) from None


class AuditEntry(models.Model):
    """One change to the inventory: who, when, from which request, and the values before and
    after (secrets masked). Written by dcpower/audit.py; never edited."""

    class Action(models.TextChoices):
        CREATE = "create", "Created"
        UPDATE = "update", "Changed"
        DELETE = "delete", "Deleted"

    created = models.DateTimeField(auto_now_add=True, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    username = models.CharField(max_length=150, blank=True)  # kept if the user is deleted
    request_id = models.CharField(max_length=100, blank=True, db_index=True)
    action = models.CharField(max_length=6, choices=Action.choices)
    model = models.CharField(max_length=60, db_index=True)  # "inventory.rack"
    object_id = models.CharField(max_length=40, db_index=True)
    object_repr = models.CharField(max_length=200)
    site_id = models.IntegerField(null=True, blank=True, db_index=True)
    changes = models.JSONField(default=dict)  # {field: [before, after]}

    class Meta:
        ordering = ["-created", "-id"]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.username or 'system'} {self.action} {self.model} {self.object_repr}"


class WorkerHeartbeatQuerySet(models.QuerySet):
    def live(self) -> WorkerHeartbeatQuerySet:
        """Workers heard from within 3 heartbeats, by the database's clock (the one that wrote
        ``last_seen``, so clock skew between hosts does not matter)."""
        window = timedelta(seconds=WorkerHeartbeat.MISSED_BEATS * settings.WORKER_HEARTBEAT_S)
        return self.filter(last_seen__gte=Now() - window)


class WorkerHeartbeat(models.Model):
    """A Celery worker that is, or recently was, consuming: its main process writes this row
    when its consumer starts and every WORKER_HEARTBEAT_S seconds, and deletes it when the
    consumer stops (dcpower/heartbeat.py). /readyz counts the live ones
    (docs/adr/0015-readiness-from-worker-heartbeats.md)."""

    # A worker is live while its last beat is younger than this many intervals.
    MISSED_BEATS = 3

    hostname = models.CharField(max_length=255, unique=True, help_text="Celery's node name.")
    queues = models.JSONField(default=list, help_text="The queues it consumes.")
    pid = models.PositiveIntegerField("process id", help_text="Of its main process.")
    started_at = models.DateTimeField(help_text="When its consumer started.")
    last_seen = models.DateTimeField(db_index=True)

    objects = WorkerHeartbeatQuerySet.as_manager()

    class Meta:
        ordering = ["hostname"]

    def __str__(self) -> str:
        return self.hostname
