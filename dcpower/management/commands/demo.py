"""Run dcpower with the demo inventory: migrate, load the demo data center, create an admin
user with a fresh password, print how to log in, and serve the web UI and API."""

import secrets

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand

from inventory.demo import demo_inventory_load

DEMO_ADMIN_USERNAME = "admin"


class Command(BaseCommand):
    help = "Set up the demo data center and serve dcpower (the README's first command)."

    def add_arguments(self, parser):
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")
        parser.add_argument(
            "--no-serve", action="store_true", help="Set everything up, print, and exit."
        )

    def handle(self, *args, addrport, no_serve, **options):
        call_command("migrate", interactive=False, verbosity=0)
        summary = demo_inventory_load()
        password = secrets.token_urlsafe(12)
        user_model = get_user_model()
        admin, _ = user_model.objects.get_or_create(
            username=DEMO_ADMIN_USERNAME, defaults={"is_staff": True, "is_superuser": True}
        )
        admin.is_staff = admin.is_superuser = admin.is_active = True
        admin.set_password(password)
        admin.save()
        base = f"http://{addrport}"
        self.stdout.write(
            "\n".join(
                [
                    f"dcpower demo: site {summary.site.name!r} is loaded.",
                    f"  Admin:    {base}/admin/",
                    f"  API:      {base}/api/v1/   (docs: {base}/api/v1/docs/)",
                    f"  User:     {DEMO_ADMIN_USERNAME}",
                    f"  Password: {password}",
                    "",
                ]
            )
        )
        if not no_serve:
            call_command("runserver", addrport, use_reloader=False)
