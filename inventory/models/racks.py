"""Racks: where hosts and PDUs are mounted, numbered in units (U) from 1 at the bottom."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q

from inventory.choices import PduMounting, RackStatus
from inventory.models.base import InventoryModel, lock_row_for_validation

RACK_MAX_UNITS = 60


class Rack(InventoryModel):
    site = models.ForeignKey("inventory.Site", on_delete=models.PROTECT, related_name="racks")
    name = models.CharField(max_length=100)
    room = models.CharField(max_length=100, blank=True)
    row = models.CharField(max_length=100, blank=True)
    u_height = models.PositiveSmallIntegerField(
        "height (U)",
        default=42,
        validators=[MinValueValidator(1), MaxValueValidator(RACK_MAX_UNITS)],
    )
    status = models.CharField(max_length=20, choices=RackStatus.choices, default=RackStatus.ACTIVE)
    serial = models.CharField(max_length=100, blank=True)
    asset_tag = models.CharField(max_length=100, unique=True, null=True, blank=True)
    description = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["site__name", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["site", "name"],
                name="rack_unique_name_per_site",
                violation_error_message="A rack with this name already exists at this site.",
            ),
            models.CheckConstraint(
                condition=Q(u_height__gte=1, u_height__lte=RACK_MAX_UNITS),
                name="rack_u_height_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        super().clean()
        if self.pk is None:
            return
        # Locked so that a host placed concurrently cannot slip above the new height.
        stored = lock_row_for_validation(Rack, self.pk)
        if stored is not None and stored.site_id != self.site_id:
            self._clean_site_change()
        if self.u_height is None:
            return
        tallest = self.highest_mounted_object()
        if tallest is not None and tallest.top_u > self.u_height:
            raise ValidationError(
                {
                    "u_height": (
                        f"Cannot shrink the rack to {self.u_height}U: {tallest.kind} "
                        f"{tallest.name!r} occupies U{tallest.top_u}."
                    )
                }
            )

    def _clean_site_change(self) -> None:
        """Hosts and feeds carry their own site: moving the rack would leave them behind."""
        dependants = [
            f"{qs.count()} {label}"
            for qs, label in ((self.hosts.all(), "host(s)"), (self.power_feeds.all(), "feed(s)"))
            if qs.exists()
        ]
        if self.pdus.filter(feed__isnull=False).exists():
            dependants.append("PDU(s) on site feeds")
        if dependants:
            raise ValidationError(
                {
                    "site": (
                        "Cannot move the rack to another site while it holds "
                        f"{', '.join(dependants)}; move or remove them first."
                    )
                }
            )

    # --- Occupancy ------------------------------------------------------------------------

    def mounted_objects(self):
        """Hosts and rack-unit-mounted PDUs that occupy units, each annotated with top_u."""
        from inventory.models.hosts import Host
        from inventory.models.power import PDU

        hosts = Host.objects.filter(rack_id=self.pk, position_u__isnull=False)
        pdus = PDU.objects.filter(
            rack_id=self.pk, mounting=PduMounting.RACK_UNIT, position_u__isnull=False
        )
        top = F("position_u") + F("u_height") - 1
        return hosts.annotate(top_u=top), pdus.annotate(top_u=top)

    def highest_mounted_object(self):
        hosts, pdus = self.mounted_objects()
        candidates = [qs.order_by("-top_u").first() for qs in (hosts, pdus)]
        candidates = [c for c in candidates if c is not None]
        for candidate in candidates:
            candidate.kind = candidate._meta.verbose_name
        return max(candidates, key=lambda c: c.top_u, default=None)

    def find_unit_conflict(self, *, position_u: int, u_height: int, exclude=None):
        """The first host or PDU occupying any of units position_u..position_u+u_height-1,
        other than ``exclude`` (the object being placed), or None."""
        hosts, pdus = self.mounted_objects()
        bottom, top = position_u, position_u + u_height - 1
        for qs in (hosts, pdus):
            if exclude is not None and exclude.pk is not None and qs.model is type(exclude):
                qs = qs.exclude(pk=exclude.pk)
            conflict = qs.filter(position_u__lte=top, top_u__gte=bottom).order_by("position_u")
            found = conflict.first()
            if found is not None:
                return found
        return None

    def validate_placement(self, obj, *, position_u: int, u_height: int) -> None:
        """Raise a ValidationError on ``position_u`` if obj does not fit in this rack.

        Locks the rack row first (inside a transaction), so concurrent placements are checked
        one after the other and two objects can never be committed into the same units.
        """
        # The stored height, read under the lock: a concurrent shrink has committed by now.
        stored = lock_row_for_validation(Rack, self.pk) or self
        top = position_u + u_height - 1
        if top > stored.u_height:
            raise ValidationError(
                {
                    "position_u": (
                        f"U{position_u}-U{top} does not fit in rack {stored.name!r}, "
                        f"which is {stored.u_height}U tall."
                    )
                }
            )
        conflict = self.find_unit_conflict(position_u=position_u, u_height=u_height, exclude=obj)
        if conflict is not None:
            raise ValidationError(
                {
                    "position_u": (
                        f"U{position_u}-U{top} overlaps {conflict._meta.verbose_name} "
                        f"{conflict.name!r} at U{conflict.position_u}-U{conflict.top_u}."
                    )
                }
            )
