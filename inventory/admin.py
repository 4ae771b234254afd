"""The technicians' admin: every inventory object, with the same validation as the API
(``Model.clean()``), useful columns, filters, search, and the rack's computed power budget."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.contrib.humanize.templatetags.humanize import naturaltime
from django.forms.models import BaseInlineFormSet
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from dcpower.admin import SiteScopedAdminMixin, SiteScopedInlineMixin
from inventory import selectors, services
from inventory.admin_csv import CsvImportExportMixin
from inventory.models import PDU, Host, Outlet, PowerFeed, PowerSupply, Rack, Site


@admin.register(Site)
class SiteAdmin(CsvImportExportMixin, SiteScopedAdminMixin, admin.ModelAdmin):
    list_display = ["name", "slug", "description"]
    search_fields = ["name", "slug", "description"]
    prepopulated_fields = {"slug": ["name"]}


class HostInlineFormSet(BaseInlineFormSet):
    """The host rows of a rack's page.

    A row has no site field: a host added here is at the rack's site. ``Host.clean()`` checks
    each row's units against the database, where the other rows of the same submission have not
    moved yet, so the rows are also checked against each other here.
    """

    def add_fields(self, form, index):
        super().add_fields(form, index)
        if form.instance.site_id is None:
            form.instance.site_id = self.instance.site_id

    def clean(self):
        super().clean()
        placed: list[tuple[str, int, int]] = []
        for form in self.forms:
            data = getattr(form, "cleaned_data", None)
            if not data or self._should_delete_form(form):
                continue
            position, height = data.get("position_u"), data.get("u_height")
            if position is None or height is None:
                continue
            top = position + height - 1
            for name, other_bottom, other_top in placed:
                if position <= other_top and top >= other_bottom:
                    form.add_error(
                        "position_u",
                        f"U{position}-U{top} overlaps host {name!r} at "
                        f"U{other_bottom}-U{other_top}.",
                    )
                    break
            else:
                placed.append((data.get("name"), position, top))


class HostInline(SiteScopedInlineMixin, admin.TabularInline):
    model = Host
    formset = HostInlineFormSet
    fields = ["name", "position_u", "u_height", "status", "role", "protected"]
    show_change_link = True
    extra = 0

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("site")


class PDUInline(SiteScopedInlineMixin, admin.TabularInline):
    model = PDU
    fields = ["name", "vendor_profile", "management_host", "outlet_count", "feed", "mounting"]
    readonly_fields = fields
    show_change_link = True
    can_delete = False
    extra = 0
    max_num = 0  # PDUs are added on their own page, where their outlets are created


def _watts(value: int | None) -> str:
    return "—" if value is None else f"{value / 1000:.1f} kW"


@admin.register(Rack)
class RackAdmin(CsvImportExportMixin, SiteScopedAdminMixin, admin.ModelAdmin):
    list_display = [
        "name",
        "site",
        "room",
        "row",
        "status",
        "u_height",
        "capacity",
        "allocated",
        "utilization",
        "measured",
        "elevation",
    ]
    list_filter = [
        "site",
        "status",
        "room",
        ("telemetry__over_budget", admin.BooleanFieldListFilter),
    ]
    search_fields = ["name", "room", "row", "serial", "asset_tag"]
    list_select_related = ["site", "telemetry"]
    readonly_fields = ["power_summary", "measured", "elevation"]
    inlines = [PDUInline, HostInline]
    fieldsets = [
        (None, {"fields": ["site", "name", "status", "u_height", "elevation"]}),
        ("Location", {"fields": ["room", "row"]}),
        ("Asset", {"fields": ["serial", "asset_tag", "description"]}),
        ("Power", {"fields": ["power_summary", "measured"]}),
    ]

    def get_inlines(self, request, obj):
        # Hosts are placed in a saved rack (their units are checked against it); PDUs are
        # added on their own page anyway.
        return self.inlines if obj is not None else []

    def get_queryset(self, request):
        return selectors.rack_power_prefetch(super().get_queryset(request))

    def _power(self, rack):
        if not hasattr(rack, "_power_summary"):
            rack._power_summary = selectors.rack_power(rack)
        return rack._power_summary

    @admin.display(description="Capacity (redundant)")
    def capacity(self, rack):
        power = self._power(rack)
        return f"{_watts(power.capacity_w)}{'' if power.redundant else ' (not redundant)'}"

    @admin.display(description="Allocated")
    def allocated(self, rack):
        return _watts(self._power(rack).allocated_draw_w)

    @admin.display(description="Utilization")
    def utilization(self, rack):
        value = self._power(rack).utilization_percent
        return "—" if value is None else f"{value:.0f} %"

    @admin.display(description="Measured now", ordering="telemetry__power_w")
    def measured(self, rack):
        status = getattr(rack, "telemetry", None)
        if status is None or status.power_w is None:
            return "—"
        flags = [
            label
            for flag, label in (
                (status.over_budget, "OVER BUDGET"),
                (status.failover_overload, "overload on failover"),
            )
            if flag
        ]
        share = f" ({100 * status.power_w / status.capacity_w:.0f} %)" if status.capacity_w else ""
        warning = f": {', '.join(flags)}" if flags else ""
        return f"{_watts(round(status.power_w))}{share}{warning}"

    @admin.display(description="Elevation")
    def elevation(self, rack):
        # The page is telemetry's (it shows readings), registered in dcpower/urls.py: this app
        # imports no other, so it links by URL name only (telemetry/views.py).
        if rack.pk is None:
            return "Drawn once the rack is saved."
        return format_html(
            '<a href="{}" class="rack-elevation-link" id="rack-elevation-link-{}" '
            'aria-label="Elevation of rack {}">Elevation</a>',
            reverse("rack-elevation", kwargs={"rack_id": rack.pk}),
            rack.pk,
            rack.name,
        )

    @admin.display(description="Power budget")
    def power_summary(self, rack):
        if rack.pk is None:
            return "Computed once the rack is saved."
        power = self._power(rack)  # the change page loads the rack through get_queryset()
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    side.side,
                    ", ".join(f.name for f in side.feeds) or "—",
                    _watts(side.capacity_w),
                    _watts(side.allocated_draw_w),
                )
                for side in power.sides
            ),
        )
        return format_html(
            "<p>Capacity surviving the loss of one side: <b>{}</b>{}; allocated draw {}; "
            "utilization {}. Sum of all feeds: {}.</p>"
            "<table><tr><th>Side</th><th>Feeds</th><th>Capacity</th><th>Allocated</th></tr>"
            "{}</table>",
            _watts(power.capacity_w),
            "" if power.redundant else " (NOT redundant: fed from one side only)",
            _watts(power.allocated_draw_w),
            self.utilization(rack),
            _watts(power.total_feed_capacity_w),
            rows,
        )


@admin.register(PowerFeed)
class PowerFeedAdmin(CsvImportExportMixin, SiteScopedAdminMixin, admin.ModelAdmin):
    list_display = [
        "name",
        "site",
        "rack",
        "side",
        "status",
        "voltage",
        "amperage",
        "phase",
        "derating_percent",
        "available_power",
    ]
    list_filter = ["site", "side", "status", "phase"]
    search_fields = ["name", "description"]
    list_select_related = ["site", "rack"]
    readonly_fields = ["available_power_w"]

    @admin.display(description="Available", ordering="available_power_w")
    def available_power(self, feed):
        return _watts(feed.available_power_w)


class OutletInline(SiteScopedInlineMixin, admin.TabularInline):
    model = Outlet
    fields = ["number", "label", "locked", "lock_reason", "state", "plugged_in"]
    readonly_fields = ["number", "state", "plugged_in"]
    can_delete = False
    extra = 0
    max_num = 0  # outlets follow the PDU's outlet count

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("pdu", "power_supply__host")

    @admin.display(description="Power supply")
    def plugged_in(self, outlet):
        supply = getattr(outlet, "power_supply", None)
        return str(supply) if supply else "—"


PDU_SECRETS = [
    "snmp_read_community",
    "snmp_write_community",
    "snmp_v3_auth_key",
    "snmp_v3_priv_key",
]


class PDUAdminForm(forms.ModelForm):
    """Device credentials are never shown again (encrypted at rest, write-only everywhere):
    a secret field left empty keeps the stored value."""

    class Meta:
        model = PDU
        fields = PDU_SECRETS  # the admin adds the rest (its fieldsets)
        widgets = {name: forms.PasswordInput(render_value=False) for name in PDU_SECRETS}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            for name in PDU_SECRETS:
                if getattr(self.instance, name):
                    self.fields[name].help_text = "Set. Leave empty to keep it."

    def _keep(self, name: str) -> str:
        value = self.cleaned_data.get(name, "")
        return value or (getattr(self.instance, name) if self.instance.pk else "")

    def clean_snmp_read_community(self):
        return self._keep("snmp_read_community")

    def clean_snmp_write_community(self):
        return self._keep("snmp_write_community")

    def clean_snmp_v3_auth_key(self):
        return self._keep("snmp_v3_auth_key")

    def clean_snmp_v3_priv_key(self):
        return self._keep("snmp_v3_priv_key")


@admin.register(PDU)
class PDUAdmin(CsvImportExportMixin, SiteScopedAdminMixin, admin.ModelAdmin):
    form = PDUAdminForm
    list_display = [
        "name",
        "rack",
        "site",
        "vendor_profile",
        "protocol",
        "management_host",
        "outlet_count",
        "feed",
        "reachability",
        "measured_power",
    ]
    list_filter = [
        "rack__site",
        "vendor_profile",
        "protocol",
        "feed__side",
        ("telemetry__up", admin.BooleanFieldListFilter),
    ]
    search_fields = ["name", "management_host", "serial", "asset_tag"]
    list_select_related = ["rack__site", "feed", "telemetry"]
    readonly_fields = ["reachability", "measured_power", "last_error"]
    autocomplete_fields = ["rack", "feed"]
    inlines = [OutletInline]
    fieldsets = [
        (None, {"fields": ["rack", "name", "outlet_count", "feed"]}),
        ("Mounting", {"fields": ["mounting", "position_u", "u_height"]}),
        (
            "Management",
            {"fields": ["vendor_profile", "protocol", "management_host", "management_port"]},
        ),
        (
            "SNMP",
            {
                "fields": [
                    "snmp_version",
                    "snmp_read_community",
                    "snmp_write_community",
                    "snmp_v3_username",
                    "snmp_v3_auth_protocol",
                    "snmp_v3_auth_key",
                    "snmp_v3_priv_protocol",
                    "snmp_v3_priv_key",
                    "snmp_v3_priv_key_extension",
                ]
            },
        ),
        ("Modbus TCP", {"fields": ["modbus_unit_id", "modbus_address_base"]}),
        ("Asset", {"fields": ["serial", "asset_tag", "description"]}),
        (
            "Telemetry",
            {"fields": ["poll_interval_s", "reachability", "measured_power", "last_error"]},
        ),
    ]

    @admin.display(description="Site", ordering="rack__site__name")
    def site(self, pdu):
        return pdu.rack.site

    @admin.display(description="Reachable", ordering="telemetry__up")
    def reachability(self, pdu):
        status = getattr(pdu, "telemetry", None)
        if status is None or status.up is None:
            return "not polled yet"
        if status.up:
            return f"up (polled {naturaltime(status.last_poll_at)})"
        return f"DOWN since {naturaltime(status.down_since)}"

    @admin.display(description="Power now", ordering="telemetry__power_w")
    def measured_power(self, pdu):
        status = getattr(pdu, "telemetry", None)
        if status is None or status.power_w is None:
            return "—"
        return f"{_watts(round(status.power_w))} at {status.readings_at:%Y-%m-%d %H:%M:%S}"

    @admin.display(description="Last error")
    def last_error(self, pdu):
        status = getattr(pdu, "telemetry", None)
        if status is None or not status.last_error:
            return "—"
        return f"{status.last_error} ({naturaltime(status.last_error_at)})"

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        services.pdu_sync_outlets(pdu=form.instance)


@admin.register(Outlet)
class OutletAdmin(CsvImportExportMixin, SiteScopedAdminMixin, admin.ModelAdmin):
    list_display = [
        "__str__",
        "pdu",
        "number",
        "label",
        "state",
        "power_w",
        "readings_at",
        "locked",
        "power_supply_link",
    ]
    list_filter = ["state", "locked", "pdu__rack__site", "pdu__rack"]
    search_fields = ["label", "pdu__name", "power_supply__host__name"]
    list_select_related = ["pdu", "power_supply__host"]
    readonly_fields = [
        "state",
        "state_seen_at",
        "current_a",
        "power_w",
        "energy_kwh",
        "readings_at",
    ]
    autocomplete_fields = ["pdu"]

    def has_delete_permission(self, request, obj=None):
        return False  # outlets follow the PDU's outlet count (see services.pdu_sync_outlets)

    @admin.display(description="Power supply")
    def power_supply_link(self, outlet):
        supply = getattr(outlet, "power_supply", None)
        return str(supply) if supply else "—"


class PowerSupplyInline(SiteScopedInlineMixin, admin.TabularInline):
    model = PowerSupply
    fields = ["name", "max_draw_w", "allocated_draw_w", "outlet"]
    autocomplete_fields = ["outlet"]
    extra = 0


@admin.register(Host)
class HostAdmin(CsvImportExportMixin, SiteScopedAdminMixin, admin.ModelAdmin):
    list_display = [
        "name",
        "site",
        "rack",
        "position_u",
        "u_height",
        "status",
        "role",
        "protected",
        "redundant_power",
    ]
    list_filter = ["site", "status", "role", "protected", "rack"]
    search_fields = ["name", "role", "serial", "asset_tag"]
    list_select_related = ["site", "rack"]
    autocomplete_fields = ["rack"]
    inlines = [PowerSupplyInline]

    def get_queryset(self, request):
        return selectors.host_power_prefetch(super().get_queryset(request))

    @admin.display(description="Redundant power", boolean=True)
    def redundant_power(self, host):
        return selectors.host_is_redundantly_powered(host)


@admin.register(PowerSupply)
class PowerSupplyAdmin(CsvImportExportMixin, SiteScopedAdminMixin, admin.ModelAdmin):
    list_display = ["__str__", "host", "max_draw_w", "allocated_draw_w", "outlet"]
    list_filter = ["host__site", ("outlet", admin.EmptyFieldListFilter), "host__status"]
    search_fields = ["name", "host__name", "outlet__pdu__name"]
    list_select_related = ["host", "outlet__pdu"]
    autocomplete_fields = ["host", "outlet"]
