"""One ``IdCodec`` per data source: the only place codecs are built (reconciliation,
the import pass and export alike)."""

from __future__ import annotations

from collections.abc import Callable

from core.cipher import IdCodec, parse_iv, parse_key
from core.errors import InputError, ValidationError
from core.model import DataSource, Environment, IdType, Transform


def make_codec(ds: DataSource, resolve: Callable[[DataSource, str], str]) -> IdCodec:
    """The data source's ``IdCodec``; ``resolve(ds, "aes_key")`` / ``resolve(ds, "aes_iv")``
    return the secret's text and are only called for an AES data source.

    A bad key or IV is an ``InputError`` naming the data source and the field,
    never the value.
    """
    if ds.id_type is IdType.DECLARED and ds.transform is Transform.AES:
        try:
            key = parse_key(resolve(ds, "aes_key"))
            iv = parse_iv(resolve(ds, "aes_iv"))
        except ValidationError as exc:
            raise InputError(f"data source {ds.label!r}: {exc.message}", exc.hint) from None
        return IdCodec(ds, key, iv)
    return IdCodec(ds)


def build_codecs(env: Environment, resolve: Callable[[DataSource, str], str]) -> dict[str, IdCodec]:
    """One ``IdCodec`` per data source of ``env`` (:func:`make_codec`), keyed by label."""
    return {ds.label: make_codec(ds, resolve) for ds in env.datasources}
