"""/healthz and /readyz for load balancers and orchestrators.

``HealthProbeMiddleware`` comes first in MIDDLEWARE and answers these two paths itself, so
that no other middleware sees them: probes come over plain HTTP with the pod's IP as Host
(no HTTPS redirect, no ALLOWED_HOSTS check), need no session, user or CSRF token, and do not
belong in the request metrics. Neither asks who is calling, and neither says more than
"ok" or "failing" per check.

- ``/healthz``: the process is alive and serving. No database, no broker: 200
  ``{"status": "ok"}``.
- ``/readyz``: it can do its job (dcpower/health.py): 200 ``{"status": "ready", "checks":
  {...}}`` or 503 ``{"status": "unavailable", ...}`` with each check "ok" or "failing"; why
  is logged (WARNING, logger ``dcpower.health``).
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.utils.cache import add_never_cache_headers

from dcpower.health import readiness


def _answer(body: dict, status: int = 200) -> HttpResponse:
    response = JsonResponse(body, status=status)
    add_never_cache_headers(response)
    return response


def healthz(request: HttpRequest) -> HttpResponse:
    return _answer({"status": "ok"})


def readyz(request: HttpRequest) -> HttpResponse:
    checks = readiness()
    ready = all(check.ok for check in checks.values())
    body = {
        "status": "ready" if ready else "unavailable",
        "checks": {name: "ok" if check.ok else "failing" for name, check in checks.items()},
    }
    if ready:
        return _answer(body)
    response = _answer(body, status=503)
    # readiness() logged why: Django would add an ERROR line that says less.
    response._has_been_logged = True
    return response


PROBES = {"/healthz": healthz, "/readyz": readyz}


class HealthProbeMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        probe = PROBES.get(request.path_info)
        if probe is None:
            return self.get_response(request)
        if request.method not in ("GET", "HEAD"):
            return HttpResponseNotAllowed(["GET", "HEAD"])
        return probe(request)
