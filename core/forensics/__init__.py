"""Forensics: which website mistake explains a data source's unreconciled IDs.

``crypto diagnose`` (core/diagnose.py) needs one sample *and* its clear value.
Here there is no clear value, but the profiles are in hand: each hypothesis of
docs/reference.md §7 is tested blind, on the misses of one data source, and a
cause is claimed only when it explains the data, i.e. when the ID, read the way
the mistake implies, gives a profile's normalized value (or its digest):

- ``ciphertext_encoding``: the ID read in the other encoding (hex/base64) decrypts
  to a profile's value (hashed sources: a base64 digest of one).
- ``passphrase_mode``: ``Salted__`` + salt + ciphertext (base64 ``U2FsdGVkX1``);
  key and IV from ``EVP_BytesToKey`` with the key's hex text as passphrase
  (CryptoJS.AES.encrypt(value, "hexkey"), ``openssl enc -pass``). With another
  passphrase the header alone is reported, saying it is not confirmed.
- ``zero_padding``: the plaintext ends in zero bytes instead of PKCS#7.
- ``ecb_mode``: ECB decryption of a multi-block ID gives a profile's value.
- ``wrong_iv``: CBC with another IV garbles only the first block. The rest (6
  bytes or more) is the tail of profiles' values; from those the website's IV
  is recovered (IV xor the garbled block xor the profile's first block) and, if
  one IV serves every ID, all misses are decrypted with it, short values
  included. The IV is compared, never shown: the same for all, another per ID
  (random, not sent), sent in front of the ID, all zero, or part of the key.
- ``key_as_text``: the key's hex text used as key bytes: CryptoJS
  ``Utf8.parse`` (32/48/64 bytes, see core/cryptojs.py) or a string truncated
  to 16/24/32 bytes (PHP, Node); the IV possibly treated the same way.
- ``wrong_key``: only the first 16/24 bytes of the key (a shorter AES).
- ``hashed_not_encrypted``: the ID is the MD5/SHA-1/SHA-256 digest (hex or
  base64) of a profile's value, for an AES or clear data source; for a hashed
  data source, the reverse: IDs shaped like AES ciphertext (whole 16-byte
  blocks, not the digest's length), decrypted with another data source's key
  when one is given, else reported by their shape, saying so.
- ``normalization`` (hashed sources): the digest of the value as stored (not
  trimmed, not lower-cased) or of another spelling of a phone number; for
  channel Other, where Campaign hashes the value as stored, the digest of the
  value trimmed and lower-cased, as ``setCustomerIDs(..., "SHA-256")`` of the
  Experience Cloud ID service does (its count: the ``not_found`` IDs that would
  match under that normalization).
- ``unknown`` (hashed sources): the digest of another algorithm, named in the
  detail (§7 has no code of its own for it; ``crypto diagnose`` says the same).

``hex_case`` is never a cause of a miss: the reader takes hex in any case
(core/cipher.py), so upper-case IDs reconcile; nor is ``normalization`` for AES
or clear data sources, whose decrypted values are normalized before lookup.

Wiring into a run (``core/reconcile/misses.py``): per routed data source, a
``MissSample`` fed with the unreconciled lines (file, line, the raw ID as read,
that data source's own outcome); after the run (the import pass: after each
batch), ``find_causes(ds, key, iv, sample.misses, ProfileValues(...),
totals=sample.totals)`` with the normalized values the run indexed and its index
as ``contains`` (AES and clear data sources), or the column read again when a
hypothesis needs it (hashed ones).

Work is bounded: at most ``limit_per_outcome`` misses per outcome are tested,
spread evenly over the file (``MissSample`` does the same while a run streams).
Decryption is batched (core/cipher.py); the profile side is read only for the
hypotheses that need it (tails, digests), once. Details and fixes never hold a
key, an IV or a profile's value.
"""

from core.forensics.profiles import ProfileValues
from core.forensics.search import find_causes
from core.forensics.types import DEFAULT_LIMIT, MIN_TAIL, Cause, Miss, MissSample

__all__ = [
    "DEFAULT_LIMIT",
    "MIN_TAIL",
    "Cause",
    "Miss",
    "MissSample",
    "ProfileValues",
    "find_causes",
]
