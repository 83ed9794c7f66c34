"""API authentication: API keys in `X-API-Key` or `Authorization: Bearer`, or the browser
session (CSRF enforced). The `customer-id` header chooses whom the call acts for."""

import re
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, SessionAuthentication, get_authorization_header
from rest_framework.request import Request

from .models import CUSTOMER_BLOCKED, APIKey, User

CUSTOMER_ID_HEADER = "HTTP_CUSTOMER_ID"
CUSTOMER_ID = re.compile(r"cus_[A-Za-z0-9]{1,36}")
# last_used_at is written at most this often per key, so that hot keys don't write every call.
LAST_USED_RESOLUTION = timedelta(seconds=30)


def _header_key(request: Request) -> str | None:
    key = request.META.get("HTTP_X_API_KEY")
    if key is not None:
        return key.strip()
    auth = get_authorization_header(request).split()
    if not auth or auth[0].lower() != b"bearer":
        return None
    if len(auth) != 2:
        raise exceptions.AuthenticationFailed("Invalid Authorization header: expected 'Bearer <API key>'")
    try:
        return auth[1].decode("ascii")
    except UnicodeDecodeError:
        raise exceptions.AuthenticationFailed("Invalid API key") from None


class CustomerBlocked(exceptions.PermissionDenied):
    default_detail = CUSTOMER_BLOCKED
    default_code = "customer_blocked"


def acting_customer(owner: User, request: Request) -> User:
    """Whom the call acts for: the owner, or (platform owners only) one of the customers the
    platform created. Anyone else is refused as not found, so ids cannot be probed. A blocked
    customer (User.action_refusal) is refused outright: nobody uses the API as them."""
    customer_id = (request.META.get(CUSTOMER_ID_HEADER) or "").strip()
    acting = None
    if not customer_id or customer_id == owner.customer_id:
        acting = owner
    elif owner.is_platform and CUSTOMER_ID.fullmatch(customer_id):
        acting = User.objects.filter(
            customer_id=customer_id, created_by_platform=owner, is_active=True
        ).first()
    if acting is None:
        raise exceptions.NotFound("Customer not found")
    if acting.action_refusal() is not None:
        raise CustomerBlocked()
    return acting


class APIKeyAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[User, APIKey] | None:
        key = _header_key(request)
        if key is None:
            return None
        if not key or len(key) > 200 or not key.isascii() or not key.isprintable():
            raise exceptions.AuthenticationFailed("Invalid API key")
        now = timezone.now()
        try:
            api_key, recorded = self.find_key(key, now)
        except APIKey.DoesNotExist:
            raise exceptions.AuthenticationFailed("Invalid API key") from None
        if api_key.has_expired:
            raise exceptions.AuthenticationFailed("This API key has expired")
        owner = api_key.user
        if not owner.is_active:
            raise exceptions.AuthenticationFailed("This account is disabled")
        due = api_key.last_used_at is None or now - api_key.last_used_at > LAST_USED_RESOLUTION
        if due and not recorded:
            self.record_use(api_key, now)
        return acting_customer(owner, request), api_key

    def find_key(self, key: str, now: datetime) -> tuple[APIKey, bool]:
        """The usable key `key` names (APIKey.DoesNotExist otherwise), and whether the lookup
        also recorded its use at `now`. The API's subclass does both in one round trip."""
        api_key = APIKey.objects.get_from_key(key)
        assert isinstance(api_key, APIKey)  # the library's manager types it as its abstract model
        return api_key, False

    def record_use(self, api_key: APIKey, now: datetime) -> None:
        APIKey.objects.filter(pk=api_key.pk).update(last_used_at=now)

    def authenticate_header(self, request: Request) -> str:
        # Makes DRF answer 401 (not 403) when credentials are missing or wrong.
        return 'Bearer realm="api"'


class CustomerSessionAuthentication(SessionAuthentication):
    """The browser session (with DRF's CSRF check), honouring `customer-id` the same way."""

    def authenticate(self, request: Request) -> tuple[Any, None] | None:
        result = super().authenticate(request)
        if result is None:
            return None
        user, auth = result
        return acting_customer(user, request), auth


def key_owner(request: Request) -> User:
    """The account behind the credentials (the platform, when it acts for a customer)."""
    if isinstance(request.auth, APIKey):
        return request.auth.user
    user = request.user
    assert user.is_authenticated  # only views behind IsAuthenticated ask
    return user
