"""A shared cache (Redis) that stops answering never holds a money request: every connect and
command to it is bounded by CACHE_TIMEOUT_SECONDS, and its uses fail open (the API's rate limit
allows the request, the event hand-over publishes without coalescing)."""

import pytest
from django.core.cache import caches
from django.test import override_settings

from escrow_site.settings import redis_cache
from escrows import broker
from escrows.tasks import enqueue_event_dispatch
from tests.api.conftest import client_for
from tests.helpers import make_escrow
from tests.reliability import figures
from tests.reliability.test_broker_unreachable import Outage, give_up_after

pytestmark = pytest.mark.django_db

SECTION = "money and security defects"
# Far above one bounded cache call, far below a request waiting on a silent cache for ever.
STILL_WAITING_AFTER = 20


@pytest.fixture
def silent_cache():
    """The production cache configuration (as settings build it from CACHE_URL), pointed at a
    Redis address on 127.0.0.1 that accepts connections and never answers."""
    outage = Outage("silent")
    with override_settings(
        CACHES={"default": redis_cache(outage.url, 0.5)}, EVENT_DISPATCH_COALESCE_SECONDS=10
    ):
        caches["default"].close()
        yield outage
    caches["default"].close()
    outage.close()


def test_a_silent_cache_neither_holds_the_event_hand_over_nor_the_api(silent_cache, seller, monkeypatch):
    published = []
    monkeypatch.setattr(
        broker, "publish", lambda task, args=(), **options: published.append(task.name) or True
    )
    escrow = make_escrow(seller, parts=(10_000, 20_000))
    api = client_for(seller)
    with give_up_after(STILL_WAITING_AFTER):
        enqueue_event_dispatch()  # the cache cannot say whether a dispatch is pending: publish
        response = api.get(f"/v1/payment-intents/{escrow.public_id}")  # the rate limit allows
    figures.add(SECTION, "cache silent during a request: cases", 2)
    figures.add(SECTION, "violations: request held or refused by a silent cache", len(published) != 1)
    assert len(published) == 1
    assert response.status_code == 200
