"""The inventory's models, split by domain and re-exported here."""

from inventory.models.hosts import Host, PowerSupply
from inventory.models.power import PDU, Outlet, PowerFeed, feed_available_power_w
from inventory.models.racks import Rack
from inventory.models.sites import Site

__all__ = [
    "PDU",
    "Host",
    "Outlet",
    "PowerFeed",
    "PowerSupply",
    "Rack",
    "Site",
    "feed_available_power_w",
]
