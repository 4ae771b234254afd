"""Run dcpower with the demo data center (the README's first command): migrate, load the demo
inventory, give ``admin`` a fresh password and API token, then run the simulated PDUs, a Celery
worker per queue, beat and the web server until Ctrl-C. See dcpower/demo_runner.py."""

from django.core.management.base import BaseCommand, CommandError

from dcpower.demo_runner import (
    WEB_HOST,
    DemoError,
    demo_banner,
    demo_run,
    demo_setup,
    demo_web_port,
)


class Command(BaseCommand):
    help = "Set up the demo data center and run dcpower with simulated PDUs until Ctrl-C."

    def add_arguments(self, parser):
        parser.add_argument(
            "--port", type=int, default=8000, help="web server port (0: any free one)"
        )
        parser.add_argument(
            "--time-scale",
            type=float,
            default=1.0,
            help="device seconds per real second in the simulated PDUs (relay delays, reboots)",
        )
        parser.add_argument(
            "--no-serve", action="store_true", help="set everything up, print, start nothing"
        )

    def handle(self, *args, port, time_scale, no_serve, **options):
        if not 0 <= port <= 65535:
            raise CommandError(f"--port must be 0-65535, not {port}")
        if time_scale <= 0:
            raise CommandError("--time-scale must be positive")
        try:
            if no_serve:
                access = demo_setup()
                self.stdout.write("\n".join(demo_banner(access, f"http://{WEB_HOST}:{port}")))
                return
            port = demo_web_port(port)  # a busy port fails before anything is set up
            access = demo_setup()
            demo_run(access, port=port, time_scale=time_scale, say=self._say)
        except DemoError as exc:
            raise CommandError(str(exc)) from exc

    def _say(self, line: str) -> None:
        self.stdout.write(line)
        self.stdout.flush()
