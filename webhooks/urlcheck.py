"""Where a webhook may be sent: http(s) only, and, unless WEBHOOK_ALLOW_PRIVATE_URLS, never to
loopback, private, link-local or otherwise non-public addresses (no probing our own network).

Every address the host resolves to is checked, and so is an IPv4 address carried inside an IPv6
one (mapped, compatible, translated, NAT64, 6to4, Teredo), which `ipaddress` may call global
although the packets end at the IPv4 address. A delivery then connects to an address checked
here (webhooks/transport.py), never to a second lookup that could answer 127.0.0.1."""

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from django.conf import settings

from core.errors import InvalidRequest

NOT_PUBLIC = "url must point to a public internet address"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# IPv6 ranges whose last 32 bits are an IPv4 address the traffic is handed to.
_CARRIES_IPV4_IN_LAST_32_BITS = (
    ipaddress.IPv6Network("::/96"),  # IPv4-compatible (deprecated)
    ipaddress.IPv6Network("::ffff:0:0/96"),  # IPv4-mapped
    ipaddress.IPv6Network("::ffff:0:0:0/96"),  # IPv4-translated (SIIT)
    ipaddress.IPv6Network("64:ff9b::/96"),  # NAT64, well-known prefix
)
# NAT64 for one network's own use (RFC 8215): never a public destination.
_LOCAL_NAT64 = ipaddress.IPv6Network("64:ff9b:1::/48")


class HostNotResolved(InvalidRequest):
    """The host has no address now (maybe for a moment: a delivery tries again later)."""


class AddressRefused(InvalidRequest):
    """The host is, or resolves to, an address webhooks are never sent to."""

    def __init__(self, host: str, address: str):
        super().__init__(
            NOT_PUBLIC,
            field="url",
            for_person="Enter an address on the public internet: webhooks never go to private networks.",
        )
        self.host = host
        self.address = address

    @property
    def reason(self) -> str:
        if ipaddress.ip_address(self.address) == _literal(self.host):
            return f"{self.address} is not a public internet address"
        return f"{self.host} resolves to {self.address}, which is not a public internet address"


@dataclass(frozen=True)
class Destination:
    """A URL with the addresses its host resolved to, each one checked, in the resolver's order."""

    url: str
    host: str
    port: int
    addresses: tuple[str, ...]


def check_url(url: str) -> str:
    """Return the cleaned URL or raise InvalidRequest (registration)."""
    url, parts, port = _parse(url)
    if not settings.WEBHOOK_ALLOW_PRIVATE_URLS:
        _resolve(parts.hostname or "", port, check=True)
    return url


def resolve_destination(url: str) -> Destination:
    """Check a URL again and resolve its host once, for one delivery attempt: the attempt
    connects to these addresses only. Raises HostNotResolved, AddressRefused or InvalidRequest."""
    url, parts, port = _parse(url)
    host = parts.hostname or ""
    addresses = _resolve(host, port, check=not settings.WEBHOOK_ALLOW_PRIVATE_URLS)
    return Destination(url=url, host=host, port=port, addresses=addresses)


def is_public(address: IPAddress) -> bool:
    if address.is_multicast or not address.is_global:
        return False
    if isinstance(address, ipaddress.IPv6Address):
        if address in _LOCAL_NAT64:
            return False
        return all(is_public(carried) for carried in _carried_ipv4(address))
    return True


def _carried_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    carried = []
    if any(address in network for network in _CARRIES_IPV4_IN_LAST_32_BITS):
        carried.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    if address.sixtofour is not None:
        carried.append(address.sixtofour)
    if address.teredo is not None:
        carried.extend(address.teredo)  # the relay server and the client behind it
    return carried


def _parse(url: str) -> tuple[str, SplitResult, int]:
    url = (url or "").strip()
    if not url:
        raise InvalidRequest(
            "url is required", field="url", for_person="Enter the address to send events to."
        )
    if len(url) > 2000:
        raise InvalidRequest(
            "url must be at most 2000 characters",
            field="url",
            for_person="Enter an address of at most 2000 characters.",
        )
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise InvalidRequest(
            "url is not a valid URL",
            field="url",
            for_person="Enter a web address, such as https://example.com/hooks.",
        ) from None
    if parts.scheme not in ("http", "https"):
        raise InvalidRequest(
            "url must start with http:// or https://",
            field="url",
            for_person="Enter an address that starts with https:// (or http://).",
        )
    if not parts.hostname:
        raise InvalidRequest(
            "url must name a host",
            field="url",
            for_person="Enter an address with a host name, such as https://example.com/hooks.",
        )
    return url, parts, port or (443 if parts.scheme == "https" else 80)


def _resolve(host: str, port: int, *, check: bool) -> tuple[str, ...]:
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        raise HostNotResolved(
            f"url host {host} could not be resolved",
            field="url",
            for_person=f"{host} could not be found: check the address.",
        ) from None
    addresses = tuple(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise HostNotResolved(
            f"url host {host} could not be resolved",
            field="url",
            for_person=f"{host} could not be found: check the address.",
        )
    if check:
        for address in addresses:
            if not is_public(ipaddress.ip_address(address)):
                raise AddressRefused(host, address)
    return addresses


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None
