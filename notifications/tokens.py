"""One-click unsubscribe links: a signed (recipient, category) pair. No expiry: a link in an old
email must still work."""

from dataclasses import dataclass

from django.core import signing

from .models import Category

SALT = "notifications.unsubscribe"


@dataclass(frozen=True)
class Unsubscribe:
    recipient_key: str
    category: str


class TokenInvalid(Exception):
    """The link was changed or cut short."""


def unsubscribe_token(*, recipient_key: str, category: str) -> str:
    return signing.dumps({"r": recipient_key, "c": category}, salt=SALT, compress=True)


def read_unsubscribe_token(token: str) -> Unsubscribe:
    try:
        data = signing.loads(token, salt=SALT)
    except (signing.BadSignature, ValueError, UnicodeError) as exc:
        raise TokenInvalid from exc
    if not isinstance(data, dict):
        raise TokenInvalid
    key, category = data.get("r"), data.get("c")
    if not isinstance(key, str) or category not in Category.values:
        raise TokenInvalid
    if not (key.startswith("user:") or key.startswith("email:")):
        raise TokenInvalid
    return Unsubscribe(recipient_key=key, category=category)
