import django_filters as filters

from power.choices import CommandAction, CommandStatus
from power.models import PowerCommand


class PowerCommandFilterSet(filters.FilterSet):
    status = filters.MultipleChoiceFilter(choices=CommandStatus.choices)
    action = filters.ChoiceFilter(choices=CommandAction.choices)
    host = filters.NumberFilter(field_name="outlets__outlet__power_supply__host", distinct=True)
    outlet = filters.NumberFilter(field_name="outlets__outlet", distinct=True)
    user = filters.CharFilter(field_name="requested_by__username")
    created_after = filters.IsoDateTimeFilter(field_name="created", lookup_expr="gte")
    created_before = filters.IsoDateTimeFilter(field_name="created", lookup_expr="lt")

    class Meta:
        model = PowerCommand
        fields = ["site", "ticket"]
