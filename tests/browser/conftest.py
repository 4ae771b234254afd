"""Browser tests: Debian's headless Chromium (/usr/bin/chromium, never a browser that
Playwright downloads) driven by Playwright's Python package against pytest-django's
``live_server`` (a real HTTP server in a thread of this process, on the test database; the
tests are transactional), with simulated PDUs and a real Celery worker where power is switched.

Every wait is bounded: Playwright's default timeout is set per page, and the tests give their
own (short) ones where they wait for a worker. Screenshots go to test-artifacts/ at the root of
the checkout, and their paths are printed at the end of the run (and added to the report's
user properties, e.g. in JUnit XML)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from django.db import connections

from tests import factories
from tests.services import CHROMIUM

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
PASSWORD = "pw-tech-123"
TIMEOUT_MS = 10_000  # any single wait in a page: an element, a navigation
BROWSER_ZONE = "Europe/Berlin"  # the browser's own time zone, which the admin takes up

_saved_artifacts: list[Path] = []


def save_artifact(request, name: str) -> Path:
    """Where a test puts an artifact ``name``; it is listed at the end of the run."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    _saved_artifacts.append(path)
    request.node.user_properties.append(("artifact", str(path)))
    return path


def pytest_terminal_summary(terminalreporter):
    existing = [path for path in _saved_artifacts if path.exists()]
    if existing:
        terminalreporter.section("browser test artifacts")
        for path in existing:
            terminalreporter.write_line(str(path))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def browser(monkeypatch):
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop running in this thread (it switches to it
    # through greenlets), so Django takes the test's own ORM calls for calls from async code.
    # They are not: the test and the live server's threads are ordinary synchronous code.
    # For the same reason Django keeps a second database connection for this thread while
    # Playwright runs (asgiref's Local follows the context when a loop runs); it is closed
    # below, or it would keep the test database from being dropped.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            # Chromium refuses to start its sandbox as root (CI and these machines run as
            # root); --no-sandbox is passed only then.
            args=["--no-sandbox"] if _is_root() else [],
            timeout=30_000,
        )
        try:
            yield chromium
        finally:
            chromium.close()
            connections.close_all()


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


@pytest.fixture
def page(browser, request):
    """A fresh browser context (no cookies) in BROWSER_ZONE; on failure, a screenshot of the
    page as it was goes to test-artifacts/."""
    context = browser.new_context(
        timezone_id=BROWSER_ZONE, locale="en-US", viewport={"width": 1280, "height": 900}
    )
    context.set_default_timeout(TIMEOUT_MS)
    context.set_default_navigation_timeout(TIMEOUT_MS)
    tab = context.new_page()
    try:
        yield tab
    finally:
        report = getattr(request.node, "report_call", None)
        if report is not None and report.failed:
            name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
            tab.screenshot(path=save_artifact(request, f"{name}-failure.png"), full_page=True)
        context.close()


@pytest.fixture
def technician(django_user_model, roles, site):
    """A staff user who is operator and technician at ``site``."""
    user = django_user_model.objects.create_user("tech", password=PASSWORD, is_staff=True)
    factories.grant(user, "operator", site)
    factories.grant(user, "technician", site)
    return user


def login(page, live_server, user, next_path: str = "/admin/") -> None:
    """Log in through the admin's login form, as a person does."""
    page.goto(f"{live_server.url}/admin/login/?next={next_path}")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.press("#id_password", "Enter")
    page.wait_for_url(f"{live_server.url}{next_path}")
