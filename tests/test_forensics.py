"""Forensics (core/forensics/): each website mistake made by the tool that really makes it.

Ciphertexts come from the openssl command, Node's crypto module and CryptoJS
(installed from the npm registry into a temporary folder once per session),
never from our own cipher code. Missing tools skip these tests, except under
``CI`` where they fail: CI must run them.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.cipher import IdCodec, pkcs7_pad
from core.cryptojs import evp_bytes_to_key, rijndael_cbc_decrypt
from core.forensics import Cause, Miss, MissSample, ProfileValues, find_causes
from core.model import Channel, CipherEncoding, DataSource, IdType, Transform
from core.outcomes import Outcome
from core.profiles import CsvProfiles
from core.secrets import Secret
from tests.external import openssl

KEY_HEX = "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4"
IV_HEX = "000102030405060708090a0b0c0d0e0f"
KEY = bytes.fromhex(KEY_HEX)
IV = bytes.fromhex(IV_HEX)
WRONG_IV_HEX = "f0e1d2c3b4a5968778695a4b3c2d1e0f"

_FIRST = ("alice", "bruno", "chloe", "dora", "farid", "gina", "hugo", "ines")
_LAST = ("martin", "bernard", "dubois", "thomas", "robert", "petit")
_DOMAINS = ("example.com", "mail.example.org", "example.fr")


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"CI must run the forensics tests, but {reason}", pytrace=False)
    pytest.skip(reason)


def _profiles() -> list[str]:
    rng = random.Random(18)
    values = [
        f"{rng.choice(_FIRST)}.{rng.choice(_LAST)}{i}@{rng.choice(_DOMAINS)}" for i in range(400)
    ]
    values += [f"al{i}@ex.fr" for i in range(40)]  # one AES block: no tail to go by
    return values


PROFILES = _profiles()
LONG = [v for v in PROFILES if len(v) >= 24]
SHORT = [v for v in PROFILES if len(v) < 16]
STRANGERS = [f"nobody.known{i}@elsewhere.example.net" for i in range(12)]


def _ds(**kw: object) -> DataSource:
    base: dict[str, object] = {
        "label": "Declared - email",
        "id_type": IdType.DECLARED,
        "reconciliation_key": "email",
        "transform": Transform.AES,
        "channel": Channel.EMAIL,
    }
    base.update(kw)
    if base["transform"] is Transform.AES:
        base.update(aes_key=Secret("env", "AES_KEY"), aes_iv=Secret("env", "AES_IV"))
    return DataSource(**base)  # type: ignore[arg-type]


def _misses(ds: DataSource, ids: list[str], file: str = "a.sync") -> list[Miss]:
    """The misses as the reconciliation sees them: the codec's outcome (not_found if it
    decodes), for the lines no profile matched."""
    codec = IdCodec(
        ds,
        KEY if ds.transform is Transform.AES else None,
        IV if ds.transform is Transform.AES else None,
    )
    known = set(codec.profile_keys(PROFILES))
    out = []
    for line, (raw, got) in enumerate(zip(ids, codec.incoming(ids), strict=True), start=1):
        if isinstance(got, Outcome):
            out.append(Miss(file, line, raw, got.value))
        elif got not in known:
            out.append(Miss(file, line, raw, Outcome.NOT_FOUND.value))
    return out


def _find(ds: DataSource, ids: list[str], **kw: object) -> list[Cause]:
    profiles = ProfileValues(PROFILES, ds.channel)
    key = KEY if ds.transform is Transform.AES else None
    iv = IV if ds.transform is Transform.AES else None
    return find_causes(ds, key, iv, _misses(ds, ids), profiles, **kw)  # type: ignore[arg-type]


def _by_code(causes: list[Cause]) -> dict[str, Cause]:
    codes = [c.code for c in causes]
    assert len(codes) == len(set(codes)), codes
    return {c.code: c for c in causes}


def _no_secret(causes: list[Cause]) -> None:
    text = json.dumps([c.to_json() for c in causes]).lower()
    for secret in (KEY_HEX, KEY_HEX[:32], IV_HEX, WRONG_IV_HEX):
        assert secret not in text
    for value in PROFILES:
        assert value.lower() not in text


# ------------------------------------------------------------------ the tools


def _openssl(args: list[str], data: bytes) -> bytes:
    if shutil.which("openssl") is None:
        _unavailable("openssl is not installed")
    return openssl(args, data)


_NODE = r"""
const crypto = require('crypto');
let CryptoJS = null;
try { CryptoJS = require('crypto-js'); } catch (e) {}
const jobs = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const out = jobs.map((j) => {
  switch (j.op) {
    case 'cbc': {  // Node crypto, key and IV as hex, output hex or base64
      const c = crypto.createCipheriv(j.algo, Buffer.from(j.key, 'hex'), Buffer.from(j.iv, 'hex'));
      return Buffer.concat([c.update(j.value, 'utf8'), c.final()]).toString(j.enc);
    }
    case 'random_iv': {  // a fresh IV per value, not sent along
      const key = Buffer.from(j.key, 'hex');
      const c = crypto.createCipheriv('aes-256-cbc', key, crypto.randomBytes(16));
      return Buffer.concat([c.update(j.value, 'utf8'), c.final()]).toString('hex');
    }
    case 'prepend_iv': {  // a fresh IV per value, sent in front
      const iv = crypto.randomBytes(16);
      const c = crypto.createCipheriv('aes-256-cbc', Buffer.from(j.key, 'hex'), iv);
      return Buffer.concat([iv, c.update(j.value, 'utf8'), c.final()]).toString('hex');
    }
    case 'hash':
      return crypto.createHash(j.algo).update(j.value, 'utf8').digest(j.enc);
    case 'cjs_text_key': {  // CryptoJS.enc.Utf8.parse of the hex key
      const r = CryptoJS.AES.encrypt(j.value, CryptoJS.enc.Utf8.parse(j.key),
                                     {iv: CryptoJS.enc.Hex.parse(j.iv)});
      return r.ciphertext.toString();
    }
    case 'cjs_passphrase':  // the key given as a string: passphrase mode
      return CryptoJS.AES.encrypt(j.value, j.key).toString();
    case 'cjs_ok': {
      const r = CryptoJS.AES.encrypt(j.value, CryptoJS.enc.Hex.parse(j.key),
                                     {iv: CryptoJS.enc.Hex.parse(j.iv)});
      return r.ciphertext.toString();
    }
  }
  throw new Error('unknown op ' + j.op);
});
process.stdout.write(JSON.stringify(out));
"""


def _node(jobs: list[dict[str, str]], modules: Path | None = None) -> list[str]:
    if shutil.which("node") is None:
        _unavailable("node is not installed")
    env = dict(os.environ)
    if modules is not None:
        env["NODE_PATH"] = str(modules)
    done = subprocess.run(
        ["node", "-e", _NODE],
        input=json.dumps(jobs),
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=True,
    )
    return list(json.loads(done.stdout))


def _openssl_cbc(values: list[str], iv_hex: str = IV_HEX) -> list[str]:
    return [
        _openssl(["enc", "-aes-256-cbc", "-K", KEY_HEX, "-iv", iv_hex], v.encode()).hex()
        for v in values
    ]


# ------------------------------------------------------------------ each cause


def test_wrong_iv_one_iv_for_all_openssl() -> None:
    ds = _ds()
    values = LONG[:8] + SHORT[:3]
    causes = _find(ds, _openssl_cbc(values, WRONG_IV_HEX))
    found = _by_code(causes)
    assert set(found) == {"wrong_iv"}
    cause = found["wrong_iv"]
    assert cause.count == 11  # short values too: decrypted with the recovered IV
    assert cause.outcome == "not_utf8" or dict(cause.outcomes)["not_utf8"] >= 1
    assert "one and the same other IV" in cause.detail
    assert cause.examples == ("a.sync:1", "a.sync:2")
    assert "Shared Data Sources" in cause.fix
    _no_secret(causes)


def test_wrong_iv_random_per_id_and_prepended_node() -> None:
    ds = _ds()
    rnd = _node([{"op": "random_iv", "key": KEY_HEX, "value": v} for v in LONG[10:16]])
    pre = _node([{"op": "prepend_iv", "key": KEY_HEX, "value": v} for v in LONG[20:24]])
    cause = _by_code(_find(ds, rnd + pre))["wrong_iv"]
    assert cause.count == 10
    assert "6 end like profiles' values" in cause.detail
    assert "4 carry their own IV in front" in cause.detail


def test_wrong_iv_that_is_the_first_bytes_of_the_key() -> None:
    ds = _ds()
    cause = _by_code(_find(ds, _openssl_cbc(SHORT[:4], KEY_HEX[:32])))["wrong_iv"]
    assert cause.count == 4
    assert "the first 16 bytes of the key as IV" in cause.detail


def test_passphrase_mode_openssl_md5() -> None:
    ds = _ds(ciphertext_encoding=CipherEncoding.BASE64)
    ids = [
        _openssl(
            ["enc", "-aes-256-cbc", "-md", "md5", "-pass", f"pass:{KEY_HEX}", "-base64", "-A"],
            v.encode(),
        )
        .decode()
        .strip()
        for v in LONG[:3] + SHORT[:2]
    ]
    assert all(i.startswith("U2FsdGVkX1") for i in ids)
    cause = _by_code(_find(ds, ids))["passphrase_mode"]
    assert cause.count == 5
    assert "5 decrypt to profiles' values" in cause.detail and "MD5" in cause.detail
    assert "CryptoJS.enc.Hex.parse" in cause.fix


def test_passphrase_mode_cryptojs_hex_source(cryptojs: Path) -> None:
    ds = _ds()  # hex expected: base64 passphrase output is bad_encoding
    ids = _node([{"op": "cjs_passphrase", "key": KEY_HEX, "value": v} for v in LONG[:4]], cryptojs)
    other = _node(
        [{"op": "cjs_passphrase", "key": "another secret", "value": v} for v in LONG[4:6]], cryptojs
    )
    misses = _misses(ds, ids + other)
    assert {m.outcome for m in misses} == {"bad_encoding"}
    cause = _by_code(_find(ds, ids + other))["passphrase_mode"]
    assert cause.count == 6
    assert "4 decrypt" in cause.detail and "2 do not decrypt" in cause.detail


@pytest.mark.parametrize("key_chars", [32, 48, 64])
def test_key_as_text_cryptojs(cryptojs: Path, key_chars: int) -> None:
    key_hex = KEY_HEX[:key_chars]
    ds = _ds()
    values = LONG[:5] + SHORT[:2]
    ids = _node(
        [{"op": "cjs_text_key", "key": key_hex, "iv": IV_HEX, "value": v} for v in values],
        cryptojs,
    )
    profiles = ProfileValues(PROFILES, ds.channel)
    key = bytes.fromhex(key_hex)
    codec = IdCodec(ds, key, IV)
    misses = [
        Miss("f", n, i, o.value if isinstance(o, Outcome) else "not_found")
        for n, (i, o) in enumerate(zip(ids, codec.incoming(ids), strict=True), 1)
    ]
    cause = _by_code(find_causes(ds, key, IV, misses, profiles))["key_as_text"]
    assert cause.count == 7
    assert f"{key_chars} hex characters as a {key_chars}-byte key" in cause.detail


def test_cryptojs_long_keys_are_decrypted_as_cryptojs_encrypts(cryptojs: Path) -> None:
    """48- and 64-byte CryptoJS keys: our Rijndael with CryptoJS's schedule reads them."""
    for chars in (48, 64):
        key_text = KEY_HEX[:chars]
        [ct] = _node(
            [{"op": "cjs_text_key", "key": key_text, "iv": IV_HEX, "value": LONG[0]}], cryptojs
        )
        plain = rijndael_cbc_decrypt(key_text.encode(), IV, [bytes.fromhex(ct)])[0]
        assert plain == pkcs7_pad(LONG[0].encode())


