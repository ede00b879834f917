"""core.diagnose: each diagnosis code, with samples made by real external tools.

Samples come from ``node`` (crypto.createCipheriv, crypto.createHash) and
``openssl`` the way a website or an admin would produce them, so the test does
not grade our own encryption against itself.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.diagnose import CODES, Diagnosis, diagnose
from core.model import Channel, CipherEncoding, DataSource, IdType, Transform
from core.secrets import Secret
from tests.external import openssl

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None or shutil.which("openssl") is None,
    reason="node and openssl are needed to produce website samples",
)

KEY256 = bytes.fromhex("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4")
KEY128 = bytes.fromhex("2b7e151628aed2a6abf7158809cf4f3c")
IV = bytes.fromhex("000102030405060708090a0b0c0d0e0f")
OTHER_IV = bytes.fromhex("f0e0d0c0b0a090807060504030201000")
OTHER_KEY = bytes.fromhex("00112233445566778899aabbccddeeff" * 2)
CLEAR = "alice@example.com"  # 17 bytes: two blocks
SHORT = "bob@ex.co"  # one block
ALICE_CT = "acbbbc4d92110958126ea8af19a365d9d674aba7f228993f674491bb2ed3aa74"

_NODE = r"""
const c = require('crypto');
let d = '';
process.stdin.on('data', x => d += x).on('end', () => {
  const r = JSON.parse(d);
  let out;
  if (r.hash) {
    out = c.createHash(r.hash).update(r.text, 'utf8').digest(r.out || 'hex');
  } else {
    const key = r.keyText !== undefined ? Buffer.from(r.keyText, 'utf8').subarray(0, r.keyBytes)
                                        : Buffer.from(r.key, 'hex');
    const iv = r.ivText !== undefined ? Buffer.from(r.ivText, 'utf8').subarray(0, 16)
                                      : Buffer.from(r.iv, 'hex');
    const x = c.createCipheriv(`aes-${key.length * 8}-cbc`, key, iv);
    const ct = Buffer.concat([x.update(r.text, 'utf8'), x.final()]);
    out = r.out === 'HEX' ? ct.toString('hex').toUpperCase() : ct.toString(r.out || 'hex');
  }
  process.stdout.write(out);
});
"""


def node(**request: object) -> str:
    proc = subprocess.run(
        ["node", "-e", _NODE],
        input=json.dumps(request).encode(),
        capture_output=True,
        check=True,
        timeout=30,
    )
    return proc.stdout.decode()


def website(text: str, key: bytes = KEY256, iv: bytes = IV, out: str = "hex") -> str:
    """What a website using Node's createCipheriv with hex-decoded key and IV sends."""
    return node(text=text, key=key.hex(), iv=iv.hex(), out=out)


def aes_ds(
    channel: Channel = Channel.EMAIL, encoding: CipherEncoding = CipherEncoding.HEX
) -> DataSource:
    return DataSource(
        label="ds",
        id_type=IdType.DECLARED,
        reconciliation_key="email",
        transform=Transform.AES,
        aes_key=Secret("env", "K"),
        aes_iv=Secret("env", "I"),
        ciphertext_encoding=encoding,
        channel=channel,
    )


def plain_ds(transform: Transform, channel: Channel = Channel.EMAIL) -> DataSource:
    return DataSource(
        label="ds",
        id_type=IdType.DECLARED,
        reconciliation_key="email",
        transform=transform,
        channel=channel,
    )


VISITOR_DS = DataSource(label="visitors")
SEEN: set[str] = set()


def check(result: Diagnosis, code: str, *words: str) -> None:
    SEEN.add(result.code)
    assert result.code == code, result.detail
    assert result.match is (code == "ok")
    for word in words:
        assert word in result.detail, result.detail
    for secret in (KEY256, KEY128, IV, OTHER_KEY, OTHER_IV):
        for form in (secret.hex(), secret.hex().upper(), base64.b64encode(secret).decode()):
            assert form not in result.detail
    assert result.to_json() == {"match": result.match, "diagnosis": code, "detail": result.detail}


# --------------------------------------------------------------------------- AES


def test_ok() -> None:
    sample = website(CLEAR)
    assert sample == ALICE_CT
    check(diagnose(CLEAR, sample, aes_ds(), KEY256, IV), "ok")
    check(diagnose(" Alice@Example.com", f" {sample}\n", aes_ds(), KEY256, IV), "ok")
    b64 = website(CLEAR, out="base64")
    check(diagnose(CLEAR, b64, aes_ds(encoding=CipherEncoding.BASE64), KEY256, IV), "ok")
    check(diagnose("CRM-42", website("CRM-42", KEY128), aes_ds(Channel.OTHER), KEY128, IV), "ok")


