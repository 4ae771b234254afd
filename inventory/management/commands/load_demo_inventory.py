from django.core.management.base import BaseCommand

from inventory.demo import demo_inventory_load


class Command(BaseCommand):
    help = "Load the demo data center (one site, four racks, A/B PDUs, forty dual-PSU hosts)."

    def handle(self, *args, **options):
        summary = demo_inventory_load()
        verb = "Loaded" if summary.created else "Already present:"
        self.stdout.write(f"{verb} demo site {summary.site.name!r}.")
