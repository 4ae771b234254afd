"""Serializers for the inventory API. Related objects are written as ids and read in brief
form; computed power figures are read-only. Device credentials are write-only."""

from __future__ import annotations

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from dcpower.api.fields import BriefObjectField, BriefRelatedField
from dcpower.api.serializers import ModelCleanSerializer
from inventory import selectors
from inventory.models import PDU, Host, Outlet, PowerFeed, PowerSupply, Rack, Site
from telemetry.api.serializers import PduStatusSerializer, RackStatusSerializer

V = "api-v1:"


def url_field(basename: str) -> serializers.HyperlinkedIdentityField:
    return serializers.HyperlinkedIdentityField(view_name=f"{V}{basename}-detail")


class SiteSerializer(ModelCleanSerializer):
    url = url_field("site")

    class Meta:
        model = Site
        fields = [
            "id",
            "url",
            "name",
            "slug",
            "description",
            "physical_address",
            "poll_interval_s",
            "created",
            "last_updated",
        ]


class SidePowerSerializer(serializers.Serializer):
    side = serializers.CharField()
    capacity_w = serializers.IntegerField()
    allocated_draw_w = serializers.IntegerField()
    feeds = serializers.SerializerMethodField()

    @extend_schema_field(serializers.ListField(child=serializers.DictField()))
    def get_feeds(self, side) -> list[dict]:
        field = BriefObjectField(view_name=f"{V}powerfeed-detail")
        field.bind("feeds", self)
        return [field.to_representation(feed) for feed in side.feeds]


class RackPowerSerializer(serializers.Serializer):
    redundant = serializers.BooleanField(
        help_text="Fed from both an A and a B side: the rack survives the loss of either."
    )
    capacity_w = serializers.IntegerField(
        help_text="Power the rack may draw and still survive the loss of one side (watts)."
    )
    total_feed_capacity_w = serializers.IntegerField(
        help_text="Sum of all active feeds, ignoring redundancy (watts)."
    )
    allocated_draw_w = serializers.IntegerField()
    utilization_percent = serializers.FloatField(allow_null=True)
    sides = SidePowerSerializer(many=True)


class RackSerializer(ModelCleanSerializer):
    url = url_field("rack")
    measured_power = RackStatusSerializer(source="telemetry", read_only=True)
    site = BriefRelatedField(view_name=f"{V}site-detail", queryset=Site.objects.all())
    power = serializers.SerializerMethodField()

    class Meta:
        model = Rack
        fields = [
            "id",
            "url",
            "site",
            "name",
            "room",
            "row",
            "u_height",
            "status",
            "serial",
            "asset_tag",
            "description",
            "power",
            "measured_power",
            "created",
            "last_updated",
        ]

    @extend_schema_field(RackPowerSerializer)
    def get_power(self, rack):
        return RackPowerSerializer(selectors.rack_power(rack), context=self.context).data


class PowerFeedSerializer(ModelCleanSerializer):
    url = url_field("powerfeed")
    site = BriefRelatedField(view_name=f"{V}site-detail", queryset=Site.objects.all())
    rack = BriefRelatedField(
        view_name=f"{V}rack-detail", queryset=Rack.objects.all(), allow_null=True, required=False
    )

    class Meta:
        model = PowerFeed
        fields = [
            "id",
            "url",
            "site",
            "rack",
            "name",
            "status",
            "side",
            "voltage",
            "amperage",
            "phase",
            "derating_percent",
            "available_power_w",
            "description",
            "created",
            "last_updated",
        ]
        read_only_fields = ["available_power_w"]


SECRET = {"write_only": True, "required": False, "style": {"input_type": "password"}}


