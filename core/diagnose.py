"""The website cross-check: which setting differs between the site and a data source.

An admin captures one ID the website sends (the *sample*) together with the
clear value it stands for. ``diagnose`` recomputes what the data source
expects and, when the two differ, tries the usual mistakes one by one
(docs/reference.md §7): encoding, hex case, normalization, passphrase mode,
ECB, zero padding, wrong IV, key parsed as text, hashing instead of
encrypting, another hash algorithm. The detail is a plain-language fix for an
admin; it never contains the key or the IV. ``diagnose`` never raises.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass

from core.cipher import (
    BLOCK,
    KEY_SIZES,
    cbc_decrypt_blocks,
    ecb_decrypt,
    ecb_encrypt,
    encrypt_batch,
    hash_batch,
    pkcs7_pad,
    pkcs7_unpad,
)
from core.cryptojs import rijndael_cbc_decrypt
from core.ids import is_ecid
from core.model import Channel, CipherEncoding, DataSource, IdType, Transform
from core.normalize import normalize

__all__ = ["CODES", "Diagnosis", "diagnose"]

CODES = (
    "ok",
    "wrong_iv",
    "wrong_key",
    "key_as_text",
    "ciphertext_encoding",
    "hex_case",
    "normalization",
    "passphrase_mode",
    "ecb_mode",
    "zero_padding",
    "hashed_not_encrypted",
    "unknown",
)


@dataclass(frozen=True)
class Diagnosis:
    """The verdict: ``match`` is True only for ``ok``; ``code`` is one of ``CODES``."""

    match: bool
    code: str
    detail: str

    def to_json(self) -> dict[str, object]:
        """``{"match", "diagnosis", "detail"}`` as docs/reference.md §7 prints it."""
        return {"match": self.match, "diagnosis": self.code, "detail": self.detail}


def _verdict(code: str, detail: str) -> Diagnosis:
    return Diagnosis(code == "ok", code, detail)


_HEX = re.compile(r"(?:[0-9A-Fa-f]{2})+")
_HASHES = (Transform.MD5, Transform.SHA1, Transform.SHA256)
_HASH_NAMES = {Transform.MD5: "MD5", Transform.SHA1: "SHA-1", Transform.SHA256: "SHA-256"}
_SALTED = b"Salted__"

_NORMAL_FORM = {
    Channel.EMAIL: "trim and lower-case the email address",
    Channel.SMS: "reduce the phone number to + and digits (no spaces, dots, dashes or brackets)",
    Channel.OTHER: "send the value exactly as stored in the profile",
}


# ------------------------------------------------------------------ the clear side


@dataclass(frozen=True)
class _Clear:
    """The value the data source expects, and the forms a careless site might use."""

    primary: str  # the normalized value (or the value as typed when it does not normalize)
    valid: bool  # whether the clear value fits the channel
    unnormalized: tuple[str, ...]  # other spellings of the same value
    channel: Channel

    @classmethod
    def of(cls, clear: str, channel: Channel) -> _Clear:
        norm = normalize(clear, channel)
        primary = norm if norm is not None else clear.strip()
        others: list[str] = []
        for variant in (clear, clear.strip(), clear.lower(), clear.strip().lower()):
            if variant != primary and variant not in others:
                others.append(variant)
        return cls(primary, norm is not None, tuple(others), channel)

    def which(self, plain: bytes | None) -> str | None:
        """``"normalized"`` when ``plain`` is the expected value, ``"unnormalized"`` when it is
        another spelling of it, ``None`` otherwise."""
        if plain is None:
            return None
        try:
            text = plain.decode("utf-8")
        except UnicodeDecodeError:
            return None
        if text == self.primary:
            return "normalized"
        if text in self.unnormalized or (text and normalize(text, self.channel) == self.primary):
            return "unnormalized"
        return None

    @property
    def variants(self) -> tuple[tuple[str, str], ...]:
        others = tuple(("unnormalized", v) for v in self.unnormalized)
        return (("normalized", self.primary), *others)


def _also_unnormalized(kind: str | None, clear: _Clear) -> str:
    if kind != "unnormalized":
        return ""
    return f" The website also skips normalization: {_NORMAL_FORM[clear.channel]} first."


# ------------------------------------------------------------------ public entry


def diagnose(
    clear: str, sample: str, ds: DataSource, key: bytes | None, iv: bytes | None
) -> Diagnosis:
    """Compare a website ``sample`` for ``clear`` with what ``ds`` expects; never raises.

    ``key``/``iv`` are the data source's resolved bytes (used when its transform
    is aes). The detail tells an admin what to change and never contains them.
    """
    try:
        return _diagnose(clear, sample, ds, key, iv)
    except Exception:  # a diagnosis tool must answer, whatever the input
        return _verdict(
            "unknown",
            "The sample could not be analysed. Capture it again exactly as the website sends it "
            "(e.g. from the network tab), with the clear value it stands for.",
        )


def _diagnose(
    clear: str, sample: str, ds: DataSource, key: bytes | None, iv: bytes | None
) -> Diagnosis:
    text = sample.strip()
    if not text:
        return _verdict("unknown", "The sample is empty: paste the ID the website sends.")
    cl = _Clear.of(clear, ds.channel)
    if not cl.primary:
        return _verdict(
            "unknown", "The clear value is empty: give the value the sample stands for."
        )
    if ds.id_type is IdType.VISITOR:
        return _diagnose_visitor(text)
    if ds.transform.is_hash:
        return _diagnose_hash(cl, text, ds.transform)
    if ds.transform is Transform.AES:
        return _diagnose_aes(cl, text, ds, key, iv)
    return _diagnose_clear(cl, text)


# ------------------------------------------------------------------ visitor and clear


def _diagnose_visitor(text: str) -> Diagnosis:
    if is_ecid(text):
        return _verdict(
            "ok",
            "The sample is a valid Experience Cloud ID; visitor IDs are sent as they are.",
        )
    return _verdict(
        "unknown",
        "The sample is not a 38-digit Experience Cloud ID: this data source reconciles visitor "
        "IDs, so the website must run the Visitor ID service; for e-mails or customer IDs use "
        "a declared-ID data source.",
    )


def _hash_match(cl: _Clear, hexdigest: str) -> tuple[Transform, str] | None:
    """The algorithm and spelling whose digest of the clear value is ``hexdigest``."""
    for algo in _HASHES:
        for kind, variant in cl.variants:
            if hash_batch(algo, [variant])[0] == hexdigest:
                return algo, kind
    return None


def _diagnose_clear(cl: _Clear, text: str) -> Diagnosis:
    if text == cl.primary:
        return _verdict("ok", "The sample is the clear value, as this data source expects.")
    if cl.which(text.encode("utf-8")) == "unnormalized":
        return _verdict(
            "normalization",
            f"The website sends the value as typed: {_NORMAL_FORM[cl.channel]} before sending.",
        )
    if _HEX.fullmatch(text):
        found = _hash_match(cl, text.lower())
        if found:
            algo, kind = found
            return _verdict(
                "hashed_not_encrypted",
                f"The website sends the {_HASH_NAMES[algo]} hash ({algo.value}) of the value while "
                f"the data source expects it in clear: set the data source's transform to "
                f"{algo.value}." + _also_unnormalized(kind, cl),
            )
    return _verdict(
        "unknown",
        "The sample is not the clear value nor a hash of it: check that the website sends the "
        "profile field this data source reconciles on, and whether it encrypts it.",
    )


# ------------------------------------------------------------------ hashed data sources


def _diagnose_hash(cl: _Clear, text: str, algo: Transform) -> Diagnosis:
    name = f"{_HASH_NAMES[algo]} ({algo.value})"
    expected = hash_batch(algo, [cl.primary])[0]
    if text == expected:
        return _verdict("ok", f"The sample is the {name} of the normalized value, as expected.")
    if _HEX.fullmatch(text):
        digest = text.lower()
        if digest == expected:
            return _verdict(
                "hex_case",
                "The hash is right but written in upper-case hex; AAM treats IDs as "
                "case-sensitive: lower-case it on the website (.toLowerCase()).",
            )
        found = _hash_match(cl, digest)
        if found and found[0] is algo:
            return _verdict(
                "normalization",
                f"The website hashes the value as typed: {_NORMAL_FORM[cl.channel]} before "
                f"hashing with {name}.",
            )
        if found:
            other = found[0]
            return _verdict(
                "unknown",
                f"The website hashes with {_HASH_NAMES[other]} ({other.value}) but the data source "
                f"expects {name}: make both use the same algorithm (set the data source's "
                f"transform to {other.value}, or change the website)."
                + _also_unnormalized(found[1], cl),
            )
        if len(digest) != len(expected):
            return _verdict(
                "unknown",
                f"The sample has {len(digest)} hex digits but {name} gives {len(expected)}: the "
                "website uses another algorithm or sends something else.",
            )
        return _verdict(
            "unknown",
            f"The sample has the length of a {name} hash but not of this value: the website "
            "hashes another field, salts the hash, or normalizes differently.",
        )
    raw = _b64(text)
    if raw is not None:
        found = _hash_match(cl, raw.hex())
        if found and found[0] is algo:
            return _verdict(
                "ciphertext_encoding",
                f"The {name} hash is right but written in base64; AAM and Campaign expect "
                "lower-case hex: encode the digest as hex on the website."
                + _also_unnormalized(found[1], cl),
            )
    if cl.which(text.encode("utf-8")):
        return _verdict(
            "unknown",
            f"The website sends the value in clear but the data source expects its {name}: "
            f"hash it on the website (after normalizing), or set the transform to none.",
        )
    return _verdict(
        "unknown",
        f"The sample is not hex: a {name} hash is {len(expected)} hex digits. Check what the "
        "website sends.",
    )


# ------------------------------------------------------------------ AES data sources


def _b64(text: str) -> bytes | None:
    body = text.replace("-", "+").replace("_", "/")
    if len(body) % 4 == 1:
        return None
    try:
        return base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None


def _could_be_output(data: bytes) -> bool:
    """True for a length AES-CBC (whole blocks) or md5/sha1/sha256 can produce."""
    return (len(data) > 0 and len(data) % BLOCK == 0) or len(data) in (16, 20, 32)


def _decode_sample(text: str, configured: CipherEncoding) -> tuple[bytes | None, str]:
    """The sample's bytes and the encoding it was found in: ``hex``, ``base64`` or
    ``base64url`` (URL-safe alphabet or no ``=`` padding). Hex is preferred for hex text."""
    hex_bytes = bytes.fromhex(text) if _HEX.fullmatch(text) else None
    b64_bytes = _b64(text)
    b64_kind = "base64"
    if b64_bytes is not None and base64.b64encode(b64_bytes).decode("ascii") != text:
        b64_kind = "base64url"
    if configured is CipherEncoding.HEX:
        if hex_bytes is not None:
            return hex_bytes, "hex"
        if b64_bytes is not None and not _could_be_output(b64_bytes):
            return None, b64_kind  # valid base64 by chance, but no cipher or hash gives it
        return b64_bytes, b64_kind
    # Configured base64: hex text is also valid base64 text, so prefer hex when the text
    # is hex and its hex reading is block-aligned or a digest (real base64 ciphertext is
    # all hex characters with a vanishing probability: it ends in "=" below 48 bytes).
    if hex_bytes is not None and (
        b64_bytes is None or len(hex_bytes) % BLOCK == 0 or len(hex_bytes) in (16, 20, 32)
    ):
        return hex_bytes, "hex"
    if b64_bytes is not None:
        return b64_bytes, b64_kind
    return hex_bytes, "hex"


def _encoding_fix(found: str, configured: CipherEncoding) -> str:
    if configured is CipherEncoding.HEX:
        return (
            f"The website writes the ciphertext in {found} while the data source expects hex: "
            "send .ciphertext.toString() (lower-case hex) from CryptoJS, or set the data "
            'source\'s ciphertext_encoding = "base64".'
        )
    if found == "base64url":
        return (
            "The website writes URL-safe base64 (- and _ or no = padding) while the data source "
            "expects standard base64: use the standard alphabet with padding on the website."
        )
    return (
        "The website writes the ciphertext in hex while the data source expects base64: set "
        'the data source\'s ciphertext_encoding = "hex" (or send base64 from the website).'
    )


def _key_text_candidates(key: bytes) -> list[tuple[bytes, int]]:
    """Keys made from the key's hex text read as UTF-8: the whole text first (what
    ``CryptoJS.enc.Utf8.parse`` gives: 32/48/64 bytes for a 16/24/32-byte key, all of
    which CryptoJS uses, core/cryptojs.py), then its first 16/24/32 bytes (what a
    library that cuts the key to an AES size does)."""
    out: list[tuple[bytes, int]] = []
    for hex_text in (key.hex(), key.hex().upper()):
        raw = hex_text.encode("ascii")
        for size in (len(raw), *KEY_SIZES):
            if len(raw) >= size and (raw[:size], size) not in out:
                out.append((raw[:size], size))
    return out


def _text_key_kind(size: int) -> str:
    """What a text key of ``size`` bytes becomes: AES, or CryptoJS's longer Rijndael."""
    if size in KEY_SIZES:
        return ""
    return (
        f" ({size} bytes, which CryptoJS uses whole: Rijndael with {size // 4 + 6} rounds, not AES)"
    )