def test_wrong_iv_multi_block() -> None:
    sample = website(CLEAR, iv=OTHER_IV)
    check(diagnose(CLEAR, sample, aes_ds(), KEY256, IV), "wrong_iv", "IV", "first 16 bytes")


@pytest.mark.parametrize(
    ("iv_hex", "named"),
    [("00" * 16, "all-zero IV"), (KEY256[:16].hex(), "first 16 bytes of the key")],
)
def test_wrong_iv_single_block_named_by_openssl(iv_hex: str, named: str) -> None:
    sample = openssl(
        ["enc", "-aes-256-cbc", "-K", KEY256.hex(), "-iv", iv_hex], SHORT.encode()
    ).hex()
    check(diagnose(SHORT, sample, aes_ds(), KEY256, IV), "wrong_iv", named)


def test_wrong_iv_as_text() -> None:
    """The site parses the IV hex text as UTF-8 (only its first 16 bytes count)."""
    sample = node(text=SHORT, key=KEY256.hex(), ivText=IV.hex())
    check(diagnose(SHORT, sample, aes_ds(), KEY256, IV), "wrong_iv", "Utf8.parse")


def test_wrong_key() -> None:
    check(diagnose(CLEAR, website(CLEAR, OTHER_KEY), aes_ds(), KEY256, IV), "wrong_key")
    # One block: an unknown IV cannot be told from a wrong key; the detail says so.
    sample = website(SHORT, iv=OTHER_IV)
    check(diagnose(SHORT, sample, aes_ds(), KEY256, IV), "wrong_key", "one-block")


def test_wrong_key_size_prefix() -> None:
    """The site uses AES-128 with the first half of a 256-bit key."""
    sample = website(CLEAR, KEY256[:16])
    check(diagnose(CLEAR, sample, aes_ds(), KEY256, IV), "wrong_key", "AES-128", "first 16 bytes")


def test_key_as_text_128_bit_key_becomes_aes256() -> None:
    """CryptoJS Utf8.parse / Node Buffer.from(hex, 'utf8'): 32 hex chars = a 32-byte key."""
    sample = node(text=CLEAR, keyText=KEY128.hex(), keyBytes=32, iv=IV.hex())
    check(diagnose(CLEAR, sample, aes_ds(), KEY128, IV), "key_as_text", "Hex.parse", "256-bit")


def test_key_as_text_64_char_key_truncated() -> None:
    """A 64-char hex key as text is 64 bytes; PHP/Node libraries keep the first 32."""
    sample = node(text=CLEAR, keyText=KEY256.hex(), keyBytes=32, iv=IV.hex())
    check(diagnose(CLEAR, sample, aes_ds(), KEY256, IV), "key_as_text", "Utf8.parse")
    both = node(text=CLEAR, keyText=KEY256.hex(), keyBytes=32, ivText=IV.hex())
    check(diagnose(CLEAR, both, aes_ds(), KEY256, IV), "key_as_text", "IV the same way")


def test_ciphertext_encoding() -> None:
    b64 = website(CLEAR, out="base64")
    check(diagnose(CLEAR, b64, aes_ds(), KEY256, IV), "ciphertext_encoding", "base64", "hex")
    hex_ = website(CLEAR)
    ds64 = aes_ds(encoding=CipherEncoding.BASE64)
    check(diagnose(CLEAR, hex_, ds64, KEY256, IV), "ciphertext_encoding", "expects base64")
    url = website(CLEAR, out="base64url")
    assert "=" not in url
    check(diagnose(CLEAR, url, ds64, KEY256, IV), "ciphertext_encoding", "URL-safe")
    # Wrong encoding AND wrong IV: the encoding comes first, the rest is in the detail.
    both = website(CLEAR, iv=OTHER_IV, out="base64")
    check(diagnose(CLEAR, both, aes_ds(), KEY256, IV), "ciphertext_encoding", "another IV")


def test_hex_case() -> None:
    sample = node(text=CLEAR, key=KEY256.hex(), iv=IV.hex(), out="HEX")
    check(diagnose(CLEAR, sample, aes_ds(), KEY256, IV), "hex_case", "lower")


@pytest.mark.parametrize("typed", [" Alice@Example.COM", "ALICE@EXAMPLE.COM", "alice@example.com "])
def test_normalization(typed: str) -> None:
    sample = website(typed)
    check(diagnose(typed, sample, aes_ds(), KEY256, IV), "normalization", "lower-case")
    check(diagnose(CLEAR, sample, aes_ds(), KEY256, IV), "normalization")


def test_normalization_phone() -> None:
    typed = "+33 6 12 34 56 78"
    sample = website(typed)
    check(diagnose(typed, sample, aes_ds(Channel.SMS), KEY256, IV), "normalization", "digits")


