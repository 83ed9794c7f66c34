"""The production settings plus one trivial DRF view (the framework's own ceiling); plain HTTP
cookies because the benchmark talks to 127.0.0.1 without TLS. Never used outside `make bench`."""

import os

from escrow_site.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
DEBUG = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
SECURE_HSTS_SECONDS = 0

# Production keeps the throttle counters in Redis (shared by all workers); the benchmark's
# clients are many keys well under the per-key limit, which is raised only so the list path's
# 40 viewers are not throttled at full speed.
CACHE_URL = os.environ.get("BENCH_CACHE_URL", "redis://127.0.0.1:6379/4")
CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}}
API_RATE_LIMIT = os.environ.get("API_RATE_LIMIT", "100000/min")
# As production with CACHE_URL set: event hand-overs coalesce through that shared cache.
EVENT_DISPATCH_COALESCE_SECONDS = int(os.environ.get("EVENT_DISPATCH_COALESCE_SECONDS", "10"))