def _iv_candidates(key: bytes, iv: bytes) -> list[tuple[bytes, str]]:
    """IVs a website commonly uses by mistake, with a description for the admin."""
    cands: list[tuple[bytes, str]] = [
        (bytes(BLOCK), "an all-zero IV, or ECB mode: the same for a value under 16 bytes"),
        (key[:BLOCK], "the first 16 bytes of the key as IV"),
        (key[-BLOCK:], "the last 16 bytes of the key as IV"),
        (iv.hex().encode("ascii")[:BLOCK], "the IV's hex text read as UTF-8 (Utf8.parse)"),
        (iv.hex().upper().encode("ascii")[:BLOCK], "the IV's hex text read as UTF-8 (Utf8.parse)"),
        (key.hex().encode("ascii")[:BLOCK], "the key's hex text as IV"),
    ]
    return [(c, d) for c, d in cands if c != iv]


def _decrypts_to(key: bytes, iv: bytes, ct: bytes, cl: _Clear) -> str | None:
    """Which clear variant ``ct`` decrypts to under ``key`` (any CryptoJS key length)."""
    return cl.which(pkcs7_unpad(rijndael_cbc_decrypt(key, iv, [ct])[0]))


def _evp_bytes_to_key(
    passphrase: bytes, salt: bytes, size: int, digest: str
) -> tuple[bytes, bytes]:
    """OpenSSL's EVP_BytesToKey with one iteration: (key, iv)."""
    data = b""
    block = b""
    while len(data) < size + BLOCK:
        block = hashlib.new(digest, block + passphrase + salt).digest()
        data += block
    return data[:size], data[size : size + BLOCK]


