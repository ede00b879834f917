"""The Visitor ID service check against a local web server on 127.0.0.1 and saved pages."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from core.errors import ConnectionFailure
from core.website import MAX_PAGE_BYTES, fetch_page, inspect_page, judge
from tests.test_checks import ORG, World

OTHER_ORG = "AAAABBBBCCCCDDDDEEEEFFFF@AdobeOrg"

PAGES: dict[str, str] = {
    "/visitor.html": f"""<!doctype html><html><head>
<script src="/js/VisitorAPI.js"></script>
<script>
  var visitor = Visitor.getInstance('{ORG}', {{ trackingServer: "t.news.example.com" }});
  visitor.setCustomerIDs({{ "AdobeCampaignID": {{ "id": hashed, "authState": 1 }} }});
</script></head><body>shop</body></html>""",
    "/alloy.html": f"""<!doctype html><html><head><script>
  alloy("configure", {{
    edgeConfigId: "ebebf826-a01f-4458-8cec-ef61de241c93",
    orgId: "{ORG}",
    thirdPartyCookiesEnabled: true
  }});
  alloy("sendEvent", {{ xdm: {{ identityMap: {{ "AdobeCampaignID": [{{ id: x }}] }} }} }});
</script></head></html>""",
    "/wrong.html": f"""<script>var v = Visitor.getInstance("{OTHER_ORG}");</script>""",
    "/none.html": "<!doctype html><html><body><h1>No Adobe here</h1></body></html>",
    "/launch.html": '<script src="https://assets.adobedtm.com/abc/launch-0123abcd.min.js"></script>',
}


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        page = PAGES.get(self.path)
        if self.path == "/big.html":
            body = (b"x" * 1000) + f'Visitor.getInstance("{ORG}")'.encode()
        elif page is None:
            self.send_error(404, "Not Found")
            return
        else:
            body = page.encode("utf-8")
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:  # keep test output clean
        pass


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    """A web server on 127.0.0.1 serving PAGES; yields its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, name="test-http", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path)


def _check(world: World, url: str, offline: bool = False) -> tuple[str, str, str]:
    env = world.save(world.toml().replace("https://www.example.com", url))
    result = world.run(env, "website.visitor_id", offline=offline)
    return result.status, result.detail, result.fix


def test_visitor_api_with_right_org_passes(world: World, site: str) -> None:
    status, detail, _ = _check(world, f"{site}/visitor.html")
    assert status == "pass", detail
    assert f"Visitor.getInstance({ORG})" in detail
    assert "AdobeCampaignID" in detail


def test_alloy_with_right_org_passes(world: World, site: str) -> None:
    status, detail, _ = _check(world, f"{site}/alloy.html")
    assert status == "pass", detail
    assert 'alloy("configure"' in detail


def test_wrong_org_fails_naming_the_org_found(world: World, site: str) -> None:
    status, detail, fix = _check(world, f"{site}/wrong.html")
    assert status == "fail"
    assert OTHER_ORG in detail and ORG in detail
    assert ORG in fix


def test_no_service_fails(world: World, site: str) -> None:
    status, detail, fix = _check(world, f"{site}/none.html")
    assert status == "fail"
    assert "no Visitor ID service found" in detail
    assert "VisitorAPI.js or the Web SDK" in fix


def test_tag_manager_only_warns(world: World, site: str) -> None:
    status, detail, _ = _check(world, f"{site}/launch.html")
    assert status == "warn"
    assert "Adobe Tags" in detail


def test_http_error_fails_with_status(world: World, site: str) -> None:
    status, detail, _ = _check(world, f"{site}/missing.html")
    assert status == "fail"
    assert "HTTP 404" in detail


def test_saved_file_is_used_offline(world: World, site: str) -> None:
    status, detail, _ = _check(world, f"{site}/none.html", offline=True)
    assert status == "pass", detail  # the saved page (World's PAGE) has the right org
    assert "saved page" in detail


def test_offline_without_file_skips(world: World) -> None:
    text = world.toml().replace(f'website_file = "{world.page}"\n', "")
    env = world.save(text)
    result = world.run(env, "website.visitor_id", offline=True)
    assert result.status == "skip"
    assert "website_file" in result.fix


def test_saved_file_with_wrong_org_fails(world: World) -> None:
    world.page.write_text(PAGES["/wrong.html"], encoding="utf-8")
    env = world.save()
    result = world.run(env, "website.visitor_id", offline=True)
    assert result.status == "fail"
    assert OTHER_ORG in result.detail


def test_missing_declared_id_code_warns() -> None:
    findings = inspect_page(f'Visitor.getInstance("{ORG}", {{}})')
    assert judge(findings, ORG, needs_declared_id=True, source="p").status == "warn"
    assert judge(findings, ORG, needs_declared_id=False, source="p").status == "pass"


def test_fetch_is_size_capped(site: str) -> None:
    page = fetch_page(f"{site}/big.html", timeout=5, max_bytes=500)
    assert len(page.text) == 500 and page.cut
    assert "Visitor" not in page.text
    whole = fetch_page(f"{site}/visitor.html", timeout=5, max_bytes=len(PAGES["/visitor.html"]))
    assert not whole.cut and whole.text == PAGES["/visitor.html"]


def test_a_page_cut_at_the_cap_is_said_so_never_judged_as_whole(world: World) -> None:
    """The Visitor ID code past the 2 MiB cut: "not found" on the part read is a warning
    naming the cut, not a plain "no service" failure."""
    filler = "<!-- " + "x" * MAX_PAGE_BYTES + " -->"
    world.page.write_text(filler + f'<script>Visitor.getInstance("{ORG}")</script>')
    result = world.run(world.save(), "website.visitor_id", offline=True)
    assert result.status == "warn", result.detail
    assert "larger than 2 MiB" in result.detail and "first 2 MiB" in result.detail
    # Exactly at the cap: whole, judged as usual.
    page = f'<script>Visitor.getInstance("{ORG}")</script>'
    world.page.write_text(page + " " * (MAX_PAGE_BYTES - len(page)))
    result = world.run(world.save(), "website.visitor_id", offline=True)
    assert "MiB" not in result.detail and "Visitor.getInstance(" in result.detail


def test_fetch_refused_port_is_a_connection_failure() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(ConnectionFailure):
        fetch_page(f"http://127.0.0.1:{port}/", timeout=2)