def test_passphrase_mode_random_salt() -> None:
    """openssl with a passphrase writes the Salted__ header like CryptoJS passphrase mode."""
    sample = (
        openssl(
            ["enc", "-aes-256-cbc", "-md", "md5", "-pass", f"pass:{KEY256.hex()}", "-base64", "-A"],
            CLEAR.encode(),
        )
        .decode()
        .strip()
    )
    assert sample.startswith("U2FsdGVkX1")
    check(diagnose(CLEAR, sample, aes_ds(), KEY256, IV), "passphrase_mode", "Confirmed")


def test_passphrase_mode_fixed_salt_and_hex() -> None:
    """With -S, OpenSSL 3 omits the header: prepend it as CryptoJS writes it."""
    salt = bytes.fromhex("0102030405060708")
    body = openssl(
        ["enc", "-aes-256-cbc", "-md", "md5", "-pass", f"pass:{KEY256.hex()}", "-S", salt.hex()],
        CLEAR.encode(),
    )
    if body.startswith(b"Salted__"):  # older OpenSSL writes it itself
        body = body[16:]
    raw = b"Salted__" + salt + body
    b64 = base64.b64encode(raw).decode()
    check(diagnose(CLEAR, b64, aes_ds(), KEY256, IV), "passphrase_mode", "Confirmed")
    check(diagnose(CLEAR, raw.hex(), aes_ds(), KEY256, IV), "passphrase_mode", "Confirmed")
    # Another passphrase: still passphrase mode, without the confirmation.
    other = (
        openssl(
            ["enc", "-aes-256-cbc", "-md", "md5", "-pass", "pass:secret", "-base64", "-A"],
            CLEAR.encode(),
        )
        .decode()
        .strip()
    )
    result = diagnose(CLEAR, other, aes_ds(), KEY256, IV)
    check(result, "passphrase_mode", "U2FsdGVkX1")
    assert "Confirmed" not in result.detail


def test_ecb_mode() -> None:
    sample = openssl(["enc", "-aes-256-ecb", "-K", KEY256.hex()], CLEAR.encode()).hex()
    check(diagnose(CLEAR, sample, aes_ds(), KEY256, IV), "ecb_mode", "ECB")
    # One block: ECB is CBC with a zero IV; the detail names both.
    short = openssl(["enc", "-aes-256-ecb", "-K", KEY256.hex()], SHORT.encode()).hex()
    check(diagnose(SHORT, short, aes_ds(), KEY256, IV), "wrong_iv", "ECB mode")


@pytest.mark.parametrize("value", [CLEAR, "0123456789@ab.cd", SHORT])
def test_zero_padding(value: str) -> None:
    data = value.encode()
    data += b"\0" * (-len(data) % 16)
    sample = openssl(
        ["enc", "-aes-256-cbc", "-nopad", "-K", KEY256.hex(), "-iv", IV.hex()], data
    ).hex()
    check(diagnose(value, sample, aes_ds(), KEY256, IV), "zero_padding", "PKCS#7")


@pytest.mark.parametrize(
    ("algo", "name"), [("md5", "MD5"), ("sha1", "SHA-1"), ("sha256", "SHA-256")]
)
def test_hashed_not_encrypted(algo: str, name: str) -> None:
    sample = node(hash=algo, text=CLEAR)
    check(diagnose(CLEAR, sample, aes_ds(), KEY256, IV), "hashed_not_encrypted", name, algo)
    typed = " Alice@Example.com"
    raw = node(hash=algo, text=typed)
    check(diagnose(typed, raw, aes_ds(), KEY256, IV), "hashed_not_encrypted", name, "as typed")


def test_hashed_not_encrypted_from_openssl_dgst() -> None:
    out = openssl(["dgst", "-sha256", "-r"], CLEAR.encode()).decode().split()[0]
    check(diagnose(CLEAR, out, aes_ds(), KEY256, IV), "hashed_not_encrypted", "sha256")


@pytest.mark.parametrize(
    ("sample", "word"),
    [
        ("!!!not hex nor base64!!!", "neither hex nor base64"),
        ("abcd", "not a multiple of 16"),
        ("   ", "empty"),
    ],
)
def test_unknown_aes(sample: str, word: str) -> None:
    check(diagnose(CLEAR, sample, aes_ds(), KEY256, IV), "unknown", word)


def test_unknown_other_value_decrypts() -> None:
    sample = website("carol@example.net")
    check(diagnose(CLEAR, sample, aes_ds(), KEY256, IV), "unknown", "another value")


def test_unknown_without_key() -> None:
    check(diagnose(CLEAR, ALICE_CT, aes_ds(), None, IV), "unknown", "aes_key")
    check(diagnose(CLEAR, ALICE_CT, aes_ds(), b"short", IV), "unknown", "16, 24 or 32")


