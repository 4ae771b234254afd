from django.apps import AppConfig


class DcpowerConfig(AppConfig):
    name = "dcpower"
    verbose_name = "dcpower"

    def ready(self) -> None:
        # Registers the OpenAPI schema extensions for our custom fields.
        from dcpower import audit, throttling  # noqa: F401 - connect the audit trail and the failed-login counter
        from dcpower.api import schema  # noqa: F401