def test_evp_bytes_to_key_is_openssls() -> None:
    salt = bytes.fromhex("0102030405060708")
    out = _openssl(
        ["enc", "-aes-256-cbc", "-md", "md5", "-pass", "pass:secret", "-S", salt.hex(), "-P"],
        b"",
    ).decode()
    fields = {
        name.strip(): value.strip()[:64]
        for name, value in (line.split("=", 1) for line in out.splitlines() if "=" in line)
    }
    key, iv = evp_bytes_to_key(b"secret", salt, 32)
    assert fields["key"].lower() == key.hex() and fields["iv"][:32].lower() == iv.hex()


def test_zero_padding_openssl_nopad() -> None:
    ds = _ds()
    ids = []
    for v in LONG[:4] + SHORT[:2]:
        data = v.encode()
        data += b"\0" * (-len(data) % 16)
        ids.append(
            _openssl(["enc", "-aes-256-cbc", "-K", KEY_HEX, "-iv", IV_HEX, "-nopad"], data).hex()
        )
    cause = _by_code(_find(ds, ids))["zero_padding"]
    assert cause.count == 6 and cause.outcome == "bad_padding"


def test_ecb_mode_openssl() -> None:
    ds = _ds()
    ids = [
        _openssl(["enc", "-aes-256-ecb", "-K", KEY_HEX], v.encode()).hex()
        for v in LONG[:4] + SHORT[:2]
    ]
    found = _by_code(_find(ds, ids))
    assert set(found) == {"ecb_mode"}
    assert found["ecb_mode"].count == 6