# --------------------------------------------------------------------------- hashed data sources


@pytest.mark.parametrize("algo", [Transform.MD5, Transform.SHA1, Transform.SHA256])
def test_hashed_source(algo: Transform) -> None:
    ds = plain_ds(algo)
    good = node(hash=algo.value, text=CLEAR)
    check(diagnose(" Alice@example.com", good, ds, None, None), "ok")
    check(diagnose(CLEAR, good.upper(), ds, None, None), "hex_case")
    typed = "Alice@Example.com"
    check(diagnose(typed, node(hash=algo.value, text=typed), ds, None, None), "normalization")
    b64 = node(hash=algo.value, text=CLEAR, out="base64")
    check(diagnose(CLEAR, b64, ds, None, None), "ciphertext_encoding", "hex")
    for other in {"md5", "sha1", "sha256"} - {algo.value}:
        sample = node(hash=other, text=CLEAR)
        check(diagnose(CLEAR, sample, ds, None, None), "unknown", f"({other})")
    check(diagnose(CLEAR, "abc123", ds, None, None), "unknown", "hex digits")
    check(diagnose(CLEAR, CLEAR, ds, None, None), "unknown", "in clear")


def test_hashed_source_same_length_other_value() -> None:
    sample = node(hash="sha256", text="carol@example.net")
    check(diagnose(CLEAR, sample, plain_ds(Transform.SHA256), None, None), "unknown", "length")


# --------------------------------------------------------------------------- clear and visitor


def test_clear_source() -> None:
    ds = plain_ds(Transform.NONE)
    check(diagnose(CLEAR, CLEAR, ds, None, None), "ok")
    check(diagnose(CLEAR, "Alice@Example.com", ds, None, None), "normalization")
    sample = node(hash="sha1", text=CLEAR)
    check(diagnose(CLEAR, sample, ds, None, None), "hashed_not_encrypted", "sha1")
    check(diagnose(CLEAR, "somebody@else.org", ds, None, None), "unknown")


def test_visitor_source() -> None:
    ecid = "08382830887934830189014177072406221371"
    check(diagnose(ecid, ecid, VISITOR_DS, None, None), "ok")
    check(diagnose(ecid, CLEAR, VISITOR_DS, None, None), "unknown", "Experience Cloud ID")


# --------------------------------------------------------------------------- robustness


_any = st.text(max_size=80) | st.sampled_from(
    [ALICE_CT, ALICE_CT.upper(), "U2FsdGVkX1", "U2FsdGVkX1+++", "53616c7465645f5f00", "=" * 8]
)


@settings(max_examples=200, deadline=None)
@given(_any, _any, st.sampled_from(list(Channel)), st.sampled_from(list(CipherEncoding)))
def test_never_raises(clear: str, sample: str, channel: Channel, enc: CipherEncoding) -> None:
    for ds, key, iv in [
        (aes_ds(channel, enc), KEY256, IV),
        (aes_ds(channel, enc), KEY128, IV),
        (aes_ds(channel, enc), None, None),
        (plain_ds(Transform.SHA256, channel), None, None),
        (plain_ds(Transform.NONE, channel), None, None),
        (VISITOR_DS, None, None),
    ]:
        result = diagnose(clear, sample, ds, key, iv)
        assert result.code in CODES
        assert result.match is (result.code == "ok")
        assert result.detail
        assert KEY256.hex() not in result.detail and IV.hex() not in result.detail


def test_every_code_exercised() -> None:
    """Every code of docs/reference.md §7 comes out of at least one scenario (self-contained: it
    reruns one scenario per code, so it does not depend on test order or selection)."""
    SEEN.clear()
    test_ok()
    test_wrong_iv_multi_block()
    test_wrong_key()
    test_key_as_text_128_bit_key_becomes_aes256()
    test_ciphertext_encoding()
    test_hex_case()
    test_normalization(" Alice@Example.COM")
    test_passphrase_mode_fixed_salt_and_hex()
    test_ecb_mode()
    test_zero_padding(CLEAR)
    test_hashed_not_encrypted("sha256", "SHA-256")
    test_unknown_aes("abcd", "not a multiple of 16")
    assert set(CODES) == SEEN


@pytest.mark.parametrize("sample", ["zzzz", "abcdefghijklmnopqrstuvwxyzABCDEF", "hello"])
def test_text_that_is_base64_by_chance_is_not_an_encoding_problem(sample: str) -> None:
    ds = DataSource(
        "d",
        id_type="declared",
        reconciliation_key="email",
        transform="aes",
        aes_key=Secret("env", "K"),
        aes_iv=Secret("env", "I"),
        channel="email",
    )
    key = bytes.fromhex("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4")
    assert diagnose("alice@example.com", sample, ds, key, bytes(range(16))).code == "unknown"
