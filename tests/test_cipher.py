"""core.cipher: the batch AES-CBC engine, hashing, key parsing and IdCodec.

Known answers come from NIST SP 800-38A F.2 and the CAVP CBC files shipped in
``cryptography_vectors``; interoperability from real ``openssl`` and ``node``.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import subprocess
from collections import defaultdict
from collections.abc import Sequence

import pytest
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography_vectors import open_vector_file
from hypothesis import given, settings
from hypothesis import strategies as st

from core.cipher import (
    IdCodec,
    cbc_decrypt_blocks,
    cbc_encrypt_blocks,
    decode_ciphertext,
    decrypt_batch,
    encode_ciphertext,
    encrypt_batch,
    hash_batch,
    parse_iv,
    parse_key,
    pkcs7_pad,
    pkcs7_unpad,
)
from core.errors import ValidationError
from core.model import Channel, CipherEncoding, DataSource, IdType, Transform
from core.outcomes import Outcome
from core.secrets import Secret
from tests.external import needs_openssl, openssl

KEY256 = bytes.fromhex("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4")
KEY192 = bytes.fromhex("8e73b0f7da0e6452c810f32b809079e562f8ead2522c6b7b")
KEY128 = bytes.fromhex("2b7e151628aed2a6abf7158809cf4f3c")
IV = bytes.fromhex("000102030405060708090a0b0c0d0e0f")
KEYS = {128: KEY128, 192: KEY192, 256: KEY256}
ALICE_CT = "acbbbc4d92110958126ea8af19a365d9d674aba7f228993f674491bb2ed3aa74"

needs_node = pytest.mark.skipif(shutil.which("node") is None, reason="node not installed")


# --------------------------------------------------------------------------- references


def ref_encrypt(key: bytes, iv: bytes, plaintext: bytes) -> bytes:
    """Per-record reference: cryptography's own CBC + PKCS7 padder."""
    padder = padding.PKCS7(128).padder()
    data = padder.update(plaintext) + padder.finalize()
    enc = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return enc.update(data) + enc.finalize()


def ref_encrypt_raw(key: bytes, iv: bytes, data: bytes) -> bytes:
    enc = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return enc.update(data) + enc.finalize()


def padding_block_after(key: bytes, ciphertext: bytes) -> bytes:
    """The CBC ciphertext of one full PKCS#7 padding block following ``ciphertext``."""
    prev = ciphertext[-16:]
    block = bytes(a ^ 16 for a in prev)
    enc = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    return enc.update(block) + enc.finalize()


_NODE = r"""
const c = require('crypto');
let d = '';
process.stdin.on('data', x => d += x).on('end', () => {
  const r = JSON.parse(d);
  const key = Buffer.from(r.key, 'hex');
  const out = r.items.map(h => {
    const f = r.op === 'enc' ? c.createCipheriv : c.createDecipheriv;
    const x = f(r.alg, key, Buffer.from(r.iv, 'hex'));
    return Buffer.concat([x.update(Buffer.from(h, 'hex')), x.final()]).toString('hex');
  });
  process.stdout.write(JSON.stringify(out));
});
"""


def node(op: str, key: bytes, iv: bytes, items: Sequence[bytes]) -> list[bytes]:
    alg = f"aes-{len(key) * 8}-cbc"
    payload = json.dumps(
        {"op": op, "alg": alg, "key": key.hex(), "iv": iv.hex(), "items": [i.hex() for i in items]}
    )
    proc = subprocess.run(
        ["node", "-e", _NODE], input=payload.encode(), capture_output=True, check=True, timeout=30
    )
    return [bytes.fromhex(h) for h in json.loads(proc.stdout)]


# --------------------------------------------------------------------------- parsing


@pytest.mark.parametrize("size", [16, 24, 32])
def test_parse_key_hex_any_case_and_whitespace(size: int) -> None:
    key = bytes(range(1, size + 1))
    assert parse_key(key.hex()) == key
    assert parse_key(f"  {key.hex().upper()}\n") == key
    assert parse_key("base64:" + __import__("base64").b64encode(key).decode()) == key


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("00112233445566778899aabbccddeeff"[:16], "8 bytes"),  # Adobe's "16 hex characters"
        ("00" * 20, "20 bytes"),
        ("zz" * 16, "not hexadecimal"),
        ("0" * 31, "odd number"),
        ("   ", "empty"),
        ("base64:!!!", "not valid base64"),
        ("base64:" + "QUFB" * 3, "9 bytes"),
    ],
)
def test_parse_key_rejects(text: str, reason: str) -> None:
    with pytest.raises(ValidationError) as info:
        parse_key(text)
    assert info.value.field == "aes_key"
    assert reason in info.value.reason
    assert "32, 48 or 64 hex" in info.value.hint
    assert "Adobe's documentation is wrong" in info.value.hint
    assert "16/24/32 hex characters" in info.value.hint