def test_ciphertext_encoding_base64_from_node() -> None:
    ds = _ds()
    ids = _node(
        [
            {
                "op": "cbc",
                "algo": "aes-256-cbc",
                "key": KEY_HEX,
                "iv": IV_HEX,
                "value": v,
                "enc": "base64",
            }
            for v in LONG[:5]
        ]
    )
    cause = _by_code(_find(ds, ids))["ciphertext_encoding"]
    assert cause.count == 5 and cause.outcome == "bad_encoding"
    assert "base64" in cause.detail


def test_ciphertext_encoding_hex_for_a_base64_source() -> None:
    ds = _ds(ciphertext_encoding=CipherEncoding.BASE64)
    cause = _by_code(_find(ds, _openssl_cbc(LONG[:4])))["ciphertext_encoding"]
    assert cause.count == 4
    assert "ciphertext encoding to hex" in cause.fix


def test_upper_case_hex_is_no_miss() -> None:
    ds = _ds()
    ids = [i.upper() for i in _openssl_cbc(LONG[:3])]
    assert _misses(ds, ids) == []


def test_hashed_not_encrypted_for_an_aes_source_node() -> None:
    ds = _ds()
    ids = _node([{"op": "hash", "algo": "sha256", "value": v, "enc": "hex"} for v in LONG[:3]])
    ids += _node([{"op": "hash", "algo": "md5", "value": v, "enc": "hex"} for v in LONG[3:5]])
    ids += _node(
        [{"op": "hash", "algo": "sha1", "value": v.upper(), "enc": "hex"} for v in LONG[5:7]]
    )
    cause = _by_code(_find(ds, ids))["hashed_not_encrypted"]
    assert cause.count == 5  # the upper-cased SHA-1 values are no profile's spelling
    assert "SHA-256" in cause.detail and "MD5" in cause.detail


