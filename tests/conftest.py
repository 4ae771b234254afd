import pytest
from rest_framework.test import APIClient

from tests import factories
from tests.services import missing_reason, required_services
from tests.simulated_dc import dc, fleet  # noqa: F401 - fixtures for end-to-end tests
from tests.workers import broker, start_worker  # noqa: F401 - fixtures for end-to-end tests


@pytest.fixture(autouse=True)
def _requires_service(request):
    for marker in request.node.iter_markers("requires_service"):
        for name in marker.args:
            reason = missing_reason(name)
            if reason is None:
                continue
            if name in required_services():
                pytest.fail(f"required service {name!r} is missing: {reason}")
            pytest.skip(f"needs {name}: {reason}")


@pytest.fixture(autouse=True)
def _isolated_cache(settings):
    """Rate-limit counters (dcpower/throttling.py) per test, in memory, not in the shared
    Redis where one test's requests would count against the next."""
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "t"}
    }
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """PBKDF2's million rounds cost a large part of a second per user made: tests make
    thousands. Production keeps Django's default hashers."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def roles():
    """The roles' groups. The data migration makes them, but a transactional test's flush
    empties every table and only permissions come back (post_migrate): make them again
    (tests/cli/, tests/browser/)."""
    from django.contrib.auth.models import Group, Permission

    from dcpower.access import ROLES

    for name, dotted in ROLES.items():
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.set(
            [
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
                for app_label, codename in (d.split(".") for d in dotted)
            ]
        )


@pytest.fixture
def admin_user(django_user_model):
    return django_user_model.objects.create_superuser("root", "root@example.com", "pw-root-123")


@pytest.fixture
def api(admin_user):
    """An API client logged in as a superuser."""
    client = APIClient()
    client.force_authenticate(admin_user)
    return client


@pytest.fixture
def anon():
    return APIClient()


@pytest.fixture
def site(db):
    return factories.make_site()


@pytest.fixture
def rack(site):
    return factories.make_rack(site=site)


@pytest.fixture
def feeds(rack):
    """An A and a B feed into ``rack``: 230 V x 32 A x 80 % = 5,888 W each."""
    return (
        factories.make_feed(rack=rack, side="A"),
        factories.make_feed(rack=rack, side="B"),
    )


@pytest.fixture
def pdus(rack, feeds):
    """An A and a B PDU in ``rack`` on the A and B feeds, 24 outlets each."""
    feed_a, feed_b = feeds
    return (
        factories.make_pdu(rack=rack, name="PDU-A", feed=feed_a),
        factories.make_pdu(rack=rack, name="PDU-B", feed=feed_b),
    )
