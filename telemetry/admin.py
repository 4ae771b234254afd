"""Telemetry in the admin: events and the PDUs' poll status, read-only (what polls wrote is
not edited by hand). The PDU and rack pages of the inventory show the latest readings too."""

from django.contrib import admin

from telemetry.models import Event, PduStatus


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    list_display = ["created", "kind", "site", "rack", "pdu", "outlet", "message"]
    list_filter = ["kind", "site", "created"]
    search_fields = ["message", "pdu__name", "rack__name"]
    list_select_related = ["site", "rack", "pdu", "outlet__pdu"]
    date_hierarchy = "created"


@admin.register(PduStatus)
class PduStatusAdmin(ReadOnlyAdmin):
    list_display = [
        "pdu",
        "up",
        "down_since",
        "last_poll_at",
        "power_w",
        "current_a",
        "voltage_v",
        "poll_duration_s",
        "polls_total",
        "poll_errors_total",
        "last_error",
    ]
    list_filter = [("up", admin.BooleanFieldListFilter), "pdu__rack__site"]
    search_fields = ["pdu__name", "last_error"]
    list_select_related = ["pdu"]