def _diagnose_passphrase(text: str, cl: _Clear, key: bytes) -> Diagnosis:
    fix = (
        "The website passes the key to CryptoJS.AES.encrypt as a string, which turns on "
        "passphrase mode (a random salt, a key derived with MD5, the IV ignored, output "
        'starting U2FsdGVkX1 = "Salted__"): it can never match. Pass '
        "CryptoJS.enc.Hex.parse(key) and {iv: CryptoJS.enc.Hex.parse(iv)}, and send "
        ".ciphertext.toString()."
    )
    raw = (
        _b64(text)
        if text.startswith("U2FsdGVkX1")
        else (bytes.fromhex(text) if _HEX.fullmatch(text) else None)
    )
    if raw is None or len(raw) < 32 or (len(raw) - 16) % BLOCK:
        return _verdict("passphrase_mode", fix)
    salt, body = raw[8:16], raw[16:]
    phrases = [key.hex().encode(), key.hex().upper().encode(), base64.b64encode(key)]
    for phrase in phrases:
        for digest in ("md5", "sha256"):
            for size in (32, 24, 16):
                dkey, div = _evp_bytes_to_key(phrase, salt, size, digest)
                kind = _decrypts_to(dkey, div, body, cl)
                if kind:
                    return _verdict(
                        "passphrase_mode",
                        fix + " Confirmed: the data source's key text, used as a passphrase, "
                        "decrypts the sample." + _also_unnormalized(kind, cl),
                    )
    return _verdict("passphrase_mode", fix)


