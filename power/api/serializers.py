"""Serializers for power commands: the request (validated, then handed to the service) and the
command with its per-outlet results."""

from __future__ import annotations

from rest_framework import serializers

from dcpower.api.fields import BriefObjectField
from power.choices import CommandAction
from power.models import PowerCommand, PowerCommandOutlet

V = "api-v1:"


class PowerRequestSerializer(serializers.Serializer):
    """What POST /api/v1/power/commands/ accepts. Unknown fields are refused."""

    action = serializers.ChoiceField(choices=CommandAction.choices)
    outlets = serializers.ListField(
        child=serializers.IntegerField(min_value=1), required=False, default=list, max_length=5000
    )
    hosts = serializers.ListField(
        child=serializers.IntegerField(min_value=1), required=False, default=list, max_length=1000
    )
    racks = serializers.ListField(
        child=serializers.IntegerField(min_value=1), required=False, default=list, max_length=100
    )
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)
    ticket = serializers.CharField(required=False, allow_blank=True, default="", max_length=100)
    force = serializers.BooleanField(required=False, default=False)
    dry_run = serializers.BooleanField(required=False, default=False)
    not_before = serializers.DateTimeField(required=False, allow_null=True, default=None)

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return super().to_internal_value(data)


class ShortcutRequestSerializer(PowerRequestSerializer):
    """The same, for /hosts/{id}/power/{action}/ and friends: the target and action come from
    the URL."""

    action = None
    outlets = None
    hosts = None
    racks = None


class BriefHostSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class BriefOutletSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    pdu = serializers.CharField()
    number = serializers.IntegerField()


class BlastRadiusSerializer(serializers.Serializer):
    outlets = BriefOutletSerializer(many=True)
    pdus = BriefHostSerializer(many=True)
    hosts_losing_all_power = BriefHostSerializer(many=True)
    hosts_losing_redundancy = BriefHostSerializer(many=True)
    protected_hosts_affected = BriefHostSerializer(many=True)
    active_hosts_affected = BriefHostSerializer(many=True)
    hosts_powered_on = BriefHostSerializer(many=True)
    locked_outlets = BriefOutletSerializer(many=True)


class PowerCommandOutletSerializer(serializers.ModelSerializer):
    outlet = BriefObjectField(view_name=f"{V}outlet-detail", extra=("number",))

    class Meta:
        model = PowerCommandOutlet
        fields = [
            "outlet",
            "outcome",
            "step",
            "state_before",
            "state_after",
            "attempts",
            "error",
            "started_at",
            "finished_at",
        ]


class PowerCommandSerializer(serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name=f"{V}powercommand-detail")
    site = BriefObjectField(view_name=f"{V}site-detail")
    requested_by = serializers.CharField(source="requested_by.username")
    blast_radius = BlastRadiusSerializer()
    results = PowerCommandOutletSerializer(many=True)

    class Meta:
        model = PowerCommand
        fields = [
            "id",
            "url",
            "action",
            "status",
            "site",
            "requested_by",
            "reason",
            "ticket",
            "force",
            "idempotency_key",
            "targets",
            "not_before",
            "created",
            "started_at",
            "finished_at",
            "error",
            "blast_radius",
            "results",
        ]
        read_only_fields = fields