@pytest.mark.parametrize("size", [16, 24, 32])
def test_parse_key_accepts_campaigns_backslash_x_and_0x(size: int) -> None:
    """Campaign writes hex keys with ``\\x`` (once, or before every byte), others ``0x``."""
    key = bytes(range(0xA0, 0xA0 + size))
    forms = [
        key.hex(),
        "0x" + key.hex(),
        "0X" + key.hex().upper(),
        "\\x" + key.hex(),
        "\\X" + key.hex().upper(),
        "".join(f"\\x{b:02x}" for b in key),
        " " + "".join(f"\\x{b:02X}" for b in key) + "\n",
    ]
    for text in forms:
        assert parse_key(text) == key, text
    assert parse_iv("\\x" + IV.hex()) == IV
    assert parse_iv("".join(f"\\x{b:02x}" for b in IV)) == IV
    assert parse_iv("0x" + IV.hex()) == IV


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("\\x", "empty"),
        ("0x", "empty"),
        ("\\x00\\x1", "not hexadecimal"),  # a byte cut short
        ("00\\x11" * 16, "not hexadecimal"),  # \\x between bytes but not in front
        ("\\x\\x" + "00" * 16, "not hexadecimal"),
        ("\\u0011" + "00" * 15, "not hexadecimal"),
    ],
)
def test_parse_key_rejects_broken_prefixed_forms(text: str, reason: str) -> None:
    with pytest.raises(ValidationError) as info:
        parse_key(text)
    assert reason in info.value.reason
    assert "\\x" in info.value.hint and "0x" in info.value.hint


def test_parse_iv() -> None:
    assert parse_iv(" 000102030405060708090A0B0C0D0E0F ") == IV
    assert parse_iv("base64:AAECAwQFBgcICQoLDA0ODw==") == IV
    for bad in (KEY256.hex(), KEY192.hex(), "0011", "xyz", ""):
        with pytest.raises(ValidationError) as info:
            parse_iv(bad)
        assert info.value.field == "aes_iv"
        assert "16 bytes" in info.value.hint and "same length as the key" in info.value.hint


# --------------------------------------------------------------------------- NIST SP 800-38A

F2_PLAIN = bytes.fromhex(
    "6bc1bee22e409f96e93d7e117393172a"
    "ae2d8a571e03ac9c9eb76fac45af8e51"
    "30c81c46a35ce411e5fbc1191a0a52ef"
    "f69f2445df4f9b17ad2b417be66c3710"
)
F2 = {
    128: "7649abac8119b246cee98e9b12e9197d"
    "5086cb9b507219ee95db113a917678b2"
    "73bed6b8e3c1743b7116e69e22229516"
    "3ff1caa1681fac09120eca307586e1a7",
    192: "4f021db243bc633d7178183a9fa071e8"
    "b4d9ada9ad7dedf4e5e738763f69145a"
    "571b242012fb7ae07fa9baac3df102e0"
    "08b0e27988598881d920a9e64f5615cd",
    256: "f58c4c04d6e5f1ba779eabfb5f7bfbd6"
    "9cfc4e967edb808d679f777bc6702c7d"
    "39f23369a9d9bacfa530e26304231461"
    "b2eb05e2c39be9fcda6c19078c6a9d1b",
}


@pytest.mark.parametrize("bits", [128, 192, 256])
def test_sp800_38a_f2_encrypt(bits: int) -> None:
    """F.2.1 / F.2.3 / F.2.5: block core, and the padded engine's prefix."""
    key, expected = KEYS[bits], bytes.fromhex(F2[bits])
    assert cbc_encrypt_blocks(key, IV, [F2_PLAIN]) == [expected]
    # Every prefix of whole blocks, in one batch of mixed block counts.
    prefixes = [F2_PLAIN[: 16 * n] for n in range(1, 5)]
    assert cbc_encrypt_blocks(key, IV, prefixes) == [expected[: 16 * n] for n in range(1, 5)]
    padded = encrypt_batch(key, IV, prefixes)
    for n, ct in enumerate(padded, start=1):
        assert ct[: 16 * n] == expected[: 16 * n] and len(ct) == 16 * (n + 1)