def test_normalization_for_a_hashed_source() -> None:
    ds = _ds(transform=Transform.SHA256)
    typed = [" " + v.title() for v in LONG[:4]]
    profiles = [*PROFILES[:200], *typed]  # the profiles hold the value as typed
    ids = _node([{"op": "hash", "algo": "sha256", "value": v, "enc": "hex"} for v in typed])
    misses = [Miss("h.sync", n, i, "not_found") for n, i in enumerate(ids, 1)]
    found = _by_code(find_causes(ds, None, None, misses, ProfileValues(profiles, ds.channel)))
    assert found["normalization"].count == 4
    assert "trim and lower-case" in found["normalization"].fix


def test_other_algorithm_and_base64_digest_for_a_hashed_source() -> None:
    ds = _ds(transform=Transform.SHA256)
    sha1 = _node([{"op": "hash", "algo": "sha1", "value": v, "enc": "hex"} for v in LONG[:3]])
    b64 = _node([{"op": "hash", "algo": "sha256", "value": v, "enc": "base64"} for v in LONG[3:5]])
    found = _by_code(_find(ds, sha1 + b64))
    assert found["unknown"].count == 3 and "SHA-1" in found["unknown"].detail
    assert found["unknown"].outcome == "wrong_hash_length"
    assert found["ciphertext_encoding"].count == 2


def test_encrypted_for_a_hashed_source_shape_and_key() -> None:
    ds = _ds(transform=Transform.SHA256)
    long_values = [v for v in LONG if len(v) >= 32][:3]
    ids = _openssl_cbc(long_values)  # 48 bytes: no digest has that length
    shape = _by_code(_find(ds, ids))["hashed_not_encrypted"]
    assert shape.count == 3 and "no key was at hand" in shape.detail
    keyed = _by_code(_find(ds, ids, other_keys=[("Declared - AES", KEY, IV)]))
    assert "decrypt to profiles' values with the key and IV of data source" in (
        keyed["hashed_not_encrypted"].detail
    )


def test_hashed_ids_for_a_clear_source() -> None:
    ds = _ds(transform=Transform.NONE)
    ids = [hashlib.sha256(v.encode()).hexdigest() for v in LONG[:3]]
    ids = _node([{"op": "hash", "algo": "sha256", "value": v, "enc": "hex"} for v in LONG[:3]])
    cause = _by_code(_find(ds, ids))["hashed_not_encrypted"]
    assert cause.count == 3 and "transform to sha256" in cause.fix


