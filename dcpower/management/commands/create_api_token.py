"""Create an API token for a user and print it once (it is stored only as a hash)."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from dcpower.tokens import api_token_create


class Command(BaseCommand):
    help = "Create an API token for a user and print it (shown once, stored only as a hash)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="cli", help="what uses it (default: cli)")
        parser.add_argument("--expires-days", type=int, default=None, help="default: never")
        parser.add_argument("--read-only", action="store_true")
        parser.add_argument(
            "--network", action="append", default=[], help="allowed client network (repeat)"
        )

    def handle(self, *args, **options):
        user = get_user_model().objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"No user {options['username']!r}.")
        days = options["expires_days"]
        if days is not None and days < 1:
            raise CommandError("--expires-days: at least 1.")
        try:
            _, plaintext = api_token_create(
                user=user,
                name=options["name"],
                expires_at=timezone.now() + timedelta(days=days) if days else None,
                read_only=options["read_only"],
                allowed_networks=options["network"],
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        self.stdout.write(plaintext)
