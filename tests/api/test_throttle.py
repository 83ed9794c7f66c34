"""The API rate limit: a fixed-window counter per key, 429 with Retry-After past the limit,
a fresh budget in the next window, and the same counting on a real Redis cache (one round trip)
as on the in-process cache."""

import os

import pytest

from escrows.api import common
from tests.api.conftest import client_for
from tests.api.test_errors import intent_error

pytestmark = pytest.mark.django_db


@pytest.fixture
def clock(monkeypatch):
    now = {"t": 1_800_000_000.0}  # the start of a minute
    monkeypatch.setattr(common, "_clock", lambda: now["t"])
    return now


def _budget_then_429(client, clock, limit):
    for _ in range(limit):
        assert client.get("/v1/payment-intents/intent_x").status_code == 404
    clock["t"] += 45
    r = client.get("/v1/payment-intents/intent_x")
    error = intent_error(r, 429)
    assert error["code"] == "rate_limited"
    assert r["Retry-After"] == "15"  # the window ends 15 s later
    clock["t"] += 15  # next window: a fresh budget
    assert client.get("/v1/payment-intents/intent_x").status_code == 404


def test_fixed_window_per_key(seller, settings, clock):
    settings.API_RATE_LIMIT = "3/min"
    client = client_for(seller)
    _budget_then_429(client, clock, 3)
    other = client_for(seller)  # another key of the same account: its own budget
    assert other.get("/v1/payment-intents/intent_x").status_code == 404


def test_rates_read_as_drf_reads_them():
    assert common._rate("600/min") == (600, 60)
    assert common._rate("5/s") == (5, 1)
    assert common._rate("100/hour") == (100, 3600)
    assert common._rate("7/day") == (7, 86400)


def test_the_same_on_a_real_redis_cache(seller, settings, clock):
    url = os.environ.get("TEST_REDIS_URL")
    if not url:
        pytest.skip("needs Redis: set TEST_REDIS_URL (e.g. redis://127.0.0.1:6379/15); .ci/run does")
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": url,
            "KEY_PREFIX": f"throttle-test-{os.getpid()}",
        }
    }
    from django.core.cache import caches

    caches["default"].clear()
    settings.API_RATE_LIMIT = "2/min"
    client = client_for(seller)
    _budget_then_429(client, clock, 2)
    key = caches["default"].make_and_validate_key(f"throttle:api:key:{client.key.split('.')[0]}:30000000")
    redis = caches["default"]._cache.get_client(key)
    assert int(redis.get(key)) == 3 and 0 < redis.ttl(key) <= 61


def test_an_unreachable_redis_lets_requests_through(seller, settings, caplog):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
        }
    }
    settings.API_RATE_LIMIT = "1/min"
    client = client_for(seller)
    for _ in range(3):
        assert client.get("/v1/payment-intents/intent_x").status_code == 404
    assert "rate limit counter unavailable" in caplog.text
