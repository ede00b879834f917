from __future__ import annotations

import email
import email.policy
import json
from pathlib import Path

from core.config import parse_environment
from core.request import render_eml, render_text
from tests.conftest import SAMPLE_TOML


def test_eml_parses_back() -> None:
    env = parse_environment(SAMPLE_TOML)
    raw = render_eml(env, to="support@example.invalid")
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert message["Subject"].startswith("Provisioning request")
    assert "Example Corp" in message["Subject"]
    assert message["To"] == "support@example.invalid"
    text = message.get_content()
    assert "Configure AAM/People core service-Campaign Integration" in text
    assert "5DC5123F5245B1D20A490D46@AdobeOrg" in text
    assert "Declared ID or Visitor ID: Declared ID" in text


def test_text_render_has_every_field() -> None:
    text = render_text(parse_environment(SAMPLE_TOML))
    for label in (
        "Request Type",
        "Organization Name",
        "IMS Org ID",
        "Environment",
        "AAM or People Service",
        "Declared ID or Visitor ID",
        "Additional Information",
    ):
        assert f"{label}:" in text


def test_cli_render_and_status(run_cli, sample_toml: Path, tmp_path: Path, frozen_clock) -> None:  # type: ignore[no-untyped-def]
    assert run_cli("config", "import", str(sample_toml)).code == 0
    out = tmp_path / "req.eml"
    assert run_cli("request", "render", "--format", "eml", "--out", str(out)).code == 0
    assert email.message_from_bytes(out.read_bytes())["Subject"]
    data = json.loads(run_cli("request", "render", "--format", "json").out)
    assert data["fields"]["IMS Org ID"] == "5DC5123F5245B1D20A490D46@AdobeOrg"
    assert data["status"] == "draft"
    moved = run_cli("request", "status", "provisioned", "--json")
    history = json.loads(moved.out)["history"]
    assert list(history) == ["draft", "sent", "provisioned"]
    assert history["sent"] == "2026-11-02T09:30:00Z"
    back = json.loads(run_cli("request", "status", "sent", "--json").out)
    assert back["status"] == "sent" and "provisioned" not in back["history"]


def test_incomplete_request_cannot_leave_draft(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    toml = tmp_path / "e.toml"
    toml.write_text('name = "dev"\n[request]\norganization = "X"\n')
    assert run_cli("config", "import", str(toml)).code == 0
    result = run_cli("request", "status", "sent")
    assert result.code == 2
    assert "missing: ims_org_id" in result.err
    assert run_cli("request", "render").code == 2