class PDUSerializer(ModelCleanSerializer):
    url = url_field("pdu")
    telemetry = PduStatusSerializer(read_only=True)
    site = BriefObjectField(view_name=f"{V}site-detail", source="rack.site")
    rack = BriefRelatedField(view_name=f"{V}rack-detail", queryset=Rack.objects.all())
    feed = BriefRelatedField(
        view_name=f"{V}powerfeed-detail",
        queryset=PowerFeed.objects.all(),
        allow_null=True,
        required=False,
    )
    effective_port = serializers.IntegerField(read_only=True)

    class Meta:
        model = PDU
        fields = [
            "id",
            "url",
            "site",
            "rack",
            "name",
            "vendor_profile",
            "protocol",
            "management_host",
            "management_port",
            "effective_port",
            "snmp_version",
            "snmp_read_community",
            "snmp_write_community",
            "snmp_v3_username",
            "snmp_v3_auth_protocol",
            "snmp_v3_auth_key",
            "snmp_v3_priv_protocol",
            "snmp_v3_priv_key",
            "snmp_v3_priv_key_extension",
            "modbus_unit_id",
            "modbus_address_base",
            "outlet_count",
            "feed",
            "mounting",
            "position_u",
            "u_height",
            "serial",
            "asset_tag",
            "description",
            "poll_interval_s",
            "telemetry",
            "created",
            "last_updated",
        ]
        extra_kwargs = {
            "snmp_read_community": SECRET,
            "snmp_write_community": SECRET,
            "snmp_v3_auth_key": SECRET,
            "snmp_v3_priv_key": SECRET,
        }


class OutletSerializer(ModelCleanSerializer):
    url = url_field("outlet")
    pdu = BriefRelatedField(view_name=f"{V}pdu-detail", queryset=PDU.objects.all())
    power_supply = BriefObjectField(view_name=f"{V}powersupply-detail", allow_null=True)
    host = BriefObjectField(
        view_name=f"{V}host-detail", source="power_supply.host", allow_null=True
    )

    class Meta:
        model = Outlet
        fields = [
            "id",
            "url",
            "pdu",
            "number",
            "label",
            "locked",
            "lock_reason",
            "state",
            "state_seen_at",
            "current_a",
            "power_w",
            "energy_kwh",
            "readings_at",
            "power_supply",
            "host",
            "created",
            "last_updated",
        ]
        read_only_fields = [
            "state",
            "state_seen_at",
            "current_a",
            "power_w",
            "energy_kwh",
            "readings_at",
        ]


class HostPowerSupplyBriefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.HyperlinkedIdentityField(view_name=f"{V}powersupply-detail")
    name = serializers.CharField()
    outlet = BriefObjectField(view_name=f"{V}outlet-detail", extra=("number",), allow_null=True)
    allocated_draw_w = serializers.IntegerField()


class HostSerializer(ModelCleanSerializer):
    url = url_field("host")
    site = BriefRelatedField(view_name=f"{V}site-detail", queryset=Site.objects.all())
    rack = BriefRelatedField(
        view_name=f"{V}rack-detail", queryset=Rack.objects.all(), allow_null=True, required=False
    )
    power_supplies = HostPowerSupplyBriefSerializer(many=True, read_only=True)
    redundant_power = serializers.SerializerMethodField(
        help_text="Supplies are plugged into PDUs on at least two different feeds."
    )
    allocated_draw_w = serializers.SerializerMethodField()

    class Meta:
        model = Host
        fields = [
            "id",
            "url",
            "site",
            "rack",
            "name",
            "position_u",
            "u_height",
            "status",
            "role",
            "serial",
            "asset_tag",
            "protected",
            "description",
            "power_supplies",
            "redundant_power",
            "allocated_draw_w",
            "created",
            "last_updated",
        ]

    def get_redundant_power(self, host) -> bool:
        return selectors.host_is_redundantly_powered(host)

    def get_allocated_draw_w(self, host) -> int:
        return selectors.host_allocated_draw_w(host)