def _diagnose_aes(
    cl: _Clear, text: str, ds: DataSource, key: bytes | None, iv: bytes | None
) -> Diagnosis:
    if key is None or iv is None:
        return _verdict(
            "unknown",
            "The data source has no usable AES key and IV: set aes_key and aes_iv first.",
        )
    if len(key) not in KEY_SIZES or len(iv) != BLOCK:
        return _verdict(
            "unknown",
            "The data source's AES key must be 16, 24 or 32 bytes (32/48/64 hex characters) "
            "and its IV 16 bytes (32 hex characters): fix them first.",
        )
    configured = ds.ciphertext_encoding
    expected_ct = encrypt_batch(key, iv, [cl.primary.encode("utf-8")])[0]
    if configured is CipherEncoding.HEX:
        expected_text = expected_ct.hex()
    else:
        expected_text = base64.b64encode(expected_ct).decode("ascii")
    if text == expected_text:
        return _verdict(
            "ok",
            "The sample matches: the website and the data source use the same key, IV, mode, "
            "padding, normalization and encoding.",
        )
    if text.startswith("U2FsdGVkX1") or text[:16].lower() == _SALTED.hex():
        return _diagnose_passphrase(text, cl, key)

    ct, found = _decode_sample(text, configured)
    if ct is None:
        return _verdict(
            "unknown",
            "The sample is neither hex nor base64: capture the ID exactly as the website sends it.",
        )
    mismatch = found != configured.value
    case_diff = found == "hex" and text != text.lower()
    inner = _analyse_bytes(cl, ct, expected_ct, key, iv)
    if mismatch and inner.code != "hashed_not_encrypted":
        # The encoding is the first thing to fix; say what the decoded bytes show too.
        after = "" if inner.code == "ok" else " Once decoded, the sample also shows this: "
        return _verdict(
            "ciphertext_encoding",
            _encoding_fix(found, configured) + after + ("" if inner.code == "ok" else inner.detail),
        )
    if case_diff:
        if inner.code == "ok":
            return _verdict(
                "hex_case",
                "The ciphertext is right but in upper-case hex; AAM treats IDs as case-sensitive "
                "and Campaign writes lower-case: lower-case it on the website "
                "(.toLowerCase()) or use .ciphertext.toString().",
            )
        return _verdict(inner.code, inner.detail + " Also write the hex in lower case.")
    return inner


