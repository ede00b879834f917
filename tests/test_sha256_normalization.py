"""SHA-256 declared IDs from the Experience Cloud ID service, for channel Other.

``visitor.setCustomerIDs(ids, "SHA-256")`` trims and lower-cases every customer ID
before hashing (Adobe's "SHA256 Hashing Support for setCustomerIDs" page). A
hashed data source with channel Other hashes the reconciliation key as stored, so
an ID stored with capitals or spaces never matches; forensics' ``normalization``
cause counts the ``not_found`` IDs that would match under that normalization.
The website's digests are made by node's crypto (an external tool) after the
normalization the page describes.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from dataclasses import replace

import pytest

from core.cipher import IdCodec
from core.forensics import Miss, ProfileValues, find_causes
from core.model import Channel, DataSource, IdType, Transform
from core.outcomes import Outcome

STORED = [
    "  CRM-00A17 ",
    "Ana.Lopez@Example.COM",
    "CRM-00B42",
    "crm-00c99",  # already normalized: hashed the same either way
    "CRM-00D07",
]

_NODE = r"""
const c = require('crypto');
const values = JSON.parse(require('fs').readFileSync(0, 'utf8'));
// what setCustomerIDs(..., "SHA-256") does: trim, lower-case, then SHA-256 in hex
process.stdout.write(JSON.stringify(values.map(
  (v) => c.createHash('sha256').update(v.trim().toLowerCase(), 'utf8').digest('hex'))));
"""


def _ecid_sha256(values: list[str]) -> list[str]:
    if shutil.which("node") is None:
        pytest.skip("node is needed to hash like the website")
    done = subprocess.run(
        ["node", "-e", _NODE],
        input=json.dumps(values),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    result: list[str] = json.loads(done.stdout)
    return result


def _ds(channel: Channel) -> DataSource:
    return DataSource(
        label="Recipient - CRM ID (SHA-256)",
        alias="Adobe Campaign",
        dpid=14016,
        destination_id=46393,
        id_type=IdType.DECLARED,
        reconciliation_key="customer_id",
        transform=Transform.SHA256,
        channel=channel,
    )


def _misses(ds: DataSource, ids: list[str], stored: list[str]) -> list[Miss]:
    codec = IdCodec(ds, None, None)
    known = set(codec.profile_keys(stored))
    out: list[Miss] = []
    for line, (raw, got) in enumerate(zip(ids, codec.incoming(ids), strict=True), start=1):
        if isinstance(got, Outcome):
            out.append(Miss("ftp_1_2_full_1449756724.sync", line, raw, got.value))
        elif got not in known:
            out.append(Miss("ftp_1_2_full_1449756724.sync", line, raw, "not_found"))
    return out


def test_ecid_normalized_digests_are_named_for_channel_other() -> None:
    ds = _ds(Channel.OTHER)
    ids = [*_ecid_sha256(STORED), hashlib.sha256(b"someone else").hexdigest()]
    misses = _misses(ds, ids, STORED)
    # crm-00c99 reconciles (already normalized); the other four, and a stranger, do not
    assert len(misses) == 5 and all(m.outcome == "not_found" for m in misses)
    causes = {
        c.code: c for c in find_causes(ds, None, None, misses, ProfileValues(STORED, ds.channel))
    }
    cause = causes["normalization"]
    assert cause.count == 4  # the stranger's digest is not explained
    assert 'setCustomerIDs(..., "SHA-256")' in cause.detail
    assert "trimmed and lower-cased" in cause.detail and "channel Other" in cause.detail
    assert "lower-cased" in cause.fix
    for value in STORED:
        assert value.strip().lower() not in cause.detail.lower()


def test_digests_of_values_as_stored_reconcile_and_need_no_cause() -> None:
    """The passing side: a website that hashes the value as stored matches channel Other."""
    ds = _ds(Channel.OTHER)
    ids = [hashlib.sha256(v.encode("utf-8")).hexdigest() for v in STORED]
    assert _misses(ds, ids, STORED) == []
    already = [v.strip().lower() for v in STORED]  # values stored normalized: ECID matches
    assert _misses(ds, _ecid_sha256(already), already) == []


def test_email_channel_keeps_its_own_normalization_wording() -> None:
    """Channel Email normalizes on Campaign's side already: digests of the raw value are
    the mismatch there, named as such (not as setCustomerIDs')."""
    ds = replace(_ds(Channel.EMAIL), reconciliation_key="email")
    stored = ["Ana.Lopez@Example.COM", "bob@example.com "]
    ids = [hashlib.sha256(v.encode("utf-8")).hexdigest() for v in stored]
    misses = _misses(ds, ids, stored)
    causes = {
        c.code: c for c in find_causes(ds, None, None, misses, ProfileValues(stored, ds.channel))
    }
    assert "setCustomerIDs" not in causes["normalization"].detail
    assert "as stored or typed" in causes["normalization"].detail
