"""The demo data center and the README's run command (``manage.py demo``)."""

import io
import re

import pytest
from django.core.management import call_command

from inventory.demo import demo_inventory_load
from inventory.models import PDU, Host, PowerFeed, PowerSupply, Rack, Site
from inventory.selectors import (
    host_is_redundantly_powered,
    host_power_prefetch,
    rack_power,
    rack_power_prefetch,
)

pytestmark = pytest.mark.django_db


def test_demo_inventory_is_a_small_realistic_data_center():
    demo_inventory_load()
    assert Site.objects.count() == 1
    assert Rack.objects.count() == 4
    assert PowerFeed.objects.filter(side="A").count() == 4
    assert PowerFeed.objects.filter(side="B").count() == 4
    assert PDU.objects.count() == 8
    assert Host.objects.count() == 40
    assert PowerSupply.objects.filter(outlet__isnull=False).count() == 80
    assert Host.objects.filter(protected=True).count() >= 4
    hosts = host_power_prefetch(Host.objects.all())
    assert all(host_is_redundantly_powered(h) for h in hosts)
    for rack in rack_power_prefetch(Rack.objects.all()):
        power = rack_power(rack)
        assert power.redundant and power.capacity_w == 5888
        assert 0 < power.allocated_draw_w < power.capacity_w
    assert len(set(PDU.objects.values_list("management_host", flat=True))) == 8


def test_loading_the_demo_twice_changes_nothing():
    demo_inventory_load()
    assert demo_inventory_load().created is False
    assert Host.objects.count() == 40


def test_demo_command_prints_a_working_admin_login(client):
    out = io.StringIO()
    call_command("demo", "--no-serve", stdout=out)
    text = out.getvalue()
    user = re.search(r"User:\s+(\S+)", text).group(1)
    password = re.search(r"Password:\s+(\S+)", text).group(1)
    assert "http://127.0.0.1:8000/admin/" in text
    assert client.login(username=user, password=password)
    assert client.get("/admin/inventory/rack/").status_code == 200
