"""Hosts (servers, switches, anything powered) and their power supplies' wiring to outlets."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q

from inventory.choices import HostStatus
from inventory.models.base import InventoryModel
from inventory.models.racks import RACK_MAX_UNITS


class Host(InventoryModel):
    site = models.ForeignKey("inventory.Site", on_delete=models.PROTECT, related_name="hosts")
    rack = models.ForeignKey(
        "inventory.Rack", on_delete=models.PROTECT, related_name="hosts", null=True, blank=True
    )
    name = models.CharField(max_length=100)
    position_u = models.PositiveSmallIntegerField(
        "position (U)",
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(RACK_MAX_UNITS)],
        help_text="Lowest unit the host occupies; empty for a host not mounted in units.",
    )
    u_height = models.PositiveSmallIntegerField(
        "height (U)",
        default=1,
        validators=[MinValueValidator(1), MaxValueValidator(RACK_MAX_UNITS)],
    )
    status = models.CharField(max_length=20, choices=HostStatus.choices, default=HostStatus.ACTIVE)
    role = models.CharField(max_length=100, blank=True, help_text="e.g. compute, storage, switch.")
    serial = models.CharField(max_length=100, blank=True)
    asset_tag = models.CharField(max_length=100, unique=True, null=True, blank=True)
    protected = models.BooleanField(
        default=False,
        help_text="Power to this host is never cut without an explicit override (force).",
    )
    description = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["site__name", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["site", "name"],
                name="host_unique_name_per_site",
                violation_error_message="A host with this name already exists at this site.",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        super().clean()
        if self.pk is not None and self.site_id is not None:
            foreign = self.power_supplies.exclude(outlet__isnull=True).exclude(
                outlet__pdu__rack__site_id=self.site_id
            )
            if foreign.exists():
                raise ValidationError(
                    {
                        "site": (
                            "The host's power supplies are plugged into outlets at another "
                            "site; unplug them first."
                        )
                    }
                )
        if self.rack_id is None:
            if self.position_u is not None:
                raise ValidationError({"position_u": "A host needs a rack to have a position."})
            return
        if self.site_id is not None and self.rack.site_id != self.site_id:
            raise ValidationError(
                {"rack": f"Rack {self.rack.name!r} is not at site {self.site.name!r}."}
            )
        if self.position_u is not None and self.u_height is not None:
            self.rack.validate_placement(self, position_u=self.position_u, u_height=self.u_height)


class PowerSupply(InventoryModel):
    host = models.ForeignKey(Host, on_delete=models.CASCADE, related_name="power_supplies")
    name = models.CharField(max_length=50, help_text="e.g. PSU1.")
    max_draw_w = models.PositiveIntegerField(
        "maximum draw (W)", validators=[MinValueValidator(1)], help_text="Nameplate maximum, watts."
    )
    allocated_draw_w = models.PositiveIntegerField(
        "allocated draw (W)",
        default=0,
        help_text="Expected draw of this supply in normal operation, watts.",
    )
    # One supply per outlet: enforced by the database (one-to-one), not only by validation.
    outlet = models.OneToOneField(
        "inventory.Outlet",
        on_delete=models.PROTECT,
        related_name="power_supply",
        null=True,
        blank=True,
    )

    class Meta:
        verbose_name_plural = "power supplies"
        ordering = ["host__name", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["host", "name"],
                name="powersupply_unique_name_per_host",
                violation_error_message="This host already has a power supply with this name.",
            ),
            models.CheckConstraint(
                condition=Q(allocated_draw_w__lte=F("max_draw_w")),
                name="powersupply_allocated_within_max",
                violation_error_message="Allocated draw cannot exceed maximum draw.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.host.name} {self.name}" if self.host_id else self.name

    def clean(self) -> None:
        super().clean()
        errors = {}
        if (
            self.allocated_draw_w is not None
            and self.max_draw_w is not None
            and self.allocated_draw_w > self.max_draw_w
        ):
            errors["allocated_draw_w"] = (
                f"Allocated draw ({self.allocated_draw_w} W) cannot exceed the maximum draw "
                f"({self.max_draw_w} W)."
            )
        # The host may be unsaved (a supply row on the host's add page) but is known.
        host = self.host if PowerSupply.host.is_cached(self) or self.host_id else None
        outlet_site_id = self.outlet.pdu.rack.site_id if self.outlet_id is not None else None
        if host is not None and outlet_site_id not in (None, host.site_id):
            errors["outlet"] = f"Outlet {self.outlet} is at another site than host {host.name!r}."
        if errors:
            raise ValidationError(errors)
