import django_filters as filters

from telemetry.choices import EventKind
from telemetry.models import Event, WebhookDelivery


class EventFilterSet(filters.FilterSet):
    kind = filters.MultipleChoiceFilter(choices=EventKind.choices)
    created_after = filters.IsoDateTimeFilter(field_name="created", lookup_expr="gte")
    created_before = filters.IsoDateTimeFilter(field_name="created", lookup_expr="lt")

    class Meta:
        model = Event
        fields = ["site", "rack", "pdu", "outlet", "command"]


class WebhookDeliveryFilterSet(filters.FilterSet):
    class Meta:
        model = WebhookDelivery
        fields = ["webhook", "event", "succeeded"]
