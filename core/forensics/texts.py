"""The words of a cause: its detail (what was found, never a key, an IV or a profile's
value) and its fix (where to change what)."""

from __future__ import annotations

from collections import Counter

from core.cipher import HASH_HEX_LENGTHS
from core.forensics.engine import Engine
from core.model import Channel, DataSource, Transform

_ALGO_NAMES = {Transform.MD5: "MD5", Transform.SHA1: "SHA-1", Transform.SHA256: "SHA-256"}
_SCREEN = "Administration > Application settings > Shared Data Sources"


def _parts(tags: Counter[str]) -> Counter[str]:
    """Each tag's parts counted (``wrong_iv`` tags ``iv:same:zero|enc:base64`` ...)."""
    parts: Counter[str] = Counter()
    for tag, n in tags.items():
        for part in tag.split("|"):
            if part:
                parts[part] += n
    return parts


_IV_NAMES = {
    "zero": "an all-zero IV (what ECB gives for values under 16 bytes, too)",
    "key_start": "the first 16 bytes of the key as IV",
    "key_end": "the last 16 bytes of the key as IV",
    "iv_text": "the IV's hex text read as UTF-8 (CryptoJS.enc.Utf8.parse)",
    "key_text": "the key's hex text as IV",
}

_ENC_WORDS = {
    "enc:base64": "base64",
    "enc:base64url": "URL-safe base64",
    "enc:hex": "hex",
}


def _encoding_note(parts: Counter[str]) -> str:
    notes = [f"{parts[t]:,} of them written in {w}" for t, w in _ENC_WORDS.items() if parts[t]]
    if not notes:
        return ""
    configured = "hex" if "enc:base64" in parts or "enc:base64url" in parts else "base64"
    return f" ({'; '.join(notes)} while the data source expects {configured}.)"


