"""Writes of the accounts app: API keys, the customers a platform creates, a person's own details.
Sign-in, email, password and two-factor changes are django-allauth's (accounts/adapter.py)."""

from typing import Any, cast

from django.db import IntegrityError, transaction
from django.utils import timezone

from core.errors import Conflict, Forbidden, InvalidRequest, NotFound

from .models import APIKey, User

API_KEY_NAME_MAX = 50


@transaction.atomic
def api_key_create(*, user: User, name: str = "") -> tuple[APIKey, str]:
    """Create a key for `user`. Returns the row and the key itself, which is never stored and
    so can only be shown this once."""
    name = (name or "").strip() or "API key"
    if len(name) > API_KEY_NAME_MAX:
        raise InvalidRequest(f"name must be at most {API_KEY_NAME_MAX} characters", field="name")
    # The library types the new row as its abstract base; it is an instance of this model.
    return cast(tuple[APIKey, str], APIKey.objects.create_key(user=user, name=name))


@transaction.atomic
def api_key_revoke(*, user: User, prefix: str) -> APIKey:
    """Revoke one of the user's own keys (for good: a revoked key never works again)."""
    api_key = APIKey.objects.select_for_update().filter(prefix=prefix, user=user).first()
    if api_key is None:
        raise NotFound("API key not found")
    if not api_key.revoked:
        api_key.revoked = True
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked", "revoked_at"])
    return api_key


def _clean(value: Any, field: str, max_length: int, *, required: bool = False) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InvalidRequest(f"{field} must be a string", field=field)
    value = value.strip()
    if required and not value:
        raise InvalidRequest(f"{field} is required", field=field)
    if len(value) > max_length:
        raise InvalidRequest(f"{field} must be at most {max_length} characters", field=field)
    return value


def customer_create_for_platform(
    *, platform: User, email: str, first_name: str = "", last_name: str = "", phone: str = ""
) -> User:
    """A platform account creates a customer it may then act for (`customer-id` header)."""
    from django.core.exceptions import ValidationError
    from django.core.validators import validate_email

    if not platform.is_platform:
        raise Forbidden("Only platform accounts can create customers", code="not_platform")
    email = _clean(email, "email", 254, required=True).lower()
    try:
        validate_email(email)
    except ValidationError:
        raise InvalidRequest("email is not a valid email address", field="email") from None
    fields = {
        "first_name": _clean(first_name, "firstname", 150),
        "last_name": _clean(last_name, "lastname", 150),
        "phone": _clean(phone, "phone", 40),
    }
    try:
        with transaction.atomic():
            return User.objects.create_user(email, None, created_by_platform=platform, **fields)
    except IntegrityError:
        raise Conflict("A customer with this email already exists", code="customer_exists") from None


def account_profile_update(*, user: User, first_name: str, last_name: str, phone: str) -> User:
    """A person's own name and phone, as the account page edits them (email and password have
    their own pages, each confirming the change)."""
    user.first_name = first_name.strip()
    user.last_name = last_name.strip()
    user.phone = phone.strip()
    user.save(update_fields=["first_name", "last_name", "phone"])
    return user


def _customer_event(kind: str, *, customer: User, by: User | None, details: dict[str, Any]) -> None:
    """The event that tells the customer (notifications/rules/customers.py) what changed."""
    from escrows.services._internal import _event  # escrows' services import this app's models

    _event(kind, by=by, customer=customer, details=details)


@transaction.atomic
def customer_permissions_update(
    *, customer: User, can_buy: bool | None, can_sell: bool | None, by: User | None = None
) -> User:
    """What a platform (or staff, `by`) lets its customer do: pay escrows as buyer, create them
    as seller. Left out (None): unchanged. Enforced where each action happens
    (escrows/services/_internal.py); the customer is told of a change."""
    fields = {
        name: value for name, value in (("can_buy", can_buy), ("can_sell", can_sell)) if value is not None
    }
    if not fields:
        raise InvalidRequest("Send canBuy or canSell (true or false)", field="canBuy")
    row = User.objects.select_for_update().values("can_buy", "can_sell").get(pk=customer.pk)
    before: dict[str, bool] = {"can_buy": row["can_buy"], "can_sell": row["can_sell"]}
    User.objects.filter(pk=customer.pk).update(**fields)
    for name, value in fields.items():
        setattr(customer, name, value)
    if any(before[name] != value for name, value in fields.items()):
        _customer_event(
            "customer.permissions_changed",
            customer=customer,
            by=by,
            details={
                "canBuy": customer.can_buy,
                "canSell": customer.can_sell,
                "canBuyBefore": before["can_buy"],
                "canSellBefore": before["can_sell"],
            },
        )
    return customer


@transaction.atomic
def customer_block(*, customer: User, by: User | None = None) -> User:
    """The customer can do nothing until unblocked: no sign-in, no API call as them, no action
    on any escrow (a blocked customer's money stays where it is; the other party and the timers
    still act on their escrows). Blocking a blocked customer keeps the first time, and tells
    them once."""
    now = timezone.now()
    if User.objects.filter(pk=customer.pk, blocked_at__isnull=True).update(blocked_at=now):
        customer.blocked_at = now
        _customer_event("customer.blocked", customer=customer, by=by, details={})
    else:
        customer.blocked_at = User.objects.values_list("blocked_at", flat=True).get(pk=customer.pk)
    return customer


@transaction.atomic
def customer_unblock(*, customer: User, by: User | None = None) -> User:
    """The customer may act again; told once (unblocking one not blocked changes nothing)."""
    if User.objects.filter(pk=customer.pk, blocked_at__isnull=False).update(blocked_at=None):
        _customer_event("customer.unblocked", customer=customer, by=by, details={})
    customer.blocked_at = None
    return customer
