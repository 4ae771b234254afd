from django.apps import AppConfig


class DcpowerConfig(AppConfig):
    name = "dcpower"
    verbose_name = "dcpower"

    def ready(self) -> None:
        # celery: every Django process (web, manage.py commands) queues its tasks on dcpower's
        # Celery app, not on Celery's unconfigured default app (dcpower/__init__.py does not
        # load it, for the CLI's sake). audit, throttling: connect the audit trail and the
        # failed-login counter. api.schema: the OpenAPI extensions for our custom fields.
        from dcpower import audit, celery, throttling  # noqa: F401
        from dcpower.api import schema  # noqa: F401