class PowerSupplySerializer(ModelCleanSerializer):
    url = url_field("powersupply")
    host = BriefRelatedField(view_name=f"{V}host-detail", queryset=Host.objects.all())
    outlet = BriefRelatedField(
        view_name=f"{V}outlet-detail",
        queryset=Outlet.objects.all(),
        allow_null=True,
        required=False,
        extra=("number",),
    )
    pdu = BriefObjectField(view_name=f"{V}pdu-detail", source="outlet.pdu", allow_null=True)

    class Meta:
        model = PowerSupply
        fields = [
            "id",
            "url",
            "host",
            "name",
            "max_draw_w",
            "allocated_draw_w",
            "outlet",
            "pdu",
            "created",
            "last_updated",
        ]


# --- CSV import and export (inventory/csv_io.py): answers only, the request body is the file --


class CsvColumnSerializer(serializers.Serializer):
    name = serializers.CharField()
    required = serializers.BooleanField(help_text="Must be in the file's header.")
    help = serializers.CharField()
    write_only = serializers.BooleanField(
        source="secret", help_text="A credential: imported when given, never exported."
    )


class CsvKindSerializer(serializers.Serializer):
    name = serializers.CharField()
    url = serializers.SerializerMethodField(help_text="Export (GET) and import (POST) here.")
    creates = serializers.BooleanField(
        help_text="False: a row only updates the object it names (outlets follow their PDU)."
    )
    key_columns = serializers.ListField(
        child=serializers.CharField(), help_text="The natural key: a row creates or updates it."
    )
    columns = CsvColumnSerializer(many=True)

    @extend_schema_field(serializers.URLField())
    def get_url(self, kind) -> str:
        path = reverse(f"{V}csv-kind", kwargs={"kind": kind.name})
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path


class CsvFormatSerializer(serializers.Serializer):
    max_file_bytes = serializers.IntegerField()
    max_rows = serializers.IntegerField()
    kinds = CsvKindSerializer(many=True, help_text="In the order they are imported.")


class CsvRowErrorSerializer(serializers.Serializer):
    kind = serializers.CharField()
    row = serializers.IntegerField(help_text="As a spreadsheet numbers it: the header is row 1.")
    column = serializers.CharField(help_text="Empty for the row as a whole.")
    message = serializers.CharField()


class CsvCountsSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()


def _row_errors(row) -> list[dict]:
    return [
        {"kind": row.kind, "row": row.number, "column": e.column, "message": e.message}
        for e in row.errors
    ]


class CsvRowResultSerializer(serializers.Serializer):
    kind = serializers.CharField()
    row = serializers.IntegerField(source="number")
    action = serializers.ChoiceField(
        choices=["created", "updated", "unchanged"],
        allow_null=True,
        help_text="Null when the row has an error that stops it being told.",
    )
    key = serializers.DictField(
        child=serializers.CharField(), help_text="The row's key columns and their values."
    )
    errors = serializers.SerializerMethodField()

    @extend_schema_field(CsvRowErrorSerializer(many=True))
    def get_errors(self, row) -> list[dict]:
        return _row_errors(row)


class CsvImportResultSerializer(serializers.Serializer):
    """What an import did, or with ``dry_run`` would do; with errors, nothing was written."""

    detail = serializers.SerializerMethodField()
    committed = serializers.BooleanField(help_text="True: written. False: nothing written.")
    dry_run = serializers.SerializerMethodField()
    counts = CsvCountsSerializer(help_text="The rows' actions (written or, if not, previewed).")
    rows = CsvRowResultSerializer(many=True)
    errors = serializers.SerializerMethodField(help_text="Every row's errors, in one list.")

    def get_detail(self, result) -> str:
        if not result.ok:
            failed = sum(1 for row in result.rows if row.errors)
            return f"{result.error_count} error(s) in {failed} row(s): nothing was written."
        if result.committed:
            return f"Imported {result.summary()}."
        return f"Dry run, nothing written: {result.summary()}."

    def get_dry_run(self, result) -> bool:
        return self.context["dry_run"]

    @extend_schema_field(CsvRowErrorSerializer(many=True))
    def get_errors(self, result) -> list[dict]:
        return [error for row in result.rows for error in _row_errors(row)]
