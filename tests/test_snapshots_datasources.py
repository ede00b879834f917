"""SVG snapshots of the data sources screen at 80x24 and 120x36 (frozen clock)."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.diagnose import Diagnosis
from storage.samples import save_sample
from tests.conftest import SAMPLE_TOML
from tests.tui_helpers import app_for, services_with_sample, settled_press

SIZES = [(80, 24), (120, 36)]

SECOND_SOURCE = """
[[datasources]]
label = "Recipient - SMS"
alias = "Adobe Campaign"
dpid = 14017
destination_id = 46391
priority = 10
id_type = "declared"
reconciliation_key = "mobile_phone"
transform = "sha256"
channel = "sms"
"""


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x36"])
def test_datasources(snap_compare, db_path: Path, frozen_clock, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    services, _ = services_with_sample(db_path, SAMPLE_TOML + SECOND_SOURCE)
    assert snap_compare(app_for(services), run_before=settled_press("f5"), terminal_size=size)


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x36"])
def test_website_check(snap_compare, db_path: Path, frozen_clock, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    services, env = services_with_sample(db_path)
    verdict = Diagnosis(
        False,
        "wrong_iv",
        "The key is right but the website uses another IV: only the first 16 bytes differ. "
        "Give the website the data source's IV as 32 hex characters "
        "(CryptoJS.enc.Hex.parse(iv)), or update the data source's IV.",
    )
    sample = "5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f00" * 2
    save_sample(services.store, env, "Recipient - Email", "alice@example.com", sample, verdict)
    assert snap_compare(
        app_for(services), run_before=settled_press("f5", "ctrl+t"), terminal_size=size
    )
