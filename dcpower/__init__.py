"""dcpower project package: settings, URLs, the Celery app, project-wide API plumbing, and
the on-call CLI (dcpower/cli/).

The Celery app is loaded by the Django app's ready() (dcpower/apps.py), not here: the CLI is
a client of the REST API that runs on laptops, and importing it must not pull in Celery.
``celery -A dcpower`` finds the app in dcpower/celery.py by itself."""


def __getattr__(name: str):
    # ``dcpower.celery_app``, as Celery's Django guide names it, still works when asked for.
    if name == "celery_app":
        from dcpower.celery import app

        return app
    raise AttributeError(f"module 'dcpower' has no attribute {name!r}")