# ------------------------------------------------------------------ mixes and none


@pytest.fixture
def mixed(cryptojs: Path) -> Iterator[tuple[list[str], dict[str, int]]]:
    wrong_iv = _openssl_cbc(LONG[:7], WRONG_IV_HEX)
    text_key = _node(
        [{"op": "cjs_text_key", "key": KEY_HEX, "iv": IV_HEX, "value": v} for v in LONG[30:35]],
        cryptojs,
    )
    ecb = [_openssl(["enc", "-aes-256-ecb", "-K", KEY_HEX], v.encode()).hex() for v in LONG[40:43]]
    hashed = _node(
        [{"op": "hash", "algo": "sha256", "value": v, "enc": "hex"} for v in LONG[50:54]]
    )
    good = _node(
        [{"op": "cjs_ok", "key": KEY_HEX, "iv": IV_HEX, "value": v} for v in LONG[60:70]], cryptojs
    )
    strangers = _openssl_cbc(STRANGERS)
    rng = random.Random(5)
    ids = wrong_iv + text_key + ecb + hashed + good + strangers
    rng.shuffle(ids)
    yield ids, {"wrong_iv": 7, "key_as_text": 5, "ecb_mode": 3, "hashed_not_encrypted": 4}


def test_a_mix_of_mistakes_is_attributed_line_by_line(
    mixed: tuple[list[str], dict[str, int]],
) -> None:
    ids, expected = mixed
    ds = _ds()
    causes = _find(ds, ids)
    assert {c.code: c.count for c in causes} == expected
    assert [c.count for c in causes] == sorted((c.count for c in causes), reverse=True)
    for cause in causes:
        assert 1 <= len(cause.examples) <= 2
        assert cause.to_json().keys() == {"code", "outcome", "count", "detail", "fix", "examples"}
    _no_secret(causes)


def test_true_misses_give_no_cause() -> None:
    ds = _ds()
    ids = _openssl_cbc(STRANGERS)
    misses = _misses(ds, ids)
    assert len(misses) == len(STRANGERS)
    assert _find(ds, ids) == []
    hashed = _ds(transform=Transform.SHA256)
    digests = [hashlib.sha256(v.encode()).hexdigest() for v in STRANGERS]
    assert _find(hashed, digests) == []


def test_sampling_says_so_and_streams_evenly() -> None:
    ds = _ds()
    ids = _openssl_cbc(LONG[:6], WRONG_IV_HEX) * 5
    misses = _misses(ds, ids)
    causes = find_causes(
        ds, KEY, IV, misses, ProfileValues(PROFILES, ds.channel), limit_per_outcome=10
    )
    cause = _by_code(causes)["wrong_iv"]
    assert cause.count == 10
    assert "tested 10 of 30 lines" in cause.detail and "about 30 in all" in cause.detail
    sample = MissSample(cap=4)
    for n in range(1, 20):
        sample.add("f", n, f"id{n}", "not_utf8")
    assert sample.totals["not_utf8"] == 19
    assert [m.line for m in sample.misses] == [1, 9, 17]  # every 8th, at most 4


def test_profiles_are_read_only_when_a_hypothesis_needs_them() -> None:
    ds = _ds()
    reads: list[int] = []

    def column() -> list[str]:
        reads.append(1)
        return PROFILES

    known = set(PROFILES)
    profiles = ProfileValues(column, ds.channel, contains=lambda vs: [v in known for v in vs])
    find_causes(ds, KEY, IV, _misses(ds, _openssl_cbc(STRANGERS[:3])), profiles)
    assert reads == []
    find_causes(ds, KEY, IV, _misses(ds, _openssl_cbc(LONG[:2], WRONG_IV_HEX)), profiles)
    assert reads == [1]


def test_visitor_sources_and_bad_keys_give_nothing() -> None:
    visitor = DataSource(label="Recipient - Visitor ID")
    miss = [Miss("f", 1, "x", "invalid_visitor_id")]
    assert find_causes(visitor, None, None, miss, ProfileValues([], Channel.OTHER)) == []
    assert find_causes(_ds(), b"short", IV, miss, ProfileValues([], Channel.EMAIL)) == []


