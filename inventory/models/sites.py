"""Sites: a data center or a building, the scope of names, feeds and (later) power queues."""

from django.db import models

from inventory.models.base import InventoryModel


class Site(InventoryModel):
    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True)
    description = models.CharField(max_length=200, blank=True)
    physical_address = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
