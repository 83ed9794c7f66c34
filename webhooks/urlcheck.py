"""Where a webhook may be sent: http(s) only, and, unless WEBHOOK_ALLOW_PRIVATE_URLS, never to
loopback, private, link-local or otherwise non-public addresses (no probing our own network)."""

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings

from escrows.errors import InvalidRequest


def check_url(url: str) -> str:
    """Return the cleaned URL or raise InvalidRequest."""
    url = (url or "").strip()
    if not url:
        raise InvalidRequest("url is required", field="url")
    if len(url) > 2000:
        raise InvalidRequest("url must be at most 2000 characters", field="url")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise InvalidRequest("url is not a valid URL", field="url") from None
    if parts.scheme not in ("http", "https"):
        raise InvalidRequest("url must start with http:// or https://", field="url")
    host = parts.hostname
    if not host:
        raise InvalidRequest("url must name a host", field="url")
    if not settings.WEBHOOK_ALLOW_PRIVATE_URLS:
        _check_public(host, port or (443 if parts.scheme == "https" else 80))
    return url


def _check_public(host: str, port: int) -> None:
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        raise InvalidRequest(f"url host {host} could not be resolved", field="url") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global or address.is_multicast:
            raise InvalidRequest("url must point to a public internet address", field="url")
