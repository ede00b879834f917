"""The website cross-check (`crypto diagnose`) against real CryptoJS (npm ``crypto-js``).

Websites encrypt declared IDs with CryptoJS. Every sample here is made by the real
library under node, the way a website's tag would: the right call, the hex key
read as UTF-8 text (``Utf8.parse``) at every key size, passphrase mode, and the
output as hex (``ciphertext.toString()``) or base64 (``toString()``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from core.diagnose import diagnose
from core.model import Channel, CipherEncoding, DataSource, IdType, Transform
from core.secrets import Secret
from tests.cryptojs_helper import cryptojs_run

IV = bytes.fromhex("000102030405060708090a0b0c0d0e0f")
KEYS = {
    16: bytes.fromhex("2b7e151628aed2a6abf7158809cf4f3c"),
    24: bytes.fromhex("8e73b0f7da0e6452c810f32b809079e562f8ead2522c6b7b"),
    32: bytes.fromhex("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4"),
}
CLEARS = ["alice@example.com", "bob@ex.co", "a.very.long.name.for.a.customer@example.org"]

_PROGRAM = r"""
const CryptoJS = require('crypto-js');
const jobs = JSON.parse(require('fs').readFileSync(0, 'utf8'));
process.stdout.write(JSON.stringify(jobs.map((j) => {
  const iv = CryptoJS.enc.Hex.parse(j.iv);
  let r;
  if (j.mode === 'right') {
    r = CryptoJS.AES.encrypt(j.value, CryptoJS.enc.Hex.parse(j.key), {iv: iv});
  } else if (j.mode === 'text_key') {
    r = CryptoJS.AES.encrypt(j.value, CryptoJS.enc.Utf8.parse(j.key), {iv: iv});
  } else if (j.mode === 'text_key_and_iv') {
    r = CryptoJS.AES.encrypt(j.value, CryptoJS.enc.Utf8.parse(j.key),
                             {iv: CryptoJS.enc.Utf8.parse(j.iv.substring(0, 16))});
  } else {
    return CryptoJS.AES.encrypt(j.value, j.key).toString();  // passphrase mode
  }
  return j.out === 'hex' ? r.ciphertext.toString() : r.toString();
})));
"""


def _ds(encoding: CipherEncoding = CipherEncoding.HEX) -> DataSource:
    return DataSource(
        label="Recipient - Email",
        alias="Adobe Campaign",
        dpid=14016,
        destination_id=46390,
        id_type=IdType.DECLARED,
        reconciliation_key="email",
        transform=Transform.AES,
        aes_key=Secret("literal", "x"),
        aes_iv=Secret("literal", "y"),
        ciphertext_encoding=encoding,
        channel=Channel.EMAIL,
    )


def _site(modules: Path, mode: str, key: bytes, out: str = "hex") -> list[str]:
    jobs = [
        {"mode": mode, "key": key.hex(), "iv": IV.hex(), "value": v, "out": out} for v in CLEARS
    ]
    result: list[str] = cryptojs_run(_PROGRAM, jobs, modules)
    return result


@pytest.mark.parametrize("size", [16, 24, 32])
@pytest.mark.parametrize("out", ["hex", "base64"])
def test_the_right_cryptojs_call_matches_in_its_encoding(
    cryptojs: Path, size: int, out: str
) -> None:
    key = KEYS[size]
    encoding = CipherEncoding.HEX if out == "hex" else CipherEncoding.BASE64
    other = CipherEncoding.BASE64 if out == "hex" else CipherEncoding.HEX
    for clear, sample in zip(CLEARS, _site(cryptojs, "right", key, out), strict=True):
        assert diagnose(clear, sample, _ds(encoding), key, IV).code == "ok"
        wrong = diagnose(clear, sample, _ds(other), key, IV)
        assert wrong.code == "ciphertext_encoding", wrong.detail


@pytest.mark.parametrize("size", [16, 24, 32])
@pytest.mark.parametrize("out", ["hex", "base64"])
def test_utf8_parse_of_the_hex_key_is_key_as_text_at_every_size(
    cryptojs: Path, size: int, out: str
) -> None:
    """A 16/24/32-byte key as text is a 32/48/64-byte key, all of which CryptoJS uses."""
    key = KEYS[size]
    encoding = CipherEncoding.HEX if out == "hex" else CipherEncoding.BASE64
    for clear, sample in zip(CLEARS, _site(cryptojs, "text_key", key, out), strict=True):
        verdict = diagnose(clear, sample, _ds(encoding), key, IV)
        assert verdict.code == "key_as_text", (size, clear, verdict.detail)
        assert "CryptoJS.enc.Hex.parse(key)" in verdict.detail
        assert f"{size * 2 * 8}-bit key" in verdict.detail
        if size > 16:
            assert "not AES" in verdict.detail  # 48/64 bytes: CryptoJS's longer Rijndael
        assert key.hex() not in verdict.detail.lower()


@pytest.mark.parametrize("size", [24, 32])
def test_utf8_parse_of_key_and_iv_is_named(cryptojs: Path, size: int) -> None:
    key = KEYS[size]
    for clear, sample in zip(CLEARS, _site(cryptojs, "text_key_and_iv", key), strict=True):
        verdict = diagnose(clear, sample, _ds(), key, IV)
        assert verdict.code == "key_as_text", verdict.detail
        assert "IV the same way" in verdict.detail


@pytest.mark.parametrize("size", [16, 24, 32])
def test_passphrase_mode_is_named_at_every_key_size(cryptojs: Path, size: int) -> None:
    key = KEYS[size]
    for clear, sample in zip(CLEARS, _site(cryptojs, "passphrase", key), strict=True):
        assert sample.startswith("U2FsdGVkX1")
        for encoding in (CipherEncoding.HEX, CipherEncoding.BASE64):
            verdict = diagnose(clear, sample, _ds(encoding), key, IV)
            assert verdict.code == "passphrase_mode", verdict.detail


def test_a_text_key_sample_does_not_pass_for_another_data_source(cryptojs: Path) -> None:
    """The failing side: a key_as_text sample under another key is not explained as such."""
    sample = _site(cryptojs, "text_key", KEYS[24])[0]
    verdict = diagnose(CLEARS[0], sample, _ds(), KEYS[32], IV)
    assert verdict.code not in ("ok", "key_as_text")
