"""Telemetry in the API: a PDU's and a rack's latest state (nested into the inventory's PDU
and rack resources), a rack's power summary, and events."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.reverse import reverse

from dcpower.api.fields import BriefObjectField, NullableNestedField
from dcpower.api.serializers import ModelCleanSerializer
from inventory.choices import FeedSide, HostStatus, OutletState, PduMounting
from inventory.choices import RackStatus as InventoryRackStatus
from telemetry.choices import EventKind, ReadingsState, SlotKind
from telemetry.models import PduStatus, RackStatus, Webhook

V = "api-v1:"


class PhaseSerializer(serializers.Serializer):
    phase = serializers.IntegerField()
    voltage_v = serializers.FloatField(allow_null=True)
    current_a = serializers.FloatField(allow_null=True)
    power_w = serializers.FloatField(allow_null=True)


class PduStatusSerializer(serializers.Serializer):
    """What the last poll of a PDU found. Before its first poll: ``up`` null, no readings."""

    def get_attribute(self, instance):
        return super().get_attribute(instance) or PduStatus()  # never polled: all unknown

    up = serializers.BooleanField(allow_null=True)
    down_since = serializers.DateTimeField(allow_null=True)
    last_poll_at = serializers.DateTimeField(allow_null=True)
    last_success_at = serializers.DateTimeField(allow_null=True)
    last_error = serializers.CharField()
    last_error_at = serializers.DateTimeField(allow_null=True)
    poll_duration_s = serializers.FloatField(allow_null=True)
    voltage_v = serializers.FloatField(allow_null=True)
    current_a = serializers.FloatField(allow_null=True)
    power_w = serializers.FloatField(allow_null=True)
    energy_kwh = serializers.FloatField(allow_null=True)
    phases = PhaseSerializer(many=True)
    readings_at = serializers.DateTimeField(allow_null=True)


class RackStatusSerializer(serializers.Serializer):
    """The rack's measured power at the last poll of its PDUs. Before any: ``power_w`` and
    ``updated_at`` null (see GET /api/v1/racks/{id}/power/ for the live summary)."""

    def get_attribute(self, instance):
        return super().get_attribute(instance) or RackStatus()

    power_w = serializers.FloatField(allow_null=True)
    capacity_w = serializers.IntegerField()
    over_budget = serializers.BooleanField()
    failover_overload = serializers.BooleanField(
        help_text="Losing one side would overload what is left."
    )
    updated_at = serializers.DateTimeField(allow_null=True)


class FeedMeasureSerializer(serializers.Serializer):
    feed = BriefObjectField(view_name=f"{V}powerfeed-detail")
    capacity_w = serializers.IntegerField()
    power_w = serializers.FloatField(allow_null=True)
    overloaded = serializers.BooleanField()


class SideMeasureSerializer(serializers.Serializer):
    side = serializers.CharField()
    capacity_w = serializers.IntegerField()
    power_w = serializers.FloatField(allow_null=True)
    feeds = FeedMeasureSerializer(many=True)


class PduMeasureSerializer(serializers.Serializer):
    pdu = BriefObjectField(view_name=f"{V}pdu-detail")
    up = serializers.BooleanField(allow_null=True)
    power_w = serializers.FloatField(allow_null=True)
    readings_at = serializers.DateTimeField(allow_null=True)


class RackPowerSummarySerializer(serializers.Serializer):
    """GET /api/v1/racks/{id}/power/: measured power against the redundant capacity."""

    rack = BriefObjectField(view_name=f"{V}rack-detail")
    redundant = serializers.BooleanField(source="budget.redundant")
    capacity_w = serializers.IntegerField(
        help_text="What the rack may draw and survive the loss of one side (watts)."
    )
    allocated_draw_w = serializers.IntegerField(
        source="budget.allocated_draw_w", help_text="Planned draw of its hosts (inventory)."
    )
    power_w = serializers.FloatField(
        allow_null=True, help_text="Measured: the sum of its PDUs' latest readings (watts)."
    )
    utilization_percent = serializers.FloatField(allow_null=True)
    over_budget = serializers.BooleanField()
    failover_overload = serializers.BooleanField(
        help_text="Losing one side would overload what is left."
    )
    readings_at = serializers.DateTimeField(allow_null=True, help_text="The oldest reading summed.")
    sides = SideMeasureSerializer(many=True)
    pdus = PduMeasureSerializer(many=True)


class EventSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.HyperlinkedIdentityField(view_name=f"{V}event-detail")
    kind = serializers.ChoiceField(choices=EventKind.choices)
    site = BriefObjectField(view_name=f"{V}site-detail", allow_null=True)
    rack = BriefObjectField(view_name=f"{V}rack-detail", allow_null=True)
    pdu = BriefObjectField(view_name=f"{V}pdu-detail", allow_null=True)
    outlet = BriefObjectField(view_name=f"{V}outlet-detail", extra=("number",), allow_null=True)
    command = BriefObjectField(view_name=f"{V}powercommand-detail", allow_null=True)
    message = serializers.CharField()
    data = serializers.JSONField()
    created = serializers.DateTimeField()


class WebhookSerializer(ModelCleanSerializer):
    url = serializers.HyperlinkedIdentityField(view_name=f"{V}webhook-detail")
    kinds = serializers.ListField(
        child=serializers.ChoiceField(choices=EventKind.choices),
        required=False,
        help_text="Event kinds to deliver; empty: every kind.",
    )

    class Meta:
        model = Webhook
        fields = ["id", "url", "name", "endpoint", "secret", "kinds", "active", "created"]
        extra_kwargs = {"secret": {"write_only": True, "style": {"input_type": "password"}}}


class WebhookDeliverySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    webhook = BriefObjectField(view_name=f"{V}webhook-detail")
    event = BriefObjectField(view_name=f"{V}event-detail")
    attempt = serializers.IntegerField()
    succeeded = serializers.BooleanField()
    response_status = serializers.IntegerField(allow_null=True)
    response_body = serializers.CharField()
    error = serializers.CharField()
    duration_s = serializers.FloatField(allow_null=True)
    attempted_at = serializers.DateTimeField()


# --- Rack elevation (telemetry/elevation.py) ------------------------------------------------


@extend_schema_field(OpenApiTypes.URI)
class ResourceUrlField(serializers.Field):
    """The API URL of the object whose id the attribute holds (the elevation's dataclasses
    carry ids, not model instances)."""

    def __init__(self, *, view_name: str, **kwargs):
        self.view_name = view_name
        kwargs["read_only"] = True
        super().__init__(**kwargs)

    def to_representation(self, value):
        return reverse(self.view_name, kwargs={"pk": value}, request=self.context.get("request"))


class ElevationHostRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    url = ResourceUrlField(view_name=f"{V}host-detail", source="id")
    name = serializers.CharField()


class ElevationPduRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    url = ResourceUrlField(view_name=f"{V}pdu-detail", source="id")
    name = serializers.CharField()


class ElevationSupplyOutletSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    url = ResourceUrlField(view_name=f"{V}outlet-detail", source="id")
    name = serializers.CharField(help_text='"PDU:number".')
    pdu_id = serializers.IntegerField()
    pdu_name = serializers.CharField()
    number = serializers.IntegerField()
    state = serializers.ChoiceField(choices=OutletState.choices)
    current_a = serializers.FloatField(allow_null=True, help_text="Null: never read.")
    power_w = serializers.FloatField(allow_null=True, help_text="Null: never read.")
    locked = serializers.BooleanField()


class ElevationSupplySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    max_draw_w = serializers.IntegerField()
    allocated_draw_w = serializers.IntegerField()
    outlet = NullableNestedField(ElevationSupplyOutletSerializer, help_text="Null: not plugged in.")


class ElevationHostSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    url = ResourceUrlField(view_name=f"{V}host-detail", source="id")
    name = serializers.CharField()
    role = serializers.CharField()
    status = serializers.ChoiceField(choices=HostStatus.choices)
    protected = serializers.BooleanField()
    position_u = serializers.IntegerField(allow_null=True, help_text="The lowest unit.")
    u_height = serializers.IntegerField()
    top_u = serializers.IntegerField(allow_null=True, help_text="The highest unit.")
    supplies = ElevationSupplySerializer(many=True)


class ElevationOutletSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    url = ResourceUrlField(view_name=f"{V}outlet-detail", source="id")
    number = serializers.IntegerField()
    name = serializers.CharField(help_text='"PDU:number".')
    label = serializers.CharField()
    state = serializers.ChoiceField(choices=OutletState.choices)
    current_a = serializers.FloatField(allow_null=True, help_text="Null: never read.")
    power_w = serializers.FloatField(allow_null=True, help_text="Null: never read.")
    locked = serializers.BooleanField()
    power_supply = serializers.CharField(allow_null=True)
    host = NullableNestedField(ElevationHostRefSerializer, help_text="Null: nothing plugged in.")


class ElevationPduSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    url = ResourceUrlField(view_name=f"{V}pdu-detail", source="id")
    name = serializers.CharField()
    side = serializers.ChoiceField(choices=FeedSide.choices, allow_null=True)
    mounting = serializers.ChoiceField(choices=PduMounting.choices)
    position_u = serializers.IntegerField(allow_null=True)
    u_height = serializers.IntegerField()
    up = serializers.BooleanField(allow_null=True, help_text="Null: never polled.")
    power_w = serializers.FloatField(allow_null=True, help_text="Null: never read.")
    readings_at = serializers.DateTimeField(allow_null=True)
    readings = serializers.ChoiceField(choices=ReadingsState.choices)
    outlets = ElevationOutletSerializer(many=True)


class ElevationSideSerializer(serializers.Serializer):
    side = serializers.ChoiceField(
        choices=FeedSide.choices, allow_null=True, help_text="Null: PDUs on no feed."
    )
    pdus = ElevationPduSerializer(many=True)


class ElevationSlotSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=SlotKind.choices)
    top_u = serializers.IntegerField()
    position_u = serializers.IntegerField(help_text="The lowest unit of the span.")
    u_height = serializers.IntegerField()
    host = NullableNestedField(ElevationHostSerializer)
    pdu = NullableNestedField(ElevationPduRefSerializer, help_text="A PDU mounted in rack units.")


class ElevationPowerSerializer(serializers.Serializer):
    measured_w = serializers.FloatField(
        allow_null=True, help_text="Sum of the PDUs' latest readings; null: nothing read."
    )
    allocated_w = serializers.IntegerField(help_text="Planned draw of its hosts (inventory).")
    capacity_w = serializers.IntegerField(
        help_text="What the rack may draw and survive the loss of one side (watts)."
    )
    redundant = serializers.BooleanField()
    utilization_percent = serializers.FloatField(allow_null=True, help_text="Measured/capacity.")
    allocated_percent = serializers.FloatField(allow_null=True, help_text="Allocated/capacity.")
    over_budget = serializers.BooleanField()
    failover_overload = serializers.BooleanField(
        help_text="Losing one side would overload what is left."
    )
    readings_at = serializers.DateTimeField(allow_null=True, help_text="The oldest reading summed.")
    readings = serializers.ChoiceField(
        choices=ReadingsState.choices,
        help_text="fresh; stale (a PDU down, late or never read); missing (nothing read).",
    )


class ElevationSiteRefSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="site_id")
    url = ResourceUrlField(view_name=f"{V}site-detail", source="site_id")
    name = serializers.CharField(source="site_name")


class ElevationRackSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    url = ResourceUrlField(view_name=f"{V}rack-detail", source="id")
    name = serializers.CharField()
    site = ElevationSiteRefSerializer(source="*")
    u_height = serializers.IntegerField()
    status = serializers.ChoiceField(choices=InventoryRackStatus.choices)


class RackElevationSerializer(serializers.Serializer):
    """GET /api/v1/racks/{id}/elevation/: the rack as it stands, units top to bottom."""

    rack = ElevationRackSerializer(source="*")
    units = ElevationSlotSerializer(
        many=True,
        source="slots",
        help_text="Top to bottom (U1 is the bottom unit): a host's or PDU's span, or one empty "
        "unit.",
    )
    empty_units = serializers.ListField(child=serializers.IntegerField())
    unplaced_hosts = ElevationHostSerializer(
        many=True, help_text="Hosts in the rack without a position in its units."
    )
    sides = ElevationSideSerializer(many=True, help_text="The PDUs by their feed's side.")
    power = ElevationPowerSerializer()
