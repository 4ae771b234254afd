"""The Celery application. Every device operation runs as a task on a worker of this app.

Configuration comes from Django settings under the ``CELERY_`` prefix (see settings.py): the
broker is Redis in production and CI, and a file-system transport that needs no server when
``CELERY_BROKER_URL`` is unset.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dcpower.settings")

app = Celery("dcpower")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
