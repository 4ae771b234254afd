"""Write the simulator fleet description that mirrors the inventory's PDUs.

python manage.py simulator_fleet --output var/fleet.yaml
python -m simulators var/fleet.yaml
"""

import json

import yaml
from django.core.management.base import BaseCommand, CommandError

from inventory.choices import VendorProfile
from inventory.models import PDU
from inventory.simulation import SIMULATOR_PROFILES, simulator_fleet_description


class Command(BaseCommand):
    help = "Write a simulator fleet description (YAML or JSON) for the inventory's PDUs."

    def add_arguments(self, parser):
        parser.add_argument("--output", "-o", help="file to write (.yaml or .json); default stdout")
        parser.add_argument("--site", help="only PDUs at the site with this slug")
        parser.add_argument("--time-scale", type=float, default=1.0)
        parser.add_argument(
            "--port", type=int, help="serve every PDU on this port instead of its own (0: any)"
        )
        parser.add_argument("--control-port", type=int, help="enable the HTTP control endpoint")
        parser.add_argument(
            "--auto-profile",
            default=VendorProfile.APC_RPDU2,
            choices=sorted(SIMULATOR_PROFILES),
            help="simulate PDUs whose profile is 'auto' as this vendor",
        )

    def handle(self, *args, output, site, time_scale, port, control_port, auto_profile, **opts):
        pdus = PDU.objects.all()
        if site:
            pdus = pdus.filter(rack__site__slug=site)
            if not pdus.exists():
                raise CommandError(f"no PDUs at a site with slug {site!r}")
        description, skipped = simulator_fleet_description(
            pdus,
            time_scale=time_scale,
            auto_profile=auto_profile,
            port=port,
            control_port=control_port,
        )
        for reason in skipped:
            self.stderr.write(f"skipped {reason}")
        text = (
            json.dumps(description, indent=2)
            if output and output.endswith(".json")
            else yaml.safe_dump(description, sort_keys=False, default_flow_style=None)
        )
        if output:
            with open(output, "w") as handle:
                handle.write(text)
            self.stdout.write(f"wrote {len(description['pdus'])} PDUs to {output}")
        else:
            self.stdout.write(text, ending="")
