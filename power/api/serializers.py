"""Serializers for power commands: the request (validated, then handed to the service) and the
command with its per-outlet results."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from dcpower.api.fields import BriefObjectField
from inventory.choices import OutletState
from power.choices import CommandAction, CommandStatus, OutletOutcome, OutletStep

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


# The command and its results are read far more often than written (a waiting request reads
# one back to answer): plain serializers with declared fields, so DRF does not rebuild the
# fields from the model for every answer, and the blast radius, stored as JSON in the shape of
# BlastRadiusSerializer, passes through as it is.


class PowerCommandOutletSerializer(serializers.Serializer):
    outlet = BriefObjectField(view_name=f"{V}outlet-detail", extra=("number",))
    outcome = serializers.ChoiceField(choices=OutletOutcome.choices, read_only=True)
    step = serializers.ChoiceField(choices=OutletStep.choices, read_only=True)
    state_before = serializers.ChoiceField(
        choices=OutletState.choices, read_only=True, allow_blank=True
    )
    state_after = serializers.ChoiceField(
        choices=OutletState.choices, read_only=True, allow_blank=True
    )
    attempts = serializers.IntegerField(read_only=True)
    error = serializers.CharField(read_only=True)
    started_at = serializers.DateTimeField(read_only=True, allow_null=True)
    finished_at = serializers.DateTimeField(read_only=True, allow_null=True)


@extend_schema_field(BlastRadiusSerializer)
class StoredBlastRadiusField(serializers.JSONField):
    """The blast radius as judged when the command was accepted (a dict in the shape of
    BlastRadiusSerializer, written by power.services.radius_summary)."""

    def __init__(self, **kwargs):
        super().__init__(read_only=True, **kwargs)


class PowerCommandSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    url = serializers.HyperlinkedIdentityField(view_name=f"{V}powercommand-detail")
    action = serializers.ChoiceField(choices=CommandAction.choices, read_only=True)
    status = serializers.ChoiceField(choices=CommandStatus.choices, read_only=True)
    site = BriefObjectField(view_name=f"{V}site-detail")
    requested_by = serializers.CharField(source="requested_by.username", read_only=True)
    reason = serializers.CharField(read_only=True)
    ticket = serializers.CharField(read_only=True)
    force = serializers.BooleanField(read_only=True)
    idempotency_key = serializers.CharField(read_only=True, allow_null=True)
    targets = serializers.JSONField(read_only=True)
    not_before = serializers.DateTimeField(read_only=True, allow_null=True)
    created = serializers.DateTimeField(read_only=True)
    started_at = serializers.DateTimeField(read_only=True, allow_null=True)
    finished_at = serializers.DateTimeField(read_only=True, allow_null=True)
    error = serializers.CharField(read_only=True)
    request_id = serializers.CharField(
        read_only=True, help_text="The X-Request-ID of the request that asked for it."
    )
    blast_radius = StoredBlastRadiusField()
    results = PowerCommandOutletSerializer(many=True, read_only=True)
