"""Telemetry in the API: a PDU's and a rack's latest state (nested into the inventory's PDU
and rack resources), a rack's power summary, and events."""

from __future__ import annotations

from rest_framework import serializers

from dcpower.api.fields import BriefObjectField
from dcpower.api.serializers import ModelCleanSerializer
from telemetry.choices import EventKind
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
