"""A name resolver the tests script: installed as socket.getaddrinfo, so both the address check
and the HTTP client's own connection (urllib3 calls socket.getaddrinfo) get its answers. Names
it was not told about go to the real resolver."""

import ipaddress
import socket
from collections.abc import Sequence

import pytest


class ScriptedResolver:
    def __init__(self, monkeypatch: pytest.MonkeyPatch):
        self._real = socket.getaddrinfo
        self._answers: dict[str, list[list[str]]] = {}
        self.lookups: list[str] = []
        monkeypatch.setattr(socket, "getaddrinfo", self)

    def answer(self, host: str, *answers: Sequence[str]) -> None:
        """The next lookups of `host` get these address lists in turn; the last one repeats."""
        self._answers[host.lower()] = [list(a) for a in answers]

    def count(self, host: str) -> int:
        return self.lookups.count(host.lower())

    def __call__(self, host, port, family=0, type=0, proto=0, flags=0):  # noqa: A002
        name = host.decode() if isinstance(host, bytes) else str(host)
        script = self._answers.get(name.lower())
        if script is None:
            return self._real(host, port, family, type, proto, flags)
        self.lookups.append(name.lower())
        addresses = script.pop(0) if len(script) > 1 else script[0]
        port = int(port or 0)
        infos = []
        for address in addresses:
            if ipaddress.ip_address(address).version == 6:
                if family in (0, socket.AF_INET6):
                    infos.append((socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port, 0, 0)))
            elif family in (0, socket.AF_INET):
                infos.append((socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port)))
        if not infos:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return infos