@pytest.mark.parametrize("bits", [128, 192, 256])
def test_sp800_38a_f2_decrypt(bits: int) -> None:
    """F.2.2 / F.2.4 / F.2.6: block core, and the padded engine with a padding block appended."""
    key, ct = KEYS[bits], bytes.fromhex(F2[bits])
    assert cbc_decrypt_blocks(key, IV, [ct]) == [F2_PLAIN]
    records = [ct[: 16 * n] + padding_block_after(key, ct[: 16 * n]) for n in range(1, 5)]
    assert decrypt_batch(key, IV, records) == [F2_PLAIN[: 16 * n] for n in range(1, 5)]


# --------------------------------------------------------------------------- CAVP files

CAVP_FILES = [
    f"CBC{kind}{bits}.rsp"
    for kind in ("GFSbox", "KeySbox", "MMT", "VarKey", "VarTxt")
    for bits in (128, 192, 256)
]


def load_cavp(name: str) -> list[dict[str, str]]:
    vectors: list[dict[str, str]] = []
    section = ""
    current: dict[str, str] = {}
    with open_vector_file(os.path.join("ciphers", "AES", "CBC", name), "r") as fh:
        for raw in fh:
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("["):
                section = line.strip("[]")
                continue
            field, _, value = (part.strip() for part in line.partition("="))
            if field == "COUNT":
                current = {"section": section}
                vectors.append(current)
            current[field] = value
    return vectors


def test_cavp_files_complete() -> None:
    total = sum(len(load_cavp(name)) for name in CAVP_FILES)
    assert total == 2138


@pytest.mark.parametrize("name", CAVP_FILES)
def test_cavp_cbc_through_batch_engine(name: str) -> None:
    vectors = load_cavp(name)
    assert vectors
    groups: dict[tuple[str, str, str], list[dict[str, str]]] = defaultdict(list)
    for v in vectors:
        groups[(v["section"], v["KEY"], v["IV"])].append(v)
    for (section, key_hex, iv_hex), batch in groups.items():
        key, iv = bytes.fromhex(key_hex), bytes.fromhex(iv_hex)
        plain = [bytes.fromhex(v["PLAINTEXT"]) for v in batch]
        cipher = [bytes.fromhex(v["CIPHERTEXT"]) for v in batch]
        if section == "ENCRYPT":
            assert cbc_encrypt_blocks(key, iv, plain) == cipher
            for ct, expected in zip(encrypt_batch(key, iv, plain), cipher, strict=True):
                assert ct[: len(expected)] == expected and len(ct) == len(expected) + 16
        else:
            assert section == "DECRYPT"
            assert cbc_decrypt_blocks(key, iv, cipher) == plain
            padded = [c + padding_block_after(key, c) for c in cipher]
            assert decrypt_batch(key, iv, padded) == plain


# --------------------------------------------------------------------------- engine behaviour


def test_known_value_alice() -> None:
    assert encrypt_batch(KEY256, IV, [b"alice@example.com"])[0].hex() == ALICE_CT
    assert decrypt_batch(KEY256, IV, [bytes.fromhex(ALICE_CT)]) == [b"alice@example.com"]


