"""Login throttling: failed logins are counted in the cache per (client IP, email) and per IP;
past the limit, every login for them is refused until the window ends, without even checking
the password. It sits in the authentication backend, so the sign-in page and the admin's login
share it. The counters live in the cache (CACHE_URL=redis://... in production, so the limits
hold across processes)."""

import hashlib
from typing import Any

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.dispatch import receiver
from django.http import HttpRequest


def _client_ip(request: HttpRequest) -> str:
    # REMOTE_ADDR only: a client-supplied X-Forwarded-For would let anyone pick a fresh "IP".
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def _keys(request: HttpRequest, username: str | None) -> dict[str, tuple[str, int]]:
    email = (username or "").strip().lower()
    ip = _client_ip(request)
    pair = hashlib.sha256(f"{ip}\0{email}".encode()).hexdigest()
    ip_hash = hashlib.sha256(ip.encode()).hexdigest()
    return {
        "pair": (f"login-failures:pair:{pair}", settings.LOGIN_FAILURES_PER_ACCOUNT),
        "ip": (
            f"login-failures:ip:{ip_hash}",
            settings.LOGIN_FAILURES_PER_IP,
        ),
    }


def login_locked(request: HttpRequest | None, username: str | None) -> bool:
    if request is None:
        return False
    keys = _keys(request, username)
    counts = cache.get_many([key for key, _ in keys.values()])
    return any(counts.get(key, 0) >= limit for key, limit in keys.values())


def lockout_minutes() -> int:
    return max(1, round(settings.LOGIN_LOCKOUT_SECONDS / 60))


class ThrottledModelBackend(ModelBackend):
    """Django's ModelBackend behind the failed-login limit."""

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> Any:
        if login_locked(request, username or kwargs.get("email")):
            # Stops authentication outright: no other backend is asked, no password is checked.
            raise PermissionDenied("Too many failed logins")
        return super().authenticate(request, username=username, password=password, **kwargs)


@receiver(user_login_failed)
def _count_failure(sender: Any, credentials: dict, request: HttpRequest | None = None, **kwargs: Any) -> None:
    if request is None:
        return
    for key, _ in _keys(request, credentials.get("username") or credentials.get("email")).values():
        # add() starts the window; incr() keeps it (the lockout runs from the first failure).
        cache.add(key, 0, timeout=settings.LOGIN_LOCKOUT_SECONDS)
        try:
            cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout=settings.LOGIN_LOCKOUT_SECONDS)


@receiver(user_logged_in)
def _forget_failures(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if request is not None:
        cache.delete(_keys(request, getattr(user, "email", ""))["pair"][0])
