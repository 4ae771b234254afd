"""Telemetry in the admin: events and the PDUs' poll status, read-only (what polls wrote is
not edited by hand). The PDU and rack pages of the inventory show the latest readings too."""

from django import forms
from django.contrib import admin

from dcpower.admin import ReadOnlyAdminMixin
from telemetry.models import Event, PduStatus, Webhook, WebhookDelivery


@admin.register(Event)
class EventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["created", "kind", "site", "rack", "pdu", "outlet", "message"]
    list_filter = ["kind", "site", "created"]
    search_fields = ["message", "pdu__name", "rack__name"]
    list_select_related = ["site", "rack", "pdu", "outlet__pdu"]
    date_hierarchy = "created"


@admin.register(PduStatus)
class PduStatusAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
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


class WebhookForm(forms.ModelForm):
    """The secret is never shown again: left empty on an existing webhook, it is kept."""

    endpoint = forms.URLField(max_length=500, assume_scheme="https")
    secret = forms.CharField(
        widget=forms.PasswordInput(render_value=False),
        required=False,
        help_text="At least 16 characters. Leave empty to keep the current one.",
    )

    class Meta:
        model = Webhook
        fields = ["name", "endpoint", "secret", "kinds", "active"]

    def clean_secret(self):
        secret = self.cleaned_data.get("secret", "")
        if not secret and self.instance.pk:
            return self.instance.secret
        if not secret:
            raise forms.ValidationError("Give the secret that signs deliveries.")
        return secret


@admin.register(Webhook)
class WebhookAdmin(admin.ModelAdmin):
    form = WebhookForm
    list_display = ["name", "endpoint", "kinds", "active", "created"]
    list_filter = ["active"]
    search_fields = ["name", "endpoint"]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "attempted_at",
        "webhook",
        "event",
        "attempt",
        "succeeded",
        "response_status",
        "error",
        "duration_s",
    ]
    list_filter = ["succeeded", "webhook", "event__kind"]
    search_fields = ["webhook__name", "error", "event__message"]
    list_select_related = ["webhook", "event"]
    date_hierarchy = "attempted_at"
