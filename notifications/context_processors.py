"""The header's bell: the signed-in reader's unread count, one indexed count query, run only
when a page shows it."""

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from . import selectors


def unread_notifications(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"unread_notifications": SimpleLazyObject(lambda: selectors.unread_count(user))}
