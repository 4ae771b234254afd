"""Serializers for power commands: the request (validated, then handed to the service) and the
command with its per-outlet results."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.reverse import reverse

from dcpower.api.fields import BriefObjectField, DetailUrls, brief
from inventory.choices import OutletState
from power.choices import CommandAction, CommandStatus, OutletOutcome, OutletStep
from power.completion import OUTLET_FIELDS
from power.models import PowerCommandOutlet

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


# One outlet's result: what the schema documents, and the reference that
# PowerCommandResultsSerializer, which writes an answer's results, is tested against. (A
# comment, not a docstring: drf-spectacular would publish a docstring in the schema.)
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


# What a result row is written out from: its columns, the outlet's number and its PDU's name.
# The result's own fields are those a finished command's announcement carries (ADR 0019).
RESULT_VALUES = ("command_id", "outlet_id", "outlet__number", "outlet__pdu__name", *OUTLET_FIELDS)


def power_command_results(command_ids) -> dict[int, list[dict]]:
    """The result rows of several commands (a page of the list) in one query, as values."""
    results: dict[int, list[dict]] = {pk: [] for pk in command_ids}
    rows = PowerCommandOutlet.objects.filter(command_id__in=list(results)).values(*RESULT_VALUES)
    for row in rows:
        results[row["command_id"]].append(row)
    return results


class PowerCommandResultsSerializer(serializers.ListSerializer):
    """A command's per-outlet results, written out as ``PowerCommandOutletSerializer(many=True)``
    writes them (the schema is that one's), from plain values: for a command on 1,000 outlets,
    building the rows as model instances with their outlets and PDUs, then running DRF's
    per-field machinery and a reverse() on each, was most of an answer's time.
    tests/power/test_api_results.py holds both to the same JSON.

    The rows come from the view (``context["results"]``: power_command_results, for a list),
    else from the command: the rows just written (``results_at_hand``) or one query."""

    def get_attribute(self, command):
        loaded = self.context.get("results")
        if loaded is not None and command.pk in loaded:
            return loaded[command.pk]
        return command.results

    def to_representation(self, rows):
        if isinstance(rows, QuerySet):
            rows = rows.values(*RESULT_VALUES)
        outlet_url = DetailUrls(f"{V}outlet-detail", request=self.context.get("request"))
        time = _time_writer()
        answer = []
        for row in rows:
            if isinstance(row, PowerCommandOutlet):
                row = _written_row_values(row)
            outlet_id, number = row["outlet_id"], row["outlet__number"]
            answer.append(
                {
                    "outlet": {
                        "id": outlet_id,
                        "url": outlet_url(outlet_id),
                        "name": f"{row['outlet__pdu__name']}:{number}",  # as str(outlet)
                        "number": number,
                    },
                    "outcome": row["outcome"],
                    "step": row["step"],
                    "state_before": row["state_before"],
                    "state_after": row["state_after"],
                    "attempts": row["attempts"],
                    "error": row["error"],
                    "started_at": time(row["started_at"]),
                    "finished_at": time(row["finished_at"]),
                }
            )
        return answer


def _time_writer():
    """DRF's own formatting of a time, so the format and time zone stay those of every other
    time; the zone looked up once, not for each of 2,000 times."""
    zone = serializers.DateTimeField().default_timezone()
    return serializers.DateTimeField(default_timezone=zone).to_representation


def _written_row_values(row: PowerCommandOutlet) -> dict:
    """A row this process has just written, with its outlet and PDU at hand, as values."""
    return {
        "outlet_id": row.outlet_id,
        "outlet__number": row.outlet.number,
        "outlet__pdu__name": row.outlet.pdu.name,
        "outcome": row.outcome,
        "step": row.step,
        "state_before": row.state_before,
        "state_after": row.state_after,
        "attempts": row.attempts,
        "error": row.error,
        "started_at": row.started_at,
        "finished_at": row.finished_at,
    }


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
    results = PowerCommandResultsSerializer(child=PowerCommandOutletSerializer(), read_only=True)

    def to_representation(self, command):
        # What the declared fields above write (they stay for the schema and as the
        # reference), written from the command itself: DRF copies every declared field for
        # each serializer it makes, then runs each one, several times what these lookups cost,
        # on the answer of every power command, the waiting request's among them.
        # tests/power/test_api_results.py holds both to the same JSON.
        request = self.context.get("request")
        time = _time_writer()
        results = PowerCommandResultsSerializer(
            child=PowerCommandOutletSerializer(), context=self.context
        )
        return {
            "id": command.pk,
            "url": reverse(f"{V}powercommand-detail", kwargs={"pk": command.pk}, request=request),
            "action": str(command.action),
            "status": str(command.status),
            "site": brief(command.site, view_name=f"{V}site-detail", request=request),
            "requested_by": command.requested_by.username,
            "reason": command.reason,
            "ticket": command.ticket,
            "force": command.force,
            "idempotency_key": command.idempotency_key,
            "targets": command.targets,
            "not_before": time(command.not_before),
            "created": time(command.created),
            "started_at": time(command.started_at),
            "finished_at": time(command.finished_at),
            "error": command.error,
            "request_id": command.request_id,
            "blast_radius": command.blast_radius,
            "results": results.to_representation(results.get_attribute(command)),
        }
