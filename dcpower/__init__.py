"""dcpower project package: settings, URLs, the Celery app and project-wide API plumbing."""

from dcpower.celery import app as celery_app

__all__ = ("celery_app",)