@pytest.mark.parametrize("bits", [128, 192, 256])
def test_mixed_batch_matches_per_record_reference(bits: int) -> None:
    rng = random.Random(bits)
    key = rng.randbytes(bits // 8)
    iv = rng.randbytes(16)
    sizes = [0, 1, 15, 16, 17, 31, 32, 33, 100]
    plaintexts = [rng.randbytes(rng.choice(sizes)) for _ in range(500)]
    expected = [ref_encrypt(key, iv, p) for p in plaintexts]
    assert encrypt_batch(key, iv, plaintexts) == expected
    assert decrypt_batch(key, iv, expected) == plaintexts


def test_decrypt_outcomes_per_record() -> None:
    good = ref_encrypt(KEY128, IV, b"bob@example.org")
    # Plaintext blocks with invalid PKCS#7, encrypted without padding by the reference.
    bad_blocks = [
        b"A" * 15 + b"\x00",  # pad byte 0
        b"A" * 15 + b"\x11",  # pad byte 17
        b"A" * 13 + b"\x03\x02\x03",  # inconsistent pad bytes
        b"A" * 16 + b"B" * 14 + b"\x01\x02",  # two blocks, last byte 2, previous 1
        b"\x10" * 15 + b"\x11",
    ]
    bads = [ref_encrypt_raw(KEY128, IV, b) for b in bad_blocks]
    batch = [good, b"", good[:15], good + b"x", *bads, good]
    result = decrypt_batch(KEY128, IV, batch)
    assert result == [
        b"bob@example.org",
        Outcome.BAD_ENCODING,
        Outcome.BAD_ENCODING,
        Outcome.BAD_ENCODING,
        *[Outcome.BAD_PADDING] * len(bads),
        b"bob@example.org",
    ]
    assert decrypt_batch(KEY128, IV, []) == []
    assert decrypt_batch(KEY128, IV, [b"", b"abc"]) == [Outcome.BAD_ENCODING] * 2


def test_every_valid_padding_length_accepted() -> None:
    plaintexts = [b"x" * n for n in range(0, 48)]
    cts = [ref_encrypt(KEY192, IV, p) for p in plaintexts]
    assert decrypt_batch(KEY192, IV, cts) == plaintexts


def test_pad_unpad_helpers() -> None:
    assert pkcs7_pad(b"") == b"\x10" * 16
    assert pkcs7_pad(b"a" * 15) == b"a" * 15 + b"\x01"
    assert pkcs7_unpad(b"a" * 14 + b"\x02\x02") == b"a" * 14
    assert pkcs7_unpad(b"a" * 14 + b"\x01\x02") is None
    assert pkcs7_unpad(b"") is None


def test_engine_rejects_bad_parameters() -> None:
    with pytest.raises(ValidationError):
        encrypt_batch(b"short", IV, [b"x"])
    with pytest.raises(ValidationError):
        decrypt_batch(KEY128, KEY256, [b"x" * 16])
    with pytest.raises(ValueError):
        cbc_encrypt_blocks(KEY128, IV, [b"x" * 15])


_keys = st.sampled_from([16, 24, 32]).flatmap(lambda n: st.binary(min_size=n, max_size=n))


@settings(max_examples=150, deadline=None)
@given(_keys, st.binary(min_size=16, max_size=16), st.lists(st.binary(max_size=70), max_size=25))
def test_round_trip_property(key: bytes, iv: bytes, plaintexts: list[bytes]) -> None:
    cts = encrypt_batch(key, iv, plaintexts)
    assert all(len(c) % 16 == 0 and len(c) > len(p) for c, p in zip(cts, plaintexts, strict=True))
    assert cts == [ref_encrypt(key, iv, p) for p in plaintexts]
    assert decrypt_batch(key, iv, cts) == plaintexts


@settings(max_examples=100, deadline=None)
@given(_keys, st.lists(st.binary(max_size=64), max_size=20))
def test_decrypt_of_arbitrary_bytes_matches_reference(key: bytes, blobs: list[bytes]) -> None:
    """Random ciphertexts: our outcome agrees with cryptography's CBC + PKCS7 unpadder."""
    for blob, got in zip(blobs, decrypt_batch(key, IV, blobs), strict=True):
        if not blob or len(blob) % 16:
            assert got is Outcome.BAD_ENCODING
            continue
        dec = Cipher(algorithms.AES(key), modes.CBC(IV)).decryptor()
        raw = dec.update(blob) + dec.finalize()
        unpadder = padding.PKCS7(128).unpadder()
        try:
            expected: bytes | Outcome = unpadder.update(raw) + unpadder.finalize()
        except ValueError:
            expected = Outcome.BAD_PADDING
        assert got == expected


# --------------------------------------------------------------------------- interop

INTEROP_PLAINTEXTS = [
    b"alice@example.com",
    b"",  # what an empty-after-strip value encrypts to: one padding block
    b"0123456789abcdef",  # exactly one block: a full padding block follows
    b"bob@example.org",  # 15 bytes: one padding byte
    "élodie.müller@exemple.fr".encode(),
    b"+33612345678",
    b"x" * 64,
]


@needs_openssl
@pytest.mark.parametrize("bits", [128, 192, 256])
def test_openssl_encrypts_we_decrypt(bits: int) -> None:
    key = KEYS[bits]
    cts = [
        openssl(["enc", f"-aes-{bits}-cbc", "-K", key.hex(), "-iv", IV.hex()], p)
        for p in INTEROP_PLAINTEXTS
    ]
    assert decrypt_batch(key, IV, cts) == INTEROP_PLAINTEXTS
    assert encrypt_batch(key, IV, INTEROP_PLAINTEXTS) == cts


@needs_openssl
@pytest.mark.parametrize("bits", [128, 192, 256])
def test_we_encrypt_openssl_decrypts(bits: int) -> None:
    key = KEYS[bits]
    ours = encrypt_batch(key, IV, INTEROP_PLAINTEXTS)
    for plain, ct in zip(INTEROP_PLAINTEXTS, ours, strict=True):
        out = openssl(["enc", "-d", f"-aes-{bits}-cbc", "-K", key.hex(), "-iv", IV.hex()], ct)
        assert out == plain


@needs_node
@pytest.mark.parametrize("bits", [128, 192, 256])
def test_node_interop_both_ways(bits: int) -> None:
    key = KEYS[bits]
    from_node = node("enc", key, IV, INTEROP_PLAINTEXTS)
    assert decrypt_batch(key, IV, from_node) == INTEROP_PLAINTEXTS
    ours = encrypt_batch(key, IV, INTEROP_PLAINTEXTS)
    assert node("dec", key, IV, ours) == INTEROP_PLAINTEXTS
    assert ours == from_node


@needs_node
def test_node_known_value() -> None:
    assert node("enc", KEY256, IV, [b"alice@example.com"])[0].hex() == ALICE_CT


# --------------------------------------------------------------------------- hashing


def test_hash_batch_known_values() -> None:
    assert hash_batch(Transform.MD5, [""]) == ["d41d8cd98f00b204e9800998ecf8427e"]
    assert hash_batch(Transform.SHA1, ["abc"]) == ["a9993e364706816aba3e25717850c26c9cd0d89d"]
    assert hash_batch(Transform.SHA256, ["abc", "é"]) == [
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        hashlib.sha256("é".encode()).hexdigest(),
    ]
    with pytest.raises(ValueError):
        hash_batch(Transform.AES, ["x"])


@needs_openssl
@pytest.mark.parametrize("algo", [Transform.MD5, Transform.SHA1, Transform.SHA256])
def test_hash_batch_matches_openssl(algo: Transform) -> None:
    value = "alice@example.com"
    out = openssl(["dgst", f"-{algo.value}", "-r"], value.encode()).decode().split()[0]
    assert hash_batch(algo, [value]) == [out]


# --------------------------------------------------------------------------- IdCodec

ECID = "08382830887934830189014177072406221371"


def ds_for(
    transform: Transform = Transform.NONE,
    channel: Channel = Channel.EMAIL,
    encoding: CipherEncoding = CipherEncoding.HEX,
    id_type: IdType = IdType.DECLARED,
) -> DataSource:
    aes = transform is Transform.AES
    return DataSource(
        label="ds",
        id_type=id_type,
        reconciliation_key="" if id_type is IdType.VISITOR else "email",
        transform=transform,
        aes_key=Secret("env", "AES_KEY") if aes else None,
        aes_iv=Secret("env", "AES_IV") if aes else None,
        ciphertext_encoding=encoding,
        channel=channel,
    )


def aes_codec(
    channel: Channel = Channel.EMAIL, encoding: CipherEncoding = CipherEncoding.HEX
) -> IdCodec:
    return IdCodec(ds_for(Transform.AES, channel, encoding), KEY256, IV)


def test_codec_visitor() -> None:
    codec = IdCodec(ds_for(id_type=IdType.VISITOR))
    too_big = "9" * 19 + "0" * 19
    assert codec.incoming([ECID, ECID[:-1], "x" * 38, too_big]) == [
        ECID,
        *[Outcome.INVALID_VISITOR_ID] * 3,
    ]
    assert codec.profile_keys([f" {ECID} ", "", "123"]) == [ECID, None, None]
    assert codec.outgoing([ECID, "123", " "]) == [
        ECID,
        Outcome.INVALID_VISITOR_ID,
        Outcome.NOT_FOUND,
    ]


def test_codec_clear_per_channel() -> None:
    email = IdCodec(ds_for(channel=Channel.EMAIL))
    assert email.incoming([" Alice@Example.COM", "nope"]) == [
        "alice@example.com",
        Outcome.INVALID_EMAIL,
    ]
    assert email.profile_keys(["ALICE@example.com", "", "x"]) == ["alice@example.com", None, None]
    assert email.outgoing([" Alice@Example.COM", "nope", "  "]) == [
        "alice@example.com",
        Outcome.INVALID_EMAIL,
        Outcome.NOT_FOUND,
    ]
    sms = IdCodec(ds_for(channel=Channel.SMS))
    assert sms.incoming(["+33 6 12 34 56 78", "call me"]) == ["+33612345678", Outcome.INVALID_PHONE]
    assert sms.outgoing(["0033612345678", "abc", ""]) == [
        "+33612345678",
        Outcome.INVALID_PHONE,
        Outcome.NOT_FOUND,
    ]
    other = IdCodec(ds_for(channel=Channel.OTHER))
    assert other.incoming(["CRM-42", ""]) == ["CRM-42", Outcome.NOT_FOUND]
    assert other.profile_keys(["CRM-42", ""]) == ["CRM-42", None]


@pytest.mark.parametrize(
    ("algo", "size"), [(Transform.MD5, 32), (Transform.SHA1, 40), (Transform.SHA256, 64)]
)
def test_codec_hashed(algo: Transform, size: int) -> None:
    codec = IdCodec(ds_for(algo))
    digest = hashlib.new(algo.value, b"alice@example.com").hexdigest()
    assert len(digest) == size
    assert codec.outgoing([" Alice@Example.com", "bad", ""]) == [
        digest,
        Outcome.INVALID_EMAIL,
        Outcome.NOT_FOUND,
    ]
    assert codec.profile_keys(["ALICE@EXAMPLE.COM ", "bad"]) == [digest, None]
    assert codec.incoming([digest, digest.upper(), digest[:-1], digest + "0", "g" * size]) == [
        digest,
        digest,
        Outcome.WRONG_HASH_LENGTH,
        Outcome.WRONG_HASH_LENGTH,
        Outcome.BAD_ENCODING,
    ]


def test_codec_aes_known_value_and_round_trip() -> None:
    codec = aes_codec()
    assert codec.outgoing([" Alice@Example.COM "]) == [ALICE_CT]
    assert codec.incoming([ALICE_CT, ALICE_CT.upper()]) == ["alice@example.com"] * 2
    b64 = aes_codec(encoding=CipherEncoding.BASE64)
    assert b64.outgoing(["alice@example.com"]) == ["rLu8TZIRCVgSbqivGaNl2dZ0q6fyKJk/Z0SRuy7TqnQ="]
    urlsafe_unpadded = "rLu8TZIRCVgSbqivGaNl2dZ0q6fyKJk_Z0SRuy7TqnQ"
    assert (
        b64.incoming(["rLu8TZIRCVgSbqivGaNl2dZ0q6fyKJk/Z0SRuy7TqnQ=", urlsafe_unpadded])
        == ["alice@example.com"] * 2
    )
    values = [f"User{i}@Example.org" for i in range(300)] + ["x@y.io"]
    for c in (codec, b64):
        sent = c.outgoing(values)
        assert c.incoming([s for s in sent if isinstance(s, str)]) == c.profile_keys(values)


def test_codec_aes_every_outcome() -> None:
    codec = aes_codec()
    bad_padding = ref_encrypt_raw(KEY256, IV, b"A" * 15 + b"\x00").hex()
    not_utf8 = ref_encrypt(KEY256, IV, b"\xff\xfe\xfd@x.io").hex()
    not_email = ref_encrypt(KEY256, IV, b"not an email").hex()
    assert codec.incoming(
        ["zz", "abc", "", ALICE_CT[:30], bad_padding, not_utf8, not_email, ALICE_CT]
    ) == [
        Outcome.BAD_ENCODING,  # not hex
        Outcome.BAD_ENCODING,  # odd length
        Outcome.BAD_ENCODING,  # empty
        Outcome.BAD_ENCODING,  # 15 bytes
        Outcome.BAD_PADDING,
        Outcome.NOT_UTF8,
        Outcome.INVALID_EMAIL,
        "alice@example.com",
    ]
    b64 = aes_codec(encoding=CipherEncoding.BASE64)
    # Hex text is base64 text too: 32 hex digits read as base64 give 24 bytes.
    assert b64.incoming(["****", "QUJD", ALICE_CT[:32]]) == [Outcome.BAD_ENCODING] * 3
    sms = aes_codec(Channel.SMS)
    assert sms.incoming([ref_encrypt(KEY256, IV, b"alice").hex()]) == [Outcome.INVALID_PHONE]
    assert sms.incoming([ref_encrypt(KEY256, IV, b"+33 6 12 34 56 78").hex()]) == ["+33612345678"]
    other = aes_codec(Channel.OTHER)
    assert other.incoming(
        [ref_encrypt(KEY256, IV, b"CRM 42\t!").hex(), ref_encrypt(KEY256, IV, b"").hex()]
    ) == ["CRM 42\t!", Outcome.NOT_FOUND]


def test_codec_covers_every_failure_outcome() -> None:
    """Collect every Outcome the codec returns across configurations."""
    seen: set[Outcome] = set()
    probes = ["", "zz", "abc", ALICE_CT, ALICE_CT[:32], "nope", "x" * 64, ECID]
    codecs = [IdCodec(ds_for(id_type=IdType.VISITOR))]
    codecs += [IdCodec(ds_for(channel=ch)) for ch in Channel]
    codecs += [IdCodec(ds_for(t)) for t in (Transform.MD5, Transform.SHA1, Transform.SHA256)]
    codecs += [aes_codec(ch, enc) for ch in Channel for enc in CipherEncoding]
    extra = [
        ref_encrypt_raw(KEY256, IV, b"A" * 16).hex(),
        ref_encrypt(KEY256, IV, b"\xff").hex(),
        ref_encrypt(KEY256, IV, b"nope").hex(),
    ]
    for codec in codecs:
        for item in codec.incoming(probes + extra) + codec.outgoing(probes):
            if isinstance(item, Outcome):
                seen.add(item)
    assert seen == {
        Outcome.INVALID_VISITOR_ID,
        Outcome.BAD_ENCODING,
        Outcome.BAD_PADDING,
        Outcome.NOT_UTF8,
        Outcome.INVALID_EMAIL,
        Outcome.INVALID_PHONE,
        Outcome.WRONG_HASH_LENGTH,
        Outcome.NOT_FOUND,
    }


def test_wrong_key_never_reconciles() -> None:
    """5000 records under a wrong key: the padding check lets ~1/256 through, the UTF-8 and
    channel checks must stop them all."""
    rng = random.Random(7)
    emails = [f"user{i}.{rng.randrange(10**6)}@example{i % 17}.com" for i in range(5000)]
    sent = aes_codec().outgoing(emails)
    wrong = IdCodec(ds_for(Transform.AES), rng.randbytes(32), IV)
    keys = wrong.incoming([s for s in sent if isinstance(s, str)])
    assert not set(emails) & {k for k in keys if isinstance(k, str)}
    assert all(isinstance(k, Outcome) for k in keys)
    counts = {o: sum(k is o for k in keys) for o in set(keys)}
    assert counts[Outcome.BAD_PADDING] > 4800
    # Some did pass the padding check and were caught later.
    assert counts.get(Outcome.NOT_UTF8, 0) + counts.get(Outcome.INVALID_EMAIL, 0) > 0


def test_codec_requires_valid_key_and_iv() -> None:
    ds = ds_for(Transform.AES)
    with pytest.raises(ValidationError) as info:
        IdCodec(ds)
    assert info.value.field == "aes_key"
    with pytest.raises(ValidationError) as info:
        IdCodec(ds, KEY256)
    assert info.value.field == "aes_iv"
    with pytest.raises(ValidationError):
        IdCodec(ds, KEY256[:20], IV)
    codec = IdCodec(ds, KEY256, IV)
    assert KEY256.hex() not in repr(codec) and IV.hex() not in repr(codec)


def test_encode_decode_helpers() -> None:
    raw = bytes(range(40))
    for enc in CipherEncoding:
        assert decode_ciphertext(encode_ciphertext(raw, enc), enc) == raw
    assert encode_ciphertext(b"\xab", CipherEncoding.HEX) == "ab"
    assert decode_ciphertext("ab cd", CipherEncoding.HEX) is None
    assert decode_ciphertext("QUJD=QUJD", CipherEncoding.BASE64) is None