def test_non_ascii_values_wrong_iv_and_phones_hashed_without_plus() -> None:
    ds = _ds()
    accented = [f"élodie.françois{i}@exemple-café.fr" for i in range(6)]
    profiles = ProfileValues([*PROFILES, *accented], ds.channel)
    ids = _openssl_cbc(accented, WRONG_IV_HEX)
    misses = [Miss("u.sync", n, i, "not_utf8") for n, i in enumerate(ids, 1)]
    found = _by_code(find_causes(ds, KEY, IV, misses, profiles))
    assert found["wrong_iv"].count == 6
    sms = _ds(transform=Transform.SHA256, channel=Channel.SMS, reconciliation_key="mobile")
    phones = ["+33 6 12 34 56 7" + str(i) for i in range(5)]
    ids = _node(
        [
            {"op": "hash", "algo": "sha256", "value": "3361234567" + str(i), "enc": "hex"}
            for i in range(5)
        ]
    )
    misses = [Miss("p.sync", n, i, "not_found") for n, i in enumerate(ids, 1)]
    found = _by_code(find_causes(sms, None, None, misses, ProfileValues(phones, Channel.SMS)))
    assert found["normalization"].count == 5
    assert "+ and digits" in found["normalization"].fix


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    ids=st.lists(st.text(min_size=0, max_size=90), min_size=1, max_size=12),
    transform=st.sampled_from([Transform.AES, Transform.SHA256, Transform.MD5, Transform.NONE]),
    encoding=st.sampled_from(list(CipherEncoding)),
)
def test_any_ids_give_an_answer_and_never_a_false_cause(
    ids: list[str], transform: Transform, encoding: CipherEncoding
) -> None:
    ds = _ds(transform=transform, ciphertext_encoding=encoding)
    outcomes = ("bad_padding", "not_utf8", "bad_encoding", "not_found", "wrong_hash_length")
    misses = [Miss("z", n, i, outcomes[n % 5]) for n, i in enumerate(ids, 1)]
    key = KEY if transform is Transform.AES else None
    iv = IV if transform is Transform.AES else None
    causes = find_causes(ds, key, iv, misses, ProfileValues(PROFILES, ds.channel))
    # Random text is no profile's value, digest or ciphertext: only shapes may be named,
    # saying that they are shapes.
    for cause in causes:
        assert cause.code in ("hashed_not_encrypted", "passphrase_mode"), cause
        assert "no key was at hand" in cause.detail or "do not decrypt" in cause.detail


def test_profiles_from_a_csv_are_read_only_when_needed(tmp_path: Path) -> None:
    csv = tmp_path / "profiles.csv"
    csv.write_text("id,email\n" + "".join(f"p{n},{v}\n" for n, v in enumerate(PROFILES)))
    source = CsvProfiles(csv)
    ds = _ds()
    values = ProfileValues.from_profiles(source, ds)
    assert find_causes(ds, KEY, IV, _misses(ds, _openssl_cbc(STRANGERS[:2])), values) == []
    assert values.reads == 0
    ids = _openssl_cbc(LONG[:3], WRONG_IV_HEX)
    found = _by_code(find_causes(ds, KEY, IV, _misses(ds, ids), values))
    assert found["wrong_iv"].count == 3 and values.reads == 1


def test_check_is_called_and_may_cancel() -> None:
    ds = _ds()
    ids = _misses(ds, _openssl_cbc(LONG[:3], WRONG_IV_HEX))
    calls: list[int] = []

    class Stop(Exception):
        pass

    def check() -> None:
        calls.append(1)
        if len(calls) == 3:
            raise Stop

    with pytest.raises(Stop):
        find_causes(ds, KEY, IV, ids, ProfileValues(PROFILES, ds.channel), check=check)
    assert len(calls) == 3


@pytest.mark.parametrize("size", [16, 24, 32])
def test_our_rijndael_is_aes_for_the_standard_key_sizes(size: int) -> None:
    """The numpy Rijndael behind CryptoJS's long keys, checked where AES is defined."""
    import numpy as np

    from core.cipher import ecb_encrypt
    from core.cryptojs import _decrypt_blocks

    rng = random.Random(size)
    key = bytes(rng.randrange(256) for _ in range(size))
    plain = bytes(rng.randrange(256) for _ in range(16 * 5))
    ct = np.frombuffer(ecb_encrypt(key, plain), dtype=np.uint8).reshape(-1, 16)
    assert _decrypt_blocks(key, ct).tobytes() == plain
