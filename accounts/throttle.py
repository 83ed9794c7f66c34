"""Login throttling: failed logins are counted in the cache per (client IP, email), per email
from any address, and per client IP; past a limit, every login for them is refused until the
window ends, without even checking the password. It sits in the authentication backend, so the
sign-in page and the admin's login share it. The counters live in the cache (CACHE_URL=redis://...
in production, so the limits hold across processes).

Emails are counted whether or not an account has them, so a lock says nothing about which
emails are registered. The per-email limit also refuses the owner's right password while it
lasts; resetting the password by email lifts it (`forget_account_failures`)."""

import hashlib
from typing import Any, Literal

from allauth.account.signals import password_reset
from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.dispatch import receiver
from django.http import HttpRequest

# Which limit refuses a login: one account's ("account": from this address or from any), or
# the address's own ("address": too many failures for any emails from there).
LoginLock = Literal["account", "address"]


def _client_ip(request: HttpRequest) -> str:
    # REMOTE_ADDR only: a client-supplied X-Forwarded-For would let anyone pick a fresh "IP".
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _keys(request: HttpRequest, username: str | None) -> dict[str, tuple[str, int]]:
    email = (username or "").strip().lower()
    ip = _client_ip(request)
    pair = _hash(f"{ip}\0{email}")
    return {
        "pair": (f"login-failures:pair:{pair}", settings.LOGIN_FAILURES_PER_ACCOUNT),
        "account": (
            f"login-failures:account:{_hash(email)}",
            settings.LOGIN_FAILURES_PER_ACCOUNT_ANY_ADDRESS,
        ),
        "ip": (f"login-failures:ip:{_hash(ip)}", settings.LOGIN_FAILURES_PER_IP),
    }


def login_lock(request: HttpRequest | None, username: str | None) -> LoginLock | None:
    """The limit that refuses a login for this email from this request, if any."""
    if request is None:
        return None
    keys = _keys(request, username)
    counts = cache.get_many([key for key, _ in keys.values()])
    over = {name for name, (key, limit) in keys.items() if counts.get(key, 0) >= limit}
    if "ip" in over:
        return "address"
    if over:
        return "account"
    return None


def login_locked(request: HttpRequest | None, username: str | None) -> bool:
    return login_lock(request, username) is not None


def lockout_minutes() -> int:
    return max(1, round(settings.LOGIN_LOCKOUT_SECONDS / 60))


def forget_account_failures(request: HttpRequest, email: str) -> None:
    """Lift the account's lock: its failures from any address, and from this request's (the
    owner who proved control of the mailbox and is signing in from here)."""
    keys = _keys(request, email)
    cache.delete_many([keys["account"][0], keys["pair"][0]])


class ThrottledModelBackend(ModelBackend):
    """Django's ModelBackend behind the failed-login limits. A customer their platform blocked
    (User.action_refusal) cannot sign in, and a session they already had ends with the block."""

    def user_can_authenticate(self, user: Any) -> bool:
        return super().user_can_authenticate(user) and not getattr(user, "is_blocked", False)

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

    async def aauthenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> Any:
        # ModelBackend's async path does not go through authenticate(), so it is locked here too.
        if await sync_to_async(login_locked)(request, username or kwargs.get("email")):
            raise PermissionDenied("Too many failed logins")
        return await super().aauthenticate(request, username=username, password=password, **kwargs)


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
    # Only this address's count: the count from any address stays, or an attacker's guesses
    # would restart whenever the owner signs in between them.
    if request is not None:
        cache.delete(_keys(request, getattr(user, "email", ""))["pair"][0])


@receiver(password_reset)
def _forget_failures_on_reset(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    # A new password set from the emailed link proves the mailbox: the owner gets in at once.
    forget_account_failures(request, user.email)
