"""How a delivery reaches its receiver: one POST with requests, connected to an address that
webhooks.urlcheck has checked, not to whatever the host name resolves to a moment later."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util import parse_url

from .urlcheck import Destination


class PinnedAddressAdapter(HTTPAdapter):
    """Connects to one given address whatever the URL names. The request still says the URL's
    host in its Host header, and TLS sends it (SNI) and checks the certificate against it."""

    def __init__(self, address: str):
        self.address = address
        super().__init__()

    def build_connection_pool_key_attributes(
        self, request: requests.PreparedRequest, verify: Any, cert: Any = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
        if host_params["scheme"] == "https":
            pool_kwargs["server_hostname"] = host_params["host"]
        host_params["host"] = self.address
        return host_params, pool_kwargs

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        request.headers["Host"] = parse_url(request.url or "").netloc or ""
        kwargs["proxies"] = {}  # a proxy would look the name up again
        return super().send(request, **kwargs)


@contextmanager
def post(
    destination: Destination, *, body: bytes, headers: dict[str, str], timeout: float
) -> Iterator[requests.Response]:
    """POST to the first checked address (the resolver's preferred one); no redirects."""
    with requests.Session() as session:
        adapter = PinnedAddressAdapter(destination.addresses[0])
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        with session.post(
            destination.url,
            data=body,
            headers=headers,
            timeout=timeout,
            allow_redirects=False,
            stream=True,
        ) as response:
            yield response
