"""AES-CBC (PKCS#7) and hashing of declared IDs, in batches.

One data source has one key and one fixed IV, so every record of a file is
encrypted or decrypted under the same parameters. The engine exploits that:

- decryption makes ONE AES-ECB call over all blocks of all records, then
  XORs each block with the previous ciphertext block (the IV for a record's
  first block) in numpy, and checks PKCS#7 padding for all records at once
  on their last blocks;
- encryption pads, groups records by block count and walks the block
  positions: one ECB call per position over all records of the group, the
  chaining XOR done in numpy.

No cipher object is ever made per record. Key and IV parsing follow
docs/adobe.md ("Encodings"): keys are 16/24/32 bytes, the IV is 16 bytes.

``IdCodec`` turns IDs into lookup keys (incoming), profile values into the
same key space (profile side) and profile values into IDs for AAM (outgoing).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Callable, Sequence
from itertools import compress
from typing import Any

import numpy as np
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from core.errors import ValidationError
from core.ids import is_ecid
from core.model import Channel, CipherEncoding, DataSource, IdType, Transform
from core.normalize import is_email_key, normalize_batch, normalize_email_lines
from core.outcomes import Outcome

__all__ = [
    "BLOCK",
    "HASH_HEX_LENGTHS",
    "KEY_SIZES",
    "IdCodec",
    "cbc_decrypt_blocks",
    "cbc_encrypt_blocks",
    "decode_ciphertext",
    "decrypt_batch",
    "ecb_decrypt",
    "ecb_encrypt",
    "encode_ciphertext",
    "encrypt_batch",
    "hash_batch",
    "parse_iv",
    "parse_key",
    "pkcs7_pad",
    "pkcs7_unpad",
]

BLOCK = 16
KEY_SIZES = (16, 24, 32)
HASH_HEX_LENGTHS: dict[Transform, int] = {
    Transform.MD5: 32,
    Transform.SHA1: 40,
    Transform.SHA256: 64,
}
_PADS = tuple(bytes([n]) * n for n in range(BLOCK + 1))
_HEX = re.compile(r"[0-9A-Fa-f]*")
_HEX_DIGITS = b"0123456789abcdefABCDEF"
_NOT_PRINTABLE = re.compile(rb"[^\x20-\x7e]")

# (said once, without brackets: the message wraps the hint in "(hint: ...)" and its
# reason already names the byte sizes)
KEY_HINT = (
    "write a 128, 192 or 256-bit key as 32, 48 or 64 hex characters, bare or with a 0x "
    "or Campaign's \\x prefix, or as base64:...; Adobe's documentation is wrong here: it "
    "says 16/24/32 hex characters, which is only half a key"
)
IV_HINT = (
    "the IV is always 16 bytes: 32 hex characters (bare, 0x or \\x prefix), or base64:... "
    "of 16 bytes, whatever the key size. Adobe's documentation is wrong here: it says the "
    "IV has the same length as the key"
)


# --------------------------------------------------------------------------- parsing

#: Campaign's per-byte form, ``\\x01\\x02...`` (after its leading ``\\x``).
_PER_BYTE = re.compile(r"[0-9A-Fa-f]{2}(?:\\[xX][0-9A-Fa-f]{2})+")


def _strip_hex_prefix(raw: str) -> str:
    """Hex text without its prefix: ``0x``, or Campaign's ``\\x`` (its
    ``encryption_aescbcEncrypt`` function takes keys and IVs written so), either once in
    front (``\\x0011...``) or before every byte (``\\x00\\x11...``). Bare hex is unchanged."""
    if raw[:2].lower() not in ("0x", "\\x"):
        return raw
    body = raw[2:]
    if raw[0] == "\\" and _PER_BYTE.fullmatch(body):
        body = body.replace("\\x", "").replace("\\X", "")
    return body


def _parse_secret_bytes(text: str, field: str, hint: str) -> bytes:
    raw = text.strip()
    if raw[:7].lower() == "base64:":
        body = raw[7:].strip()
        try:
            return _b64decode_lenient(body)
        except ValueError:
            raise ValidationError(field, "is not valid base64", hint) from None
    raw = _strip_hex_prefix(raw)
    if not raw:
        raise ValidationError(field, "is empty", hint)
    if not _HEX.fullmatch(raw):
        raise ValidationError(
            field,
            "is not hexadecimal (only 0-9 and a-f expected; write base64:... for base64)",
            hint,
        )
    if len(raw) % 2:
        raise ValidationError(field, f"has an odd number of hex characters ({len(raw)})", hint)
    return bytes.fromhex(raw)


def parse_key(text: str) -> bytes:
    """The AES key bytes from hex (default; trimmed, any case, bare or with a ``0x`` or
    Campaign's ``\\x`` prefix) or ``base64:...`` text.

    Raises ``ValidationError("aes_key", ...)`` unless it is 16, 24 or 32 bytes.
    """
    key = _parse_secret_bytes(text, "aes_key", KEY_HINT)
    if len(key) not in KEY_SIZES:
        raise ValidationError(
            "aes_key",
            f"is {len(key)} bytes ({len(key) * 2} hex characters); AES needs 16, 24 or 32 bytes",
            KEY_HINT,
        )
    return key


def parse_iv(text: str) -> bytes:
    """The IV bytes from hex (default; trimmed, any case, bare, ``0x`` or ``\\x``) or
    ``base64:...`` text.

    Raises ``ValidationError("aes_iv", ...)`` unless it is exactly 16 bytes.
    """
    iv = _parse_secret_bytes(text, "aes_iv", IV_HINT)
    if len(iv) != BLOCK:
        raise ValidationError(
            "aes_iv",
            f"is {len(iv)} bytes ({len(iv) * 2} hex characters); the IV must be 16 bytes",
            IV_HINT,
        )
    return iv


def _check_key_iv(key: bytes, iv: bytes) -> None:
    if len(key) not in KEY_SIZES:
        raise ValidationError("aes_key", f"is {len(key)} bytes; AES needs 16, 24 or 32", KEY_HINT)
    if len(iv) != BLOCK:
        raise ValidationError("aes_iv", f"is {len(iv)} bytes; the IV must be 16", IV_HINT)


# ---------------------------------------------------------------------- encodings


def _b64decode_lenient(text: str) -> bytes:
    """Standard or URL-safe base64, padding optional; ``ValueError`` when invalid."""
    body = text.strip().replace("-", "+").replace("_", "/")
    if len(body) % 4 == 1:
        raise ValueError("impossible base64 length")
    body += "=" * (-len(body) % 4)
    try:
        return base64.b64decode(body, validate=True)
    except binascii.Error as exc:
        raise ValueError(str(exc)) from None


def decode_ciphertext(text: str, encoding: CipherEncoding) -> bytes | None:
    """The bytes of ``text`` in ``encoding`` (hex: any case; base64: standard or URL-safe,
    padding optional), or ``None`` when it is not valid in that encoding."""
    if encoding is CipherEncoding.HEX:
        try:
            return binascii.a2b_hex(text)
        except (binascii.Error, ValueError):
            return None
    try:
        return _b64decode_lenient(text)
    except ValueError:
        return None


def encode_ciphertext(data: bytes, encoding: CipherEncoding) -> str:
    """``data`` as lower-case hex or standard padded base64."""
    if encoding is CipherEncoding.HEX:
        return data.hex()
    return base64.b64encode(data).decode("ascii")


# ----------------------------------------------------------------- block engine


def _ecb(key: bytes) -> Cipher[modes.ECB]:
    return Cipher(algorithms.AES(key), modes.ECB())


def ecb_encrypt(key: bytes, data: bytes) -> bytes:
    """AES-ECB encryption of whole blocks (``len(data) % 16 == 0``)."""
    enc = _ecb(key).encryptor()
    return enc.update(data) + enc.finalize()


def ecb_decrypt(key: bytes, data: bytes) -> bytes:
    """AES-ECB decryption of whole blocks (``len(data) % 16 == 0``)."""
    dec = _ecb(key).decryptor()
    return dec.update(data) + dec.finalize()


def pkcs7_pad(data: bytes) -> bytes:
    """``data`` followed by 1-16 PKCS#7 padding bytes."""
    return data + _PADS[BLOCK - len(data) % BLOCK]


def pkcs7_unpad(data: bytes) -> bytes | None:
    """``data`` without its PKCS#7 padding, or ``None`` when the padding is invalid."""
    if not data or len(data) % BLOCK:
        return None
    n = data[-1]
    if not 1 <= n <= BLOCK or data[-n:] != _PADS[n]:
        return None
    return data[:-n]


def _cbc_decrypt_concat(key: bytes, iv: bytes, blob: bytes, starts: np.ndarray) -> np.ndarray:
    """Raw CBC decryption of concatenated records; ``starts`` are their first block indexes.

    Returns the plaintext blocks, shape (blocks, 16), padding still on.
    """
    ct = np.frombuffer(blob, dtype=np.uint8).reshape(-1, BLOCK)
    plain = np.frombuffer(ecb_decrypt(key, blob), dtype=np.uint8).reshape(-1, BLOCK).copy()
    prev = np.empty_like(ct)
    prev[1:] = ct[:-1]
    prev[starts] = np.frombuffer(iv, dtype=np.uint8)
    plain ^= prev
    return plain


def _cbc_encrypt_groups(key: bytes, iv: bytes, padded: Sequence[bytes]) -> list[bytes]:
    """CBC encryption of records already a multiple of 16 bytes long (may be empty)."""
    out: list[bytes] = [b""] * len(padded)
    groups: dict[int, list[int]] = {}
    for index, record in enumerate(padded):
        groups.setdefault(len(record) // BLOCK, []).append(index)
    encryptor = _ecb(key).encryptor()  # ECB keeps no state between update() calls
    iv_arr = np.frombuffer(iv, dtype=np.uint8)
    for nblocks, indexes in groups.items():
        if nblocks == 0:
            continue
        count = len(indexes)
        src = np.frombuffer(b"".join([padded[i] for i in indexes]), dtype=np.uint8)
        src = src.reshape(count, nblocks, BLOCK)
        dst = np.empty_like(src)
        state = np.broadcast_to(iv_arr, (count, BLOCK))
        for pos in range(nblocks):
            mixed = np.bitwise_xor(src[:, pos, :], state)
            enc = encryptor.update(mixed.tobytes())
            state = np.frombuffer(enc, dtype=np.uint8).reshape(count, BLOCK)
            dst[:, pos, :] = state
        flat = dst.tobytes()
        size = nblocks * BLOCK
        for j, index in enumerate(indexes):
            out[index] = flat[j * size : (j + 1) * size]
    encryptor.finalize()
    return out


def cbc_encrypt_blocks(key: bytes, iv: bytes, records: Sequence[bytes]) -> list[bytes]:
    """AES-CBC without padding: each record must be a multiple of 16 bytes.

    The block-level core of ``encrypt_batch`` (used for NIST/CAVP vectors).
    """
    _check_key_iv(key, iv)
    if any(len(r) % BLOCK for r in records):
        raise ValueError("every record must be a multiple of 16 bytes")
    return _cbc_encrypt_groups(key, iv, records)


def cbc_decrypt_blocks(key: bytes, iv: bytes, records: Sequence[bytes]) -> list[bytes]:
    """AES-CBC decryption without unpadding: each record a multiple of 16 bytes.

    The block-level core of ``decrypt_batch`` (used for NIST/CAVP vectors).
    """
    _check_key_iv(key, iv)
    if any(len(r) % BLOCK for r in records):
        raise ValueError("every record must be a multiple of 16 bytes")
    lengths = [len(r) for r in records]
    blob = b"".join(records)
    if not blob:
        return [b""] * len(records)
    nblocks = np.array(lengths, dtype=np.int64) // BLOCK
    ends = np.cumsum(nblocks)
    starts = ends - nblocks
    nonempty = starts[nblocks > 0]
    flat = _cbc_decrypt_concat(key, iv, blob, nonempty).tobytes()
    bounds = zip((starts * BLOCK).tolist(), (ends * BLOCK).tolist(), strict=True)
    return [flat[s:e] for s, e in bounds]


def encrypt_batch(key: bytes, iv: bytes, plaintexts: Sequence[bytes]) -> list[bytes]:
    """AES-CBC with PKCS#7 padding of every plaintext under one key and IV.

    Returns one ciphertext per plaintext, in order; each is 16-byte aligned
    and at least one block long (an empty plaintext gives one padding block).
    """
    _check_key_iv(key, iv)
    pads = _PADS
    return _cbc_encrypt_groups(key, iv, [p + pads[BLOCK - len(p) % BLOCK] for p in plaintexts])


def _positions(text: str, others: bytes) -> list[int]:
    """Positions in ``text`` (ASCII) of the characters listed in ``others`` (with repeats,
    as ``bytes.translate`` leaves them): a C-speed scan per distinct character."""
    found: list[int] = []
    for char in set(others.decode("ascii")):
        at = text.find(char)
        while at >= 0:
            found.append(at)
            at = text.find(char, at + 1)
    return found


def _pkcs7_check(plain: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(valid, pad length)`` of each record whose last block is ``plain[end - 1]``.

    PKCS#7 only concerns the last block: all records' last blocks are checked at once.
    """
    last = plain[ends - 1]
    pad = last[:, -1].astype(np.int64)
    positions = np.arange(BLOCK, dtype=np.int64)
    in_pad = positions[None, :] >= (BLOCK - pad)[:, None]
    pad_ok = (last == last[:, -1:]) | ~in_pad
    valid = (pad >= 1) & (pad <= BLOCK) & pad_ok.all(axis=1)
    return valid, pad


def decrypt_batch(key: bytes, iv: bytes, ciphertexts: Sequence[bytes]) -> list[bytes | Outcome]:
    """AES-CBC decryption and PKCS#7 unpadding of every ciphertext under one key and IV.

    Returns, in order, the plaintext bytes or ``Outcome.BAD_ENCODING`` (empty or
    not a multiple of 16 bytes) or ``Outcome.BAD_PADDING`` (invalid PKCS#7).
    A wrong key passes the padding check about once in 256 records: callers
    must check the plaintext's shape too.
    """
    _check_key_iv(key, iv)
    results: list[bytes | Outcome] = [Outcome.BAD_ENCODING] * len(ciphertexts)
    good = [i for i, c in enumerate(ciphertexts) if c and not len(c) % BLOCK]
    if not good:
        return results
    records = [ciphertexts[i] for i in good]
    blob = b"".join(records)
    nblocks = np.fromiter((len(r) for r in records), dtype=np.int64, count=len(records)) // BLOCK
    ends = np.cumsum(nblocks)
    starts = ends - nblocks
    plain = _cbc_decrypt_concat(key, iv, blob, starts)
    valid, pad = _pkcs7_check(plain, ends)
    stops = ends * BLOCK - pad
    flat = plain.tobytes()
    for i, ok, s, e in zip(
        good, valid.tolist(), (starts * BLOCK).tolist(), stops.tolist(), strict=True
    ):
        results[i] = flat[s:e] if ok else Outcome.BAD_PADDING
    return results


# ------------------------------------------------------------------------ hashing

_HASHES: dict[Transform, Callable[..., Any]] = {
    Transform.MD5: hashlib.md5,
    Transform.SHA1: hashlib.sha1,
    Transform.SHA256: hashlib.sha256,
}


def hash_batch(algorithm: Transform, values: Sequence[str]) -> list[str]:
    """Lower-case hex digest (md5, sha1 or sha256) of each value's UTF-8 bytes, in order."""
    try:
        fn = _HASHES[Transform(algorithm)]
    except (KeyError, ValueError):
        raise ValueError(f"{algorithm!r} is not a hash algorithm (md5, sha1, sha256)") from None
    return [fn(v.encode("utf-8"), usedforsecurity=False).hexdigest() for v in values]


# ------------------------------------------------------------------------- codec

_INVALID_FOR_CHANNEL = {
    Channel.EMAIL: Outcome.INVALID_EMAIL,
    Channel.SMS: Outcome.INVALID_PHONE,
    Channel.OTHER: Outcome.NOT_FOUND,  # only the empty value is invalid for "other"
}


class IdCodec:
    """A data source's ID transform, in batches.

    ``key`` and ``iv`` are the resolved bytes (see ``parse_key``/``parse_iv``);
    they are required when the data source's transform is ``aes``.

    - ``incoming``: IDs read from an AAM file -> lookup keys, or an ``Outcome``.
    - ``profile_keys``: profile values -> the same key space, ``None`` when unusable.
    - ``outgoing``: profile values -> IDs to write for AAM, or an ``Outcome``.

    Lookup keys: the ECID (visitor), the normalized value (declared, none or
    aes) or the lower-case hex digest of the normalized value (declared, hashed).
    """

    def __init__(self, ds: DataSource, key: bytes | None = None, iv: bytes | None = None) -> None:
        self.ds = ds
        self.visitor = ds.id_type is IdType.VISITOR
        self.transform = Transform.NONE if self.visitor else ds.transform
        self.channel = ds.channel
        self.encoding = ds.ciphertext_encoding
        if self.transform is Transform.AES:
            if key is None:
                raise ValidationError("aes_key", "is required when transform is aes", KEY_HINT)
            if iv is None:
                raise ValidationError("aes_iv", "is required when transform is aes", IV_HINT)
            _check_key_iv(key, iv)
        self._key = key
        self._iv = iv

    def __repr__(self) -> str:  # never shows the key or IV
        return f"IdCodec({self.ds.label!r}, transform={self.transform.value})"

    @property
    def key_iv(self) -> tuple[bytes, bytes] | None:
        """The resolved AES key and IV (forensics tests the website's mistakes with them),
        or None for a data source that does not decrypt. Never print or store them."""
        if self.transform is not Transform.AES or self._key is None or self._iv is None:
            return None
        return self._key, self._iv

    # -- incoming -----------------------------------------------------------------

    def incoming(self, ids: Sequence[str]) -> list[str | Outcome]:
        """Lookup keys for IDs from an AAM file, or the ``Outcome`` explaining why not.

        AES with hex ciphertexts takes a vectorised path (``_incoming_aes_hex``) that
        gives exactly the per-record path's results (``_incoming_aes``).
        """
        if self.visitor:
            return [i if is_ecid(i) else Outcome.INVALID_VISITOR_ID for i in ids]
        if self.transform is Transform.NONE:
            return self._from_clear(list(ids))
        if self.transform.is_hash:
            return self._incoming_hash(ids)
        if self.encoding is CipherEncoding.HEX:
            fast = self._incoming_aes_hex(ids)
            if fast is not None:
                return fast
        return self._incoming_aes(ids)

    @property
    def defers_shape_check(self) -> bool:
        """Whether ``incoming_keys`` may leave the e-mail shape check to ``is_shaped``."""
        return (
            self.transform is Transform.AES
            and self.encoding is CipherEncoding.HEX
            and self.channel is Channel.EMAIL
        )

    def incoming_keys(self, ids: Sequence[str]) -> list[str | Outcome]:
        """``incoming`` for reconciliation: the same, except that for hex AES e-mails
        (``defers_shape_check``) a key may not have been checked for the shape of an
        address. Reconciliation checks only the keys it did not find
        (``is_shaped``): a key equal to a profile's key has the shape, since profile
        keys are checked (``profile_keys``). That saves the check for most lines.
        """
        if self.defers_shape_check:
            fast = self._incoming_aes_hex(ids, check=False)
            if fast is not None:
                return fast
        return self.incoming(ids)

    @staticmethod
    def is_shaped(key: str) -> bool:
        """Whether a key from ``incoming_keys`` of a ``defers_shape_check`` codec is an
        address (``False`` means ``Outcome.INVALID_EMAIL``)."""
        return is_email_key(key)

    def _from_clear(self, values: list[str]) -> list[str | Outcome]:
        bad = _INVALID_FOR_CHANNEL[self.channel]
        return [v if v is not None else bad for v in normalize_batch(values, self.channel)]

    def _incoming_hash(self, ids: Sequence[str]) -> list[str | Outcome]:
        size = HASH_HEX_LENGTHS[self.transform]
        hexmatch = _HEX.fullmatch
        out: list[str | Outcome] = []
        for raw in ids:
            value = raw.strip()
            if len(value) != size:
                out.append(Outcome.WRONG_HASH_LENGTH)
            elif not hexmatch(value):
                out.append(Outcome.BAD_ENCODING)
            else:
                out.append(value.lower())
        return out

    def _incoming_aes_hex(
        self, ids: Sequence[str], *, check: bool = True
    ) -> list[str | Outcome] | None:
        """``_incoming_aes`` for hex IDs, vectorised; ``None`` when an ID is not ASCII.

        One ``a2b_hex`` over the joined IDs, one ECB call, the padding check on all
        last blocks at once, and the plaintexts cut out with one boolean mask and
        split as one text: per record, only the final key string is a Python object.
        IDs that are not pure hex (whitespace to trim, other characters) and
        plaintexts that are not printable ASCII go through the per-record path, so
        every outcome is exactly ``_incoming_aes``'s.
        """
        assert self._key is not None and self._iv is not None
        count = len(ids)
        out: list[str | Outcome] = [Outcome.BAD_ENCODING] * count
        if not count:
            return out
        joined = "".join(ids)
        if not joined.isascii():
            return None
        lengths = np.fromiter(map(len, ids), dtype=np.int64, count=count)
        not_pure = np.zeros(count, dtype=bool)
        stray = _positions(joined, joined.encode("ascii").translate(None, _HEX_DIGITS))
        if stray:
            not_pure[np.searchsorted(np.cumsum(lengths), stray, side="right")] = True
        good = ~not_pure & (lengths > 0) & (lengths % (2 * BLOCK) == 0)
        where = np.flatnonzero(good)
        if where.size:
            text = joined if where.size == count else "".join(compress(ids, good.tolist()))
            nblocks = lengths[where] // (2 * BLOCK)
            block_ends = np.cumsum(nblocks)
            plain = _cbc_decrypt_concat(
                self._key, self._iv, binascii.a2b_hex(text), block_ends - nblocks
            )
            valid, pad = _pkcs7_check(plain, block_ends)
            for index in where[~valid].tolist():
                out[index] = Outcome.BAD_PADDING
            where, nblocks, last, pad = (
                where[valid],
                nblocks[valid],
                block_ends[valid] - 1,
                pad[valid],
            )
            # Plaintext bytes: every block of a valid record, its last block up to the pad.
            kept = np.repeat(valid, block_ends - np.concatenate(([0], block_ends[:-1])))
            mask = np.repeat(kept[:, None], BLOCK, axis=1)
            columns = np.arange(BLOCK)[None, :]
            mask[last] = columns < (BLOCK - pad)[:, None]
            clear = plain[mask].tobytes()
            ends = np.cumsum(nblocks * BLOCK - pad)
            printable = np.ones(where.size, dtype=bool)
            odd = [m.start() for m in _NOT_PRINTABLE.finditer(clear)]
            if odd:
                printable[np.searchsorted(ends, odd, side="right")] = False
                for i in np.flatnonzero(~printable).tolist():
                    begin = int(ends[i - 1]) if i else 0
                    out[where[i]] = self._from_bytes(clear[begin : int(ends[i])])
                drop = np.repeat(~printable, nblocks)
                mask[np.flatnonzero(kept)[drop]] = False
                where, last, pad = where[printable], last[printable], pad[printable]
            if where.size:
                # The first padding byte becomes the separator: one text, one split.
                plain[last, BLOCK - pad] = 0x0A
                mask[last] = columns <= (BLOCK - pad)[:, None]
                text = plain[mask].tobytes().decode("ascii")[:-1]  # no last separator
                if self.channel is Channel.EMAIL:  # printable ASCII: one lower(), one split
                    keys = normalize_email_lines(text, Outcome.INVALID_EMAIL, check=check)
                else:
                    keys = self._from_clear(text.split("\n"))
                for index, key in zip(where.tolist(), keys, strict=True):
                    out[index] = key
        careful = np.flatnonzero(not_pure).tolist()
        if careful:
            done = self._incoming_aes([ids[i] for i in careful])
            for index, item in zip(careful, done, strict=True):
                out[index] = item
        return out

    def _from_bytes(self, plain: bytes) -> str | Outcome:
        try:
            text = plain.decode("utf-8")
        except UnicodeDecodeError:
            return Outcome.NOT_UTF8
        return self._from_clear([text])[0]

    def _incoming_aes(self, ids: Sequence[str]) -> list[str | Outcome]:
        """The per-record reference path (any encoding): decode, decrypt, UTF-8, shape."""
        assert self._key is not None and self._iv is not None
        encoding = self.encoding
        out: list[str | Outcome] = [Outcome.BAD_ENCODING] * len(ids)
        decoded: list[bytes] = []
        where: list[int] = []
        for index, raw in enumerate(ids):
            data = decode_ciphertext(raw.strip(), encoding)
            if data is not None:
                decoded.append(data)
                where.append(index)
        texts: list[str] = []
        text_where: list[int] = []
        for index, plain in zip(where, decrypt_batch(self._key, self._iv, decoded), strict=True):
            if isinstance(plain, Outcome):
                out[index] = plain
                continue
            try:
                texts.append(plain.decode("utf-8"))
            except UnicodeDecodeError:
                out[index] = Outcome.NOT_UTF8
                continue
            text_where.append(index)
        for index, item in zip(text_where, self._from_clear(texts), strict=True):
            out[index] = item
        return out

    # -- profile side -------------------------------------------------------------

    def profile_keys(self, values: Sequence[str]) -> list[str | None]:
        """The lookup key of each profile value (the key space of ``incoming``).

        ``None`` for an empty value or one that does not fit the channel.
        """
        if self.visitor:
            return [v.strip() if is_ecid(v.strip()) else None for v in values]
        normal = normalize_batch(list(values), self.channel)
        if not self.transform.is_hash:
            return normal
        present = [v for v in normal if v is not None]
        digests = iter(hash_batch(self.transform, present))
        return [next(digests) if v is not None else None for v in normal]

    # -- outgoing -----------------------------------------------------------------

    def outgoing(self, values: Sequence[str]) -> list[str | Outcome]:
        """IDs to send to AAM for profile values: normalized, then hashed (lower-case hex),
        encrypted (encoded per the data source) or as is.

        Empty values give ``Outcome.NOT_FOUND``; values that do not fit the channel
        give ``INVALID_EMAIL`` / ``INVALID_PHONE`` (``INVALID_VISITOR_ID`` for ECIDs).
        """
        if self.visitor:
            return [
                Outcome.NOT_FOUND
                if not v.strip()
                else (v.strip() if is_ecid(v.strip()) else Outcome.INVALID_VISITOR_ID)
                for v in values
            ]
        normal = normalize_batch(list(values), self.channel)
        bad = _INVALID_FOR_CHANNEL[self.channel]
        out: list[str | Outcome] = [
            (Outcome.NOT_FOUND if not raw.strip() else bad) for raw in values
        ]
        pairs = [(i, v) for i, v in enumerate(normal) if v is not None]
        where = [i for i, _ in pairs]
        present = [v for _, v in pairs]
        done: list[str]
        if self.transform.is_hash:
            done = hash_batch(self.transform, present)
        elif self.transform is Transform.AES:
            assert self._key is not None and self._iv is not None
            cts = encrypt_batch(self._key, self._iv, [v.encode("utf-8") for v in present])
            done = [encode_ciphertext(c, self.encoding) for c in cts]
        else:
            done = present
        for i, item in zip(where, done, strict=True):
            out[i] = item
        return out
