"""Flags and counters in the default cache at one round trip each, for the hot paths.

Django's RedisCache builds a new redis client (response callbacks and all) on every call and
pickles every value; on a confirm that was most of the time of a one-key SET. Here the client is
made once per cache object (caches[...] gives each thread its own) on the cache's own
connection pool, keys are the cache's own (prefix, version), and values are plain integers.
Any other cache backend (the embedded LocMemCache) goes through the ordinary cache API."""

from typing import Any

from django.core.cache import BaseCache, caches
from django.core.cache.backends.redis import RedisCache


def redis_client(cache: BaseCache) -> Any | None:
    """The cache's write client, kept on the cache object; None when it is not Redis."""
    if not isinstance(cache, RedisCache):
        return None
    client = getattr(cache, "_fast_client", None)
    if client is None:
        client = cache._fast_client = cache._cache.get_client(write=True)  # type: ignore[attr-defined]
    return client


def add_flag(key: str, seconds: int) -> bool:
    """Set `key` for `seconds` unless it is set; True when this call set it."""
    cache = caches["default"]
    client = redis_client(cache)
    if client is None:
        return bool(cache.add(key, 1, timeout=seconds))
    return bool(client.set(cache.make_and_validate_key(key), 1, nx=True, ex=seconds))


def delete(key: str) -> None:
    cache = caches["default"]
    client = redis_client(cache)
    if client is None:
        cache.delete(key)
    else:
        client.delete(cache.make_and_validate_key(key))


def count(key: str, period: int) -> int:
    """This window's count for `key` after adding one (the rate limiter's fixed window)."""
    cache = caches["default"]
    client = redis_client(cache)
    if client is not None:
        pipe = client.pipeline(transaction=False)
        full = cache.make_and_validate_key(key)
        pipe.incr(full)
        pipe.expire(full, period + 1)
        return int(pipe.execute()[0])
    cache.add(key, 0, timeout=period + 1)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=period + 1)
        return 1
