"""Power: feeds from the building's panels, PDUs in racks, and the PDUs' outlets."""

from __future__ import annotations

import math

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from inventory.choices import (
    DEFAULT_MANAGEMENT_PORT,
    MODBUS_VENDOR_PROFILES,
    FeedPhase,
    FeedSide,
    OutletState,
    PduMounting,
    PduProtocol,
    PowerFeedStatus,
    SnmpAuthProtocol,
    SnmpKeyExtension,
    SnmpPrivProtocol,
    SnmpVersion,
    VendorProfile,
)
from inventory.fields import EncryptedCharField
from inventory.models.base import InventoryModel, lock_row_for_validation
from inventory.models.racks import RACK_MAX_UNITS

PDU_MAX_OUTLETS = 128
SNMP_V3_MIN_KEY_LENGTH = 8  # RFC 3414: pass phrases shorter than 8 octets are refused


def feed_available_power_w(
    *, voltage: int, amperage: int, phase: str, derating_percent: int
) -> int:
    """Usable power of a feed in watts: V x A x derating, x sqrt(3) for three phase.

    For three phase the voltage is the line-to-line voltage (e.g. 400 V in Europe, 208 V in North
    America), as electricians label a three-phase circuit.
    """
    watts = voltage * amperage * derating_percent / 100
    if phase == FeedPhase.THREE:
        watts *= math.sqrt(3)
    return round(watts)