def _analyse_bytes(cl: _Clear, ct: bytes, expected_ct: bytes, key: bytes, iv: bytes) -> Diagnosis:
    """What the decoded sample bytes show, the encoding put aside."""
    if ct == expected_ct:
        return _verdict("ok", "The sample matches once surrounding spaces are removed.")

    if len(ct) in (16, 20, 32):
        hashed = _hash_match(cl, ct.hex())
        if hashed:
            algo, hash_kind = hashed
            how = "the value as typed" if hash_kind == "unnormalized" else "the normalized value"
            return _verdict(
                "hashed_not_encrypted",
                f"The website sends the {_HASH_NAMES[algo]} hash ({algo.value}) of {how} instead "
                "of encrypting it: either encrypt it with AES-CBC on the website, or set the data "
                f"source's transform to {algo.value}." + _also_unnormalized(hash_kind, cl),
            )

    if not ct or len(ct) % BLOCK:
        return _verdict(
            "unknown",
            f"The sample decodes to {len(ct)} byte(s), not a multiple of 16: it is truncated, "
            "not AES-CBC output, or in another encoding.",
        )

    raw = cbc_decrypt_blocks(key, iv, [ct])[0]
    unpadded = pkcs7_unpad(raw)
    kind = cl.which(unpadded)
    if kind == "unnormalized":
        return _verdict(
            "normalization",
            "Key, IV and mode are right, but the website encrypts the value as typed: "
            f"{_NORMAL_FORM[cl.channel]} before encrypting.",
        )

    # Zero padding (CryptoJS.pad.ZeroPadding, openssl -nopad) or no padding at all.
    stripped = raw.rstrip(b"\0")
    kind = cl.which(stripped)
    if kind:
        return _verdict(
            "zero_padding",
            "Key and IV are right but the website pads with zero bytes (or not at all) instead "
            "of PKCS#7: remove the padding option on the website (CryptoJS pads with PKCS#7 by "
            "default)." + _also_unnormalized(kind, cl),
        )

    # ECB mode: no IV, every block encrypted alone.
    # For a one-block value ECB equals CBC with an all-zero IV: the IV check names that.
    for kind, variant in cl.variants:
        if len(ct) > BLOCK and ecb_encrypt(key, pkcs7_pad(variant.encode("utf-8"))) == ct:
            return _verdict(
                "ecb_mode",
                "Key and padding are right but the website encrypts in ECB mode (no IV): use "
                "CBC with the data source's IV (CryptoJS.mode.CBC, the default, with an iv "
                "option)." + _also_unnormalized(kind, cl),
            )

    # Wrong IV: with CBC only the first plaintext block depends on the IV.
    first = ecb_decrypt(key, ct[:BLOCK])
    for kind, variant in cl.variants:
        padded = pkcs7_pad(variant.encode("utf-8"))
        if len(padded) != len(raw):
            continue
        site_iv = bytes(a ^ b for a, b in zip(first, padded[:BLOCK], strict=True))
        named = next((d for c, d in _iv_candidates(key, iv) if c == site_iv), None)
        if (len(raw) > BLOCK and raw[BLOCK:] == padded[BLOCK:]) or named:
            which = f" (it uses {named})" if named else ""
            return _verdict(
                "wrong_iv",
                "The key is right but the website uses another IV" + which + ": only the first "
                "16 bytes differ. Give the website the data source's IV as 32 hex characters "
                "(CryptoJS.enc.Hex.parse(iv)), or update the data source's IV."
                + _also_unnormalized(kind, cl),
            )

    # The hex key text used as bytes (CryptoJS.enc.Utf8.parse, PHP/Node strings).
    iv_text_forms = [(iv, "")] + [
        (form, " and treats the IV the same way")
        for form in (iv.hex().encode("ascii")[:BLOCK], iv.hex().upper().encode("ascii")[:BLOCK])
    ]
    for text_key, size in _key_text_candidates(key):
        for site_iv, iv_note in iv_text_forms:
            kind = _decrypts_to(text_key, site_iv, ct, cl)
            if kind:
                return _verdict(
                    "key_as_text",
                    "The website reads the hex key text as UTF-8 bytes (CryptoJS.enc.Utf8.parse, "
                    "or a plain string in PHP/Node) instead of decoding the hex, which gives "
                    f"another {size * 8}-bit key{_text_key_kind(size)}"
                    + iv_note
                    + ": parse it with "
                    "CryptoJS.enc.Hex.parse(key) (Buffer.from(key, 'hex') in Node, hex2bin in "
                    "PHP)." + _also_unnormalized(kind, cl),
                )

    # A shorter key size taken from the start of the key (AES-128 instead of AES-256).
    for size in KEY_SIZES:
        if size < len(key):
            kind = _decrypts_to(key[:size], iv, ct, cl)
            if kind:
                return _verdict(
                    "wrong_key",
                    f"The website uses AES-{size * 8} with only the first {size} bytes of the "
                    f"key, while the data source has an AES-{len(key) * 8} key: give the website "
                    "the whole key (hex-decoded) and a matching key size."
                    + _also_unnormalized(kind, cl),
                )

    if unpadded is not None:
        try:
            other = unpadded.decode("utf-8")
        except UnicodeDecodeError:
            other = None
        if other is not None and other.isprintable():
            return _verdict(
                "unknown",
                "Key and IV are right, but the website encrypts another value "
                f"({len(other)} characters, not this one): check which profile field the website "
                "sends and that the clear value belongs to the same person.",
            )
    single = (
        " With a one-block sample a wrong IV looks the same as a wrong key: a sample of a "
        "value of 16 characters or more tells them apart."
        if len(ct) == BLOCK
        else ""
    )
    return _verdict(
        "wrong_key",
        "The sample does not decrypt with the data source's key: the website uses another AES "
        "key (or key size, or mode). Put the same key in both places as 32/48/64 hex "
        "characters and parse it with CryptoJS.enc.Hex.parse(key) on the website." + single,
    )
