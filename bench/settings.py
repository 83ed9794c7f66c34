"""The production settings plus one trivial DRF view (the framework's own ceiling); plain HTTP
cookies because the benchmark talks to 127.0.0.1 without TLS. Never used outside `make bench`."""

from escrow_site.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
DEBUG = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
SECURE_HSTS_SECONDS = 0
