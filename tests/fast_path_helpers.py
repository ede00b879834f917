"""What the fast-path tests share (tests/test_fast_paths.py, test_profile_index.py,
test_worker_frames.py): the AES key and IV of their data source, its codec, the IDs a
website may send (hypothesis strategies), and an index built from profile chunks."""

from __future__ import annotations

from hypothesis import strategies as st

from core.cipher import IdCodec, encrypt_batch, parse_iv, parse_key
from core.model import DataSource, Transform
from core.reconcile.engine import Engine, ProfileIndex
from core.secrets import Secret

KEY_HEX = "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4"
IV_HEX = "000102030405060708090a0b0c0d0e0f"
KEY, IV = parse_key(KEY_HEX), parse_iv(IV_HEX)
WRONG_KEY = parse_key("2b7e151628aed2a6abf7158809cf4f3c")


def aes_codec(channel: str) -> IdCodec:
    ds = DataSource(
        label="aes",
        id_type="declared",
        reconciliation_key="email",
        transform=Transform.AES,
        aes_key=Secret("literal", KEY_HEX),
        aes_iv=Secret("literal", IV_HEX),
        channel=channel,
    )
    return IdCodec(ds, KEY, IV)


def build_index(engine: Engine, chunks: list[tuple[list[str | None], list[str]]]) -> ProfileIndex:
    return engine.build(aes_codec(channel="email"), chunks, lambda: None, lambda rows: None)


plaintexts = st.one_of(
    st.from_regex(r"[a-zA-Z0-9._ ]{0,12}@[a-zA-Z0-9.]{0,12}", fullmatch=True),
    st.text(max_size=40),  # any unicode: newlines, controls, non-ASCII, empty
    st.binary(max_size=40),  # not UTF-8, NUL, newlines
    st.sampled_from(["alice@example.com", " Bob@Example.COM ", "+33 6 12 34 56 78", ""]),
)


@st.composite
def incoming_ids(draw: st.DrawFn) -> str:
    kind = draw(st.integers(0, 5))
    if kind <= 2:
        plain = draw(plaintexts)
        data = plain if isinstance(plain, bytes) else plain.encode("utf-8")
        key = WRONG_KEY if kind == 2 else KEY
        text = encrypt_batch(key, IV, [data])[0].hex()
        return text.upper() if draw(st.booleans()) else text
    if kind == 3:  # hex of any length: odd, not whole blocks, empty
        return draw(st.from_regex(r"[0-9a-fA-F]{0,70}", fullmatch=True))
    if kind == 4:  # padded, or with a stray character somewhere
        text = encrypt_batch(KEY, IV, [b"carol@example.com"])[0].hex()
        where = draw(st.integers(0, len(text)))
        stray = draw(st.sampled_from([" ", "\t", "\xa0", "g", "z", "\n", "é"]))
        return text[:where] + stray + text[where:]
    return draw(st.text(max_size=20))