def _detail(code: str, ds: DataSource, tags: Counter[str], count: int, engine: Engine) -> str:
    parts = _parts(tags)
    enc = _encoding_note(parts) if code != "ciphertext_encoding" else ""
    n = f"{count:,}"
    if code == "ciphertext_encoding":
        if ds.transform.is_hash:
            return (
                f"{n} IDs are the right digest of a profile's value, written in base64 instead "
                "of hex."
            )
        found = [w for t, w in _ENC_WORDS.items() if parts[t]]
        return (
            f"{n} IDs decrypt to a profile's value once read as {' and '.join(found)}, not as "
            f"{ds.ciphertext_encoding.value}: key, IV and padding are right."
        )
    if code == "passphrase_mode":
        confirmed = parts["pass:md5"] + parts["pass:sha256"]
        text = (
            f"{n} IDs start with Salted__ (base64 U2FsdGVkX1): a passphrase derived key and "
            "IV with a random salt per ID (CryptoJS given the key as a string, or openssl enc "
            "-pass)."
        )
        if confirmed:
            how = "MD5" if parts["pass:md5"] else "SHA-256"
            text += (
                f" {confirmed:,} decrypt to profiles' values with the data source's key text "
                f"as passphrase (EVP_BytesToKey, {how})."
            )
        if parts["pass:shape"]:
            text += (
                f" {parts['pass:shape']:,} do not decrypt with the data source's key text as "
                "passphrase: the website uses another passphrase (not confirmed against "
                "profiles)."
            )
        return text
    if code == "zero_padding":
        return (
            f"{n} IDs decrypt with the data source's key and IV to profiles' values followed "
            "by zero bytes instead of PKCS#7 padding." + enc
        )
    if code == "ecb_mode":
        return (
            f"{n} IDs decrypt to profiles' values in ECB mode (each 16-byte block alone, no "
            "IV) with the data source's key." + enc
        )
    if code == "wrong_iv":
        bits: list[str] = []
        same = sum(v for t, v in parts.items() if t.startswith("iv:same"))
        if same:
            if len(engine.ivs) == 1:
                bits.append(
                    f"{same:,} decrypt to profiles' values with one and the same other "
                    "IV, recovered from the IDs (not shown)"
                )
            else:
                bits.append(
                    f"{same:,} decrypt to profiles' values with one of "
                    f"{len(engine.ivs)} other IVs recovered from the IDs (not shown)"
                )
            names = [w for t, w in _IV_NAMES.items() if parts.get("iv:same:" + t)]
            if names:
                bits.append("the website uses " + " / ".join(names))
        if parts["iv:varies"]:
            bits.append(
                f"{parts['iv:varies']:,} end like profiles' values (everything after "
                "the first 16 bytes matches, padding valid) but with an IV that changes "
                "from one ID to the next: a random IV that is not sent along"
            )
        if parts["iv:prepended"]:
            bits.append(
                f"{parts['iv:prepended']:,} carry their own IV in front (16 extra bytes); "
                "the rest decrypts to profiles' values"
            )
        return (
            f"{n} IDs decrypt with the data source's key but another IV: only the first "
            "16 bytes come out wrong. " + "; ".join(bits) + "." + enc
        )
    if code == "key_as_text":
        full = sum(v for t, v in parts.items() if t.startswith("text:full"))
        cut = count - full
        size = len(engine.key or b"") * 2
        bits = []
        if full:
            bits.append(
                f"{full:,} with the {size} hex characters as a {size}-byte key "
                "(CryptoJS.enc.Utf8.parse; CryptoJS accepts any length)"
            )
        if cut:
            bits.append(
                f"{cut:,} with the hex text cut to an AES key size (a string key in PHP or Node)"
            )
        iv_text = sum(v for t, v in parts.items() if t.endswith(":ivtext"))
        tail = " The IV's hex text is used the same way." if iv_text else ""
        return (
            f"{n} IDs decrypt to profiles' values when the key's hex text is used as the "
            "key bytes: " + "; ".join(bits) + "." + tail + enc
        )
    if code == "wrong_key":
        sizes = sorted({t.split(":")[1][5:] for t in parts if t.startswith("key:first")})
        return (
            f"{n} IDs decrypt to profiles' values with only the first "
            f"{'/'.join(sizes)} bytes of the data source's key (a shorter AES)." + enc
        )
    if code == "hashed_not_encrypted":
        if ds.transform.is_hash:
            by_label = {t[4:]: v for t, v in parts.items() if t.startswith("aes:")}
            shape = by_label.pop("shape", 0)
            bits = []
            for label, v in by_label.items():
                bits.append(
                    f"{v:,} decrypt to profiles' values with the key and IV of data "
                    f"source {label!r}"
                )
            if shape:
                algo = ds.transform
                bits.append(
                    f"{shape:,} have the shape of AES-CBC output (whole 16-byte blocks, "
                    f"not the {HASH_HEX_LENGTHS[algo]} hex digits of {_ALGO_NAMES[algo]})"
                    "; no key was at hand to confirm it"
                )
            return f"{n} IDs look encrypted, not hashed: " + "; ".join(bits) + "."
        algos = sorted({t.split(":")[1] for t in parts if t.startswith("hash:")})
        algo_names = ", ".join(_ALGO_NAMES[Transform(a)] for a in algos)
        raw = sum(v for t, v in parts.items() if t.endswith(":raw"))
        text = f"{n} IDs are the {algo_names} digest of a profile's value, not a ciphertext."
        if ds.transform is Transform.NONE:
            text = (
                f"{n} IDs are the {algo_names} digest of a profile's value, not the value itself."
            )
        if raw and ds.channel is Channel.OTHER:
            text += f" {raw:,} of them hash the value trimmed or lower-cased, not as stored."
        elif raw:
            text += f" {raw:,} of them hash the value as stored, without normalizing it."
        return text
    if code == "normalization" and ds.channel is Channel.OTHER:
        return (
            f"{n} IDs are the {_ALGO_NAMES[ds.transform]} digest of a profile's value trimmed "
            "and lower-cased, as the Experience Cloud ID service's setCustomerIDs(..., "
            '"SHA-256") hashes it, while the data source (channel Other) hashes the value as '
            "stored: they would match under that normalization."
        )
    if code == "normalization":
        return (
            f"{n} IDs are the {_ALGO_NAMES[ds.transform]} digest of a profile's value as "
            "stored or typed (not trimmed, not lower-cased, or another phone spelling) "
            "instead of its normalized form."
        )
    if code == "unknown":
        algos = sorted({t.split(":")[1] for t in parts if t.startswith("algo:")})
        algo_names = ", ".join(_ALGO_NAMES[Transform(a)] for a in algos)
        return (
            f"{n} IDs are the {algo_names} digest of a profile's value, while the data source "
            f"expects {_ALGO_NAMES[ds.transform]}."
        )
    return f"{n} IDs."