class PowerFeed(InventoryModel):
    site = models.ForeignKey("inventory.Site", on_delete=models.PROTECT, related_name="power_feeds")
    rack = models.ForeignKey(
        "inventory.Rack",
        on_delete=models.PROTECT,
        related_name="power_feeds",
        null=True,
        blank=True,
        help_text="The rack this feed is delivered to.",
    )
    name = models.CharField(max_length=100)
    status = models.CharField(
        max_length=20, choices=PowerFeedStatus.choices, default=PowerFeedStatus.ACTIVE
    )
    side = models.CharField(max_length=1, choices=FeedSide.choices)
    voltage = models.PositiveSmallIntegerField(
        help_text="Volts; line-to-line for three phase.",
        validators=[MinValueValidator(1), MaxValueValidator(1000)],
    )
    amperage = models.PositiveSmallIntegerField(
        help_text="Breaker rating in amperes.",
        validators=[MinValueValidator(1), MaxValueValidator(1000)],
    )
    phase = models.CharField(max_length=10, choices=FeedPhase.choices, default=FeedPhase.SINGLE)
    derating_percent = models.PositiveSmallIntegerField(
        default=80,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text="Share of the breaker rating that may be drawn continuously (80 % by code).",
    )
    available_power_w = models.PositiveIntegerField(
        editable=False, default=0, help_text="V x A x derating (x sqrt(3) for three phase), watts."
    )
    description = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["site__name", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["site", "name"],
                name="powerfeed_unique_name_per_site",
                violation_error_message="A power feed with this name already exists at this site.",
            ),
            models.CheckConstraint(
                condition=Q(derating_percent__gte=1, derating_percent__lte=100),
                name="powerfeed_derating_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        super().clean()
        if self.rack_id and self.site_id and self.rack.site_id != self.site_id:
            raise ValidationError(
                {"rack": f"Rack {self.rack.name!r} is not at site {self.site.name!r}."}
            )
        if self.pk is None:
            return
        # The PDUs on this feed must stay where a feed of this site and rack can reach them.
        pdus = self.pdus.select_related("rack")
        stranded = [p for p in pdus if p.rack.site_id != self.site_id]
        if stranded:
            raise ValidationError(
                {"site": f"PDU {stranded[0].name!r} on this feed is at another site."}
            )
        if self.rack_id is not None:
            elsewhere = [p for p in pdus if p.rack_id != self.rack_id]
            if elsewhere:
                raise ValidationError(
                    {
                        "rack": (
                            f"PDU {elsewhere[0].name!r} on this feed is in rack "
                            f"{elsewhere[0].rack.name!r}; a feed delivered to one rack cannot "
                            "power PDUs in another."
                        )
                    }
                )

    def save(self, *args, **kwargs):
        # A stored copy of a value derived from this row alone, so that lists and sums stay in
        # the database; it cannot go stale because every write of the row recomputes it.
        self.available_power_w = feed_available_power_w(
            voltage=self.voltage,
            amperage=self.amperage,
            phase=self.phase,
            derating_percent=self.derating_percent,
        )
        super().save(*args, **kwargs)


class PDU(InventoryModel):
    rack = models.ForeignKey("inventory.Rack", on_delete=models.PROTECT, related_name="pdus")
    name = models.CharField(max_length=100)
    vendor_profile = models.CharField(
        max_length=32, choices=VendorProfile.choices, default=VendorProfile.AUTO
    )
    protocol = models.CharField(
        max_length=16, choices=PduProtocol.choices, default=PduProtocol.SNMP
    )
    management_host = models.CharField(
        max_length=255, help_text="Host name or IP address of the PDU's management interface."
    )
    management_port = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(65535)],
        help_text="Empty: the protocol's port (161 for SNMP, 502 for Modbus TCP).",
    )
    # SNMP settings. The secrets are encrypted at rest; the API never returns them.
    snmp_version = models.CharField(
        max_length=4, choices=SnmpVersion.choices, default=SnmpVersion.V2C
    )
    snmp_read_community = EncryptedCharField(max_length=128, blank=True)
    snmp_write_community = EncryptedCharField(max_length=128, blank=True)
    snmp_v3_username = models.CharField(max_length=64, blank=True)
    snmp_v3_auth_protocol = models.CharField(
        max_length=8, choices=SnmpAuthProtocol.choices, default=SnmpAuthProtocol.NONE
    )
    snmp_v3_auth_key = EncryptedCharField(max_length=128, blank=True)
    snmp_v3_priv_protocol = models.CharField(
        max_length=8, choices=SnmpPrivProtocol.choices, default=SnmpPrivProtocol.NONE
    )
    snmp_v3_priv_key = EncryptedCharField(max_length=128, blank=True)
    snmp_v3_priv_key_extension = models.CharField(
        "AES-192/256 key extension",
        max_length=12,
        choices=SnmpKeyExtension.choices,
        default=SnmpKeyExtension.BLUMENTHAL,
        help_text="Only for AES-192/256: how the device extends the privacy key.",
    )
    # Modbus TCP settings.
    modbus_unit_id = models.PositiveSmallIntegerField(
        default=1, validators=[MaxValueValidator(255)], help_text="Modbus unit (device) id."
    )
    modbus_address_base = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MaxValueValidator(1)],
        help_text=(
            "0 or 1: how the device numbers its registers, when it differs from its vendor "
            "manual's numbering. Empty: the profile's own."
        ),
    )

    outlet_count = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(PDU_MAX_OUTLETS)]
    )
    feed = models.ForeignKey(
        "inventory.PowerFeed",
        on_delete=models.PROTECT,
        related_name="pdus",
        null=True,
        blank=True,
        help_text="The feed this PDU is plugged into.",
    )
    mounting = models.CharField(
        max_length=16, choices=PduMounting.choices, default=PduMounting.ZERO_U_LEFT
    )
    position_u = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(RACK_MAX_UNITS)],
        help_text="Lowest unit occupied; only for PDUs mounted in rack units.",
    )
    u_height = models.PositiveSmallIntegerField(
        "height (U)",
        default=1,
        validators=[MinValueValidator(1), MaxValueValidator(4)],
        help_text="Units occupied when mounted in rack units.",
    )
    serial = models.CharField(max_length=100, blank=True)
    asset_tag = models.CharField(max_length=100, unique=True, null=True, blank=True)
    description = models.CharField(max_length=200, blank=True)
    poll_interval_s = models.PositiveIntegerField(
        "poll interval (s)",
        null=True,
        blank=True,
        validators=[MinValueValidator(5), MaxValueValidator(86400)],
        help_text="How often telemetry polls this PDU. Empty: its site's interval.",
    )

    class Meta:
        verbose_name = "PDU"
        verbose_name_plural = "PDUs"
        ordering = ["rack__site__name", "rack__name", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["rack", "name"],
                name="pdu_unique_name_per_rack",
                violation_error_message="A PDU with this name already exists in this rack.",
            ),
            models.CheckConstraint(
                condition=Q(outlet_count__gte=1, outlet_count__lte=PDU_MAX_OUTLETS),
                name="pdu_outlet_count_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def effective_port(self) -> int:
        return self.management_port or DEFAULT_MANAGEMENT_PORT[self.protocol]

    def clean(self) -> None:
        super().clean()
        errors: dict[str, str] = {}
        self._clean_protocol(errors)
        if self.rack_id is not None:
            self._clean_feed(errors)
            self._clean_mounting(errors)
        if errors:
            raise ValidationError(errors)
        self._clean_outlet_count()

    def _clean_protocol(self, errors: dict[str, str]) -> None:
        is_modbus_profile = self.vendor_profile in MODBUS_VENDOR_PROFILES
        if is_modbus_profile and self.protocol != PduProtocol.MODBUS_TCP:
            errors["protocol"] = f"Vendor profile {self.vendor_profile!r} speaks Modbus TCP."
        elif not is_modbus_profile and self.protocol != PduProtocol.SNMP:
            errors["protocol"] = (
                f"Vendor profile {self.vendor_profile!r} speaks SNMP; "
                "Modbus TCP PDUs need a Modbus vendor profile."
            )
        if self.protocol != PduProtocol.SNMP:
            return
        if self.snmp_version in (SnmpVersion.V1, SnmpVersion.V2C):
            if not self.snmp_read_community:
                errors["snmp_read_community"] = f"SNMP {self.snmp_version} needs a read community."
            return
        if not self.snmp_v3_username:
            errors["snmp_v3_username"] = "SNMPv3 needs a user name."
        uses_auth = self.snmp_v3_auth_protocol != SnmpAuthProtocol.NONE
        uses_priv = self.snmp_v3_priv_protocol != SnmpPrivProtocol.NONE
        if uses_priv and not uses_auth:
            errors["snmp_v3_priv_protocol"] = "SNMPv3 privacy requires an authentication protocol."
        if uses_auth and len(self.snmp_v3_auth_key) < SNMP_V3_MIN_KEY_LENGTH:
            errors["snmp_v3_auth_key"] = (
                f"The authentication key must be at least {SNMP_V3_MIN_KEY_LENGTH} characters."
            )
        if uses_priv and len(self.snmp_v3_priv_key) < SNMP_V3_MIN_KEY_LENGTH:
            errors["snmp_v3_priv_key"] = (
                f"The privacy key must be at least {SNMP_V3_MIN_KEY_LENGTH} characters."
            )

    def _clean_feed(self, errors: dict[str, str]) -> None:
        if self.feed_id is None:
            return
        feed = self.feed
        if feed.site_id != self.rack.site_id:
            errors["feed"] = f"Power feed {feed.name!r} is not at this PDU's site."
        elif feed.rack_id is not None and feed.rack_id != self.rack_id:
            errors["feed"] = (
                f"Power feed {feed.name!r} is delivered to rack {feed.rack.name!r}, "
                f"not to {self.rack.name!r}."
            )

    def _clean_mounting(self, errors: dict[str, str]) -> None:
        if self.mounting != PduMounting.RACK_UNIT:
            if self.position_u is not None:
                errors["position_u"] = "Only PDUs mounted in rack units have a position."
            return
        if self.position_u is None:
            errors["position_u"] = "A PDU mounted in rack units needs a position."
            return
        try:
            self.rack.validate_placement(self, position_u=self.position_u, u_height=self.u_height)
        except ValidationError as exc:
            errors.update({field: msgs[0] for field, msgs in exc.message_dict.items()})

    def _clean_outlet_count(self) -> None:
        """Shrinking the outlet count may only drop outlets that nothing is plugged into."""
        if self.pk is None or self.outlet_count is None:
            return
        lock_row_for_validation(PDU, self.pk)
        plugged = list(
            Outlet.objects.filter(
                pdu_id=self.pk, number__gt=self.outlet_count, power_supply__isnull=False
            )
            .order_by("number")
            .values_list("number", flat=True)
        )
        if plugged:
            numbers = ", ".join(str(n) for n in plugged)
            raise ValidationError(
                {
                    "outlet_count": (
                        f"Cannot reduce to {self.outlet_count} outlets: outlet(s) {numbers} "
                        "have a power supply plugged in; unplug them first."
                    )
                }
            )


class Outlet(InventoryModel):
    pdu = models.ForeignKey(PDU, on_delete=models.CASCADE, related_name="outlets")
    number = models.PositiveSmallIntegerField(validators=[MinValueValidator(1)])
    label = models.CharField(max_length=100, blank=True)
    # A locked outlet refuses every power command (maintenance, a fragile load).
    locked = models.BooleanField(default=False)
    lock_reason = models.CharField(max_length=200, blank=True)
    # Last known state and readings: written by power commands and telemetry.
    state = models.CharField(
        max_length=10, choices=OutletState.choices, default=OutletState.UNKNOWN
    )
    state_seen_at = models.DateTimeField(null=True, blank=True)
    current_a = models.FloatField(null=True, blank=True)
    power_w = models.FloatField(null=True, blank=True)
    energy_kwh = models.FloatField(null=True, blank=True)
    readings_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["pdu_id", "number"]
        constraints = [
            models.UniqueConstraint(
                fields=["pdu", "number"],
                name="outlet_unique_number_per_pdu",
                violation_error_message="This PDU already has an outlet with this number.",
            ),
            models.CheckConstraint(condition=Q(number__gte=1), name="outlet_number_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.pdu.name}:{self.number}" if self.pdu_id else f"outlet {self.number}"

    @property
    def name(self) -> str:
        return self.label or f"Outlet {self.number}"

    @classmethod
    def from_db(cls, db, field_names, values):
        instance = super().from_db(db, field_names, values)
        instance._stored = (instance.__dict__.get("pdu_id"), instance.__dict__.get("number"))
        return instance

    def clean(self) -> None:
        super().clean()
        if self.pdu_id is None or self.number is None:
            return
        if self.locked and not self.lock_reason.strip():
            raise ValidationError({"lock_reason": "Say why the outlet is locked."})
        stored_pdu_id, stored_number = getattr(self, "_stored", (None, None))
        if not self._state.adding and stored_pdu_id != self.pdu_id:
            raise ValidationError({"pdu": "An outlet cannot move to another PDU."})
        # Only a number being set is checked: an existing outlet above a count that is being
        # reduced is removed by the PDU's outlet sync, and must not block the PDU form.
        if not self._state.adding and stored_number == self.number:
            return
        # The count read under the PDU's lock, so a concurrent reduction is seen.
        pdu = lock_row_for_validation(PDU, self.pdu_id) or self.pdu
        if self.number > pdu.outlet_count:
            raise ValidationError(
                {
                    "number": (
                        f"PDU {pdu.name!r} has {pdu.outlet_count} outlets; "
                        f"outlet numbers run from 1 to {pdu.outlet_count}."
                    )
                }
            )
