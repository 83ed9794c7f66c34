"""Reads of the accounts app: the customers a platform created (its own only)."""

from django.db.models import QuerySet

from core.errors import NotFound

from .models import User


def platform_customers(platform: User) -> QuerySet[User]:
    """The active customers `platform` created, newest first: the ones it may act for."""
    return User.objects.filter(created_by_platform=platform, is_active=True).order_by("-date_joined", "-pk")


def platform_customer_get(platform: User, customer_id: str) -> User:
    """One of them by its public id; anyone else's (or none) is not found, so ids cannot be probed."""
    customer = platform_customers(platform).filter(customer_id=customer_id).first()
    if customer is None:
        raise NotFound("Customer not found")
    return customer
