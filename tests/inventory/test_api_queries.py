"""Every list endpoint runs a fixed number of queries whatever the page size: an N+1 in a
serializer (a related object, a rack's power budget, a host's redundancy) fails here."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from inventory.models import Site
from tests import factories

pytestmark = pytest.mark.django_db

# Queries per list page: the count for pagination, the page, and one per prefetched relation.
EXPECTED_QUERIES = {
    "sites": 2,
    "racks": 6,  # + feeds, PDUs with their feeds, hosts, supplies with outlet/PDU/feed
    "power-feeds": 2,
    "pdus": 2,
    "outlets": 2,
    "hosts": 3,  # + supplies with outlet/PDU/feed
    "power-supplies": 2,
}


@pytest.fixture
def fifty_of_everything(db):
    Site.objects.bulk_create(Site(name=f"Extra {i}", slug=f"extra-{i}") for i in range(50))
    site = factories.make_site()
    for _ in range(50):
        rack = factories.make_rack(site=site)
        feed_a = factories.make_feed(rack=rack, side="A")
        feed_b = factories.make_feed(rack=rack, side="B")
        pdu_a = factories.make_pdu(rack=rack, feed=feed_a, outlet_count=2)
        pdu_b = factories.make_pdu(rack=rack, feed=feed_b, outlet_count=2)
        factories.make_dual_psu_host(rack=rack, pdu_a=pdu_a, pdu_b=pdu_b, outlet=1, position_u=1)


def count_queries(client, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, response.data
    return len(queries)


def test_list_query_count_does_not_depend_on_page_size(api, fifty_of_everything):
    # One test over every endpoint: building fifty of everything once keeps the suite fast.
    measured = {
        path: (
            count_queries(api, f"/api/v1/{path}/?limit=1"),
            count_queries(api, f"/api/v1/{path}/?limit=50"),
        )
        for path in EXPECTED_QUERIES
    }
    expected = {path: (n, n) for path, n in EXPECTED_QUERIES.items()}
    assert measured == expected