def _fix(code: str, ds: DataSource, tags: Counter[str]) -> str:
    parts = _parts(tags)
    if code == "ciphertext_encoding":
        if ds.transform.is_hash:
            return (
                "Write the digest as lower-case hex on the website (CryptoJS: "
                ".toString(CryptoJS.enc.Hex); Node: digest('hex'))."
            )
        if parts["enc:hex"]:
            return (
                "Set the data source's ciphertext encoding to hex (in the console, or send "
                "base64 from the website)."
            )
        return (
            "Send .ciphertext.toString() (lower-case hex) from CryptoJS (Node: "
            "cipher.update(v, 'utf8', 'hex')), or set the data source's ciphertext "
            "encoding to base64."
        )
    if code == "passphrase_mode":
        return (
            "The website passes the key as a string to CryptoJS.AES.encrypt, which derives "
            "another key and a random IV: parse it with CryptoJS.enc.Hex.parse(key), pass "
            "{iv: CryptoJS.enc.Hex.parse(iv), mode: CryptoJS.mode.CBC, padding: "
            "CryptoJS.pad.Pkcs7} and send .ciphertext.toString()."
        )
    if code == "zero_padding":
        return (
            "Use PKCS#7 padding on the website (CryptoJS.pad.Pkcs7, the default; openssl "
            "without -nopad); Campaign only reads PKCS#7."
        )
    if code == "ecb_mode":
        return (
            "Encrypt in CBC mode with the data source's IV on the website "
            "(CryptoJS.mode.CBC with {iv: CryptoJS.enc.Hex.parse(iv)}; aes-...-cbc in "
            "Node/OpenSSL)."
        )
    if code == "wrong_iv":
        return (
            "The website encrypts with another IV than the data source's: copy the IV from "
            f"Campaign's data source ({_SCREEN}) into the website's code as 32 hex "
            "characters, parsed with CryptoJS.enc.Hex.parse(iv) (Buffer.from(iv, 'hex') in "
            "Node); one fixed IV, not a random one, and not sent in front of the ID."
        )
    if code == "key_as_text":
        return (
            "The website uses the key's hex text as the key: parse it with "
            "CryptoJS.enc.Hex.parse(key) (Buffer.from(key, 'hex') in Node, hex2bin in PHP), "
            f"the same key as Campaign's data source ({_SCREEN}); the IV likewise."
        )
    if code == "wrong_key":
        return (
            "Give the website the whole key of Campaign's data source "
            f"({_SCREEN}), hex-decoded, with the matching AES size (aes-256-cbc for 64 hex "
            "characters)."
        )
    if code == "hashed_not_encrypted":
        if ds.transform.is_hash:
            return (
                "Make both sides agree: hash the normalized value on the website "
                f"({_ALGO_NAMES[ds.transform]}, lower-case hex), or set the data source's "
                "transform to aes with the website's key and IV."
            )
        algos = sorted({t.split(":")[1] for t in parts if t.startswith("hash:")})
        if ds.transform is Transform.NONE:
            return (
                f"Set the data source's transform to {algos[0]} (hash algorithm in "
                f"{_SCREEN}), or send the value itself from the website."
            )
        return (
            f"Encrypt the value with AES-CBC on the website, or set the data source's "
            f"transform to {algos[0]} (hash algorithm in {_SCREEN})."
        )
    if code == "normalization" and ds.channel is Channel.OTHER:
        return (
            "Store the reconciliation key trimmed and lower-cased in Campaign (setCustomerIDs' "
            "SHA-256 option always normalizes so), or hash the value as stored on the website "
            "and call setCustomerIDs without the SHA-256 option."
        )
    if code == "normalization":
        words = {
            Channel.EMAIL: "trim and lower-case the address",
            Channel.SMS: "reduce the number to + and digits",
            Channel.OTHER: "send the value exactly as stored",
        }[ds.channel]
        return f"On the website, {words} before hashing it."
    if code == "unknown":
        algos = sorted({t.split(":")[1] for t in parts if t.startswith("algo:")})
        return (
            f"Use the same algorithm on both sides: set the data source's hash algorithm "
            f"to {algos[0]} ({_SCREEN}), or hash with {ds.transform.value} on the website."
        )
    return ""
