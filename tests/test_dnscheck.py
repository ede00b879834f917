"""The tracking-server check against a real DNS server process on 127.0.0.1."""

from __future__ import annotations

import socket

import pytest

from core.dnscheck import DnsSettings, check_tracking, lookup, registrable_domain, website_host
from tests.dns_server import DnsServer, dns_server_fixture  # noqa: F401 (fixture)


@pytest.mark.parametrize(
    ("host", "domain"),
    [
        ("t.news.example.com", "example.com"),
        ("www.example.co.uk", "example.co.uk"),
        ("t.shop.example.co.uk", "example.co.uk"),
        ("a.b.example.com.au", "example.com.au"),
        ("shop.example.co.jp.", "example.co.jp"),
        ("example.com", "example.com"),
        ("WWW.Example.COM", "example.com"),
    ],
)
def test_registrable_domain(host: str, domain: str) -> None:
    assert registrable_domain(host) == domain


def test_website_host_accepts_urls_and_bare_names() -> None:
    assert website_host("https://www.example.com/path?q=1") == "www.example.com"
    assert website_host("www.example.com") == "www.example.com"
    assert website_host("") == ""


def test_cname_delegation_passes(dns_server: DnsServer) -> None:
    verdict = check_tracking("t.news.example.com", "https://www.example.com", dns_server.settings)
    assert verdict.status == "pass", verdict
    assert "CNAME to news.example.com.ssl.sc.omtrdc.example" in verdict.detail
    assert "t.news.example.com. CNAME" in dns_server.queries


def test_ns_delegation_under_multi_label_suffix_passes(dns_server: DnsServer) -> None:
    verdict = check_tracking(
        "t.shop.example.co.uk", "https://www.example.co.uk", dns_server.settings
    )
    assert verdict.status == "pass", verdict
    assert "delegated by NS to a.ns.campaign.example, b.ns.campaign.example" in verdict.detail
    assert "example.co.uk" in verdict.detail


def test_nxdomain_fails(dns_server: DnsServer) -> None:
    verdict = check_tracking("t.gone.example.com", "https://www.example.com", dns_server.settings)
    assert verdict.status == "fail"
    assert "NXDOMAIN" in verdict.detail
    assert "delegation" in verdict.fix


def test_address_only_is_not_a_delegation(dns_server: DnsServer) -> None:
    verdict = check_tracking("t.plain.example.com", "https://www.example.com", dns_server.settings)
    assert verdict.status == "fail"
    assert "neither a CNAME nor an NS delegation" in verdict.detail


def test_other_registrable_domain_fails(dns_server: DnsServer) -> None:
    verdict = check_tracking(
        "t.news.other-brand.com", "https://www.example.com", dns_server.settings
    )
    assert verdict.status == "fail"
    assert "other-brand.com is not the website's example.com" in verdict.detail


def test_delegated_but_no_website_warns(dns_server: DnsServer) -> None:
    assert check_tracking("t.news.example.com", "", dns_server.settings).status == "warn"


def test_silent_server_is_a_bounded_failure() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))  # bound, never answers
        port = sock.getsockname()[1]
        settings = DnsSettings(nameservers=("127.0.0.1",), port=port, timeout=0.5)
        found = lookup("t.news.example.com", settings)
        assert found.error
        verdict = check_tracking("t.news.example.com", "https://www.example.com", settings)
    assert verdict.status == "fail"
    assert "DNS could not answer" in verdict.detail
