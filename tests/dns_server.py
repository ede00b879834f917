"""A tiny authoritative DNS server on 127.0.0.1 for the tracking-server tests.

Use: ``from tests.dns_server import DnsServer, dns_server_fixture  # noqa: F401``,
then ask for the ``dns_server`` fixture.

A UDP socket served by a thread; queries are parsed and answered with
dnspython's message classes from a small in-memory zone. Nothing leaves the
machine. Names not in the zone get NXDOMAIN; names in the zone without a
record of the asked type get an empty NOERROR answer (NoAnswer).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import pytest

from core.dnscheck import DnsSettings

#: name -> [(type, value)]
ZONE: dict[str, list[tuple[str, str]]] = {
    # A tracking host delegated by CNAME (Adobe's managed certificate setup)
    "t.news.example.com.": [("CNAME", "news.example.com.ssl.sc.omtrdc.example.")],
    # A tracking host delegated by NS, under a multi-label public suffix
    "t.shop.example.co.uk.": [
        ("NS", "a.ns.campaign.example."),
        ("NS", "b.ns.campaign.example."),
    ],
    # A tracking host with only an address: not delegated
    "t.plain.example.com.": [("A", "192.0.2.10")],
    # A delegated tracking host on an unrelated domain
    "t.news.other-brand.com.": [("CNAME", "other.sc.omtrdc.example.")],
    "example.com.": [("A", "192.0.2.1")],
}


@dataclass
class DnsServer:
    """The running server: where it listens and how many queries it answered."""

    port: int
    queries: list[str] = field(default_factory=list)

    @property
    def settings(self) -> DnsSettings:
        return DnsSettings(nameservers=("127.0.0.1",), port=self.port, timeout=2.0)


def _answer(query: dns.message.Message) -> dns.message.Message:
    response = dns.message.make_response(query)
    response.flags |= dns.flags.AA
    question = query.question[0]
    name = question.name.to_text().lower()
    records = ZONE.get(name)
    if records is None:
        response.set_rcode(dns.rcode.NXDOMAIN)
        return response
    wanted = dns.rdatatype.to_text(question.rdtype)
    values = [value for rtype, value in records if rtype == wanted]
    if values:
        rrset = dns.rrset.from_text_list(question.name, 300, dns.rdataclass.IN, wanted, values)
        response.answer.append(rrset)
    return response


def serve(sock: socket.socket, server: DnsServer, stop: threading.Event) -> None:
    sock.settimeout(0.2)
    while not stop.is_set():
        try:
            data, peer = sock.recvfrom(4096)
        except TimeoutError:
            continue
        except OSError:
            return
        try:
            query = dns.message.from_wire(data)
        except Exception:
            continue
        server.queries.append(
            f"{query.question[0].name} {dns.rdatatype.to_text(query.question[0].rdtype)}"
        )
        sock.sendto(_answer(query).to_wire(), peer)


@pytest.fixture(scope="session", name="dns_server")
def dns_server_fixture() -> Iterator[DnsServer]:
    """A DNS server on 127.0.0.1 (a random UDP port) answering from ``ZONE``."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    server = DnsServer(port=int(sock.getsockname()[1]))
    stop = threading.Event()
    thread = threading.Thread(target=serve, args=(sock, server, stop), name="test-dns", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        stop.set()
        thread.join(2)
        sock.close()
