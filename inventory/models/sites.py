"""Sites: a data center or a building, the scope of names, feeds and (later) power queues."""

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from inventory.models.base import InventoryModel


class Site(InventoryModel):
    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True)
    description = models.CharField(max_length=200, blank=True)
    physical_address = models.CharField(max_length=200, blank=True)
    poll_interval_s = models.PositiveIntegerField(
        "poll interval (s)",
        null=True,
        blank=True,
        validators=[MinValueValidator(5), MaxValueValidator(86400)],
        help_text="How often telemetry polls this site's PDUs. Empty: the default "
        "(TELEMETRY_POLL_INTERVAL_S, 30 s).",
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
