"""`audiencectl crypto encrypt|decrypt|hash|diagnose`: a data source's ID transform by hand.

Output: one line per input value, in order. A value that cannot be turned
into an ID prints its outcome code in brackets (``[bad_padding]``) and the
command exits 1. Configuration problems (a key of the wrong length, an IV of
15 bytes, an unset ``env:`` variable, ciphertext that is not in the data
source's encoding) are one line on stderr naming the field, exit 2, before any
output. Keys and IVs are never printed.
"""

from __future__ import annotations

import click

from core.cipher import IdCodec, decode_ciphertext, hash_batch, parse_iv, parse_key
from core.diagnose import diagnose
from core.errors import ExitCode, InputError, ValidationError
from core.model import DataSource, Environment, IdType, Transform
from core.normalize import normalize_batch
from core.outcomes import Outcome
from storage.samples import save_sample
from tui.commands._common import CliState, pass_state
from usecases.services import Services

HASHES = [Transform.MD5.value, Transform.SHA1.value, Transform.SHA256.value]


@click.group("crypto")
def crypto_group() -> None:
    """Encrypt, decrypt, hash and cross-check IDs with a data source's settings."""


def _datasource(env: Environment, label: str | None) -> DataSource:
    """The data source named, or the only one."""
    if label is not None:
        return env.datasource(label)
    if len(env.datasources) == 1:
        return env.datasources[0]
    if not env.datasources:
        raise InputError(
            f"environment {env.name!r} has no data source",
            "add one in the console (F5) or in [[datasources]] of the TOML file",
        )
    known = ", ".join(repr(ds.label) for ds in env.datasources)
    raise InputError("several data sources: choose one with --datasource LABEL", f"known: {known}")


def _key_iv(
    services: Services, env: Environment, ds: DataSource
) -> tuple[bytes | None, bytes | None]:
    """The resolved AES key and IV of ``ds`` (None unless it encrypts); errors name the field."""
    if ds.id_type is not IdType.DECLARED or ds.transform is not Transform.AES:
        return None, None
    where = f"datasources.{ds.label}"
    try:
        key = parse_key(services.secret(env, ds, "aes_key"))
        iv = parse_iv(services.secret(env, ds, "aes_iv"))
    except ValidationError as exc:
        raise InputError(f"{where}.{exc.field}: {exc.reason}", exc.hint) from None
    return key, iv


def _codec(state: CliState, label: str | None) -> tuple[Environment, DataSource, IdCodec]:
    env = state.services.env()
    ds = _datasource(env, label)
    key, iv = _key_iv(state.services, env, ds)
    return env, ds, IdCodec(ds, key, iv)


def _print(results: list[str | Outcome]) -> int:
    failed = False
    for item in results:
        if isinstance(item, Outcome):
            failed = True
            click.echo(f"[{item.value}]")
        else:
            click.echo(item)
    return ExitCode.FINDINGS if failed else ExitCode.OK


_datasource_option = click.option(
    "--datasource", "label", metavar="LABEL", help="The data source (default: the only one)."
)


@crypto_group.command("encrypt")
@_datasource_option
@click.argument("values", nargs=-1, required=True)
@pass_state
def crypto_encrypt(state: CliState, label: str | None, values: tuple[str, ...]) -> int:
    """The ID each VALUE becomes for AAM: normalized, then encrypted or hashed, encoded.

    Exits 1 when a value does not fit the channel (e.g. [invalid_email]).
    """
    _, _, codec = _codec(state, label)
    return _print(codec.outgoing(list(values)))


@crypto_group.command("decrypt")
@_datasource_option
@click.argument("values", nargs=-1, required=True)
@pass_state
def crypto_decrypt(state: CliState, label: str | None, values: tuple[str, ...]) -> int:
    """The clear (normalized) value of each ID, or its outcome in brackets ([bad_padding]).

    Exits 1 when any ID fails; 2 when a value is not in the data source's encoding.
    """
    _, ds, codec = _codec(state, label)
    if ds.id_type is IdType.DECLARED and ds.transform.is_hash:
        raise InputError(
            f"data source {ds.label!r} hashes its IDs ({ds.transform.value}): a hash cannot "
            "be decrypted",
            "hash the clear value with `audiencectl crypto hash` and compare",
        )
    if ds.id_type is IdType.DECLARED and ds.transform is Transform.AES:
        encoding = ds.ciphertext_encoding
        for number, value in enumerate(values, start=1):
            if decode_ciphertext(value.strip(), encoding) is None:
                raise InputError(
                    f"VALUE {number}: ciphertext is not {encoding.value} (data source "
                    f"{ds.label!r} has ciphertext_encoding = {encoding.value})",
                    "pass the ID exactly as AAM or the website writes it",
                )
    return _print(codec.incoming(list(values)))


@crypto_group.command("hash")
@_datasource_option
@click.option(
    "--algorithm",
    type=click.Choice(HASHES),
    help="md5, sha1 or sha256 (default: the data source's, else sha256).",
)
@click.argument("values", nargs=-1, required=True)
@pass_state
def crypto_hash(
    state: CliState, label: str | None, algorithm: str | None, values: tuple[str, ...]
) -> int:
    """Lower-case hex digest of each VALUE, normalized for the data source's channel first."""
    env = state.services.env()
    ds = _datasource(env, label)
    if algorithm is not None:
        algo = Transform(algorithm)
    elif ds.id_type is IdType.DECLARED and ds.transform.is_hash:
        algo = ds.transform
    else:
        algo = Transform.SHA256
    normal = normalize_batch(list(values), ds.channel)
    present = [v for v in normal if v is not None]
    digests = iter(hash_batch(algo, present))
    invalid = {"email": Outcome.INVALID_EMAIL, "sms": Outcome.INVALID_PHONE}.get(
        ds.channel.value, Outcome.NOT_FOUND
    )
    results: list[str | Outcome] = [next(digests) if v is not None else invalid for v in normal]
    return _print(results)


@crypto_group.command("diagnose")
@_datasource_option
@click.option("--clear", required=True, help="The clear value (e.g. the email address).")
@click.option("--sample", required=True, help="The ID the website sends for it.")
@click.option(
    "--from-website",
    is_flag=True,
    help="The sample came from the website: keep it as the data source's website sample "
    "(the checklist's 'Website sample matches' reads it). Without it nothing is stored.",
)
@click.option("--json", "as_json", is_flag=True, help='Print {"match", "diagnosis", "detail"}.')
@pass_state
def crypto_diagnose(
    state: CliState,
    label: str | None,
    clear: str,
    sample: str,
    from_website: bool,
    as_json: bool,
) -> int:
    """Tell which setting differs between the website and the data source.

    Exits 0 when the sample matches (ok), 1 otherwise. With --from-website the
    sample is kept in the store as the data source's last website sample (the
    checklist reads it); a sample made up to test a setting is not.
    """
    env = state.services.env()
    ds = _datasource(env, label)
    key, iv = _key_iv(state.services, env, ds)
    verdict = diagnose(clear, sample.strip(), ds, key, iv)
    if from_website:
        save_sample(state.services.store, env, ds, clear, sample.strip(), verdict)
    if as_json:
        state.emit_json(verdict.to_json())
    else:
        mark = "✓" if verdict.match else "✗"
        click.echo(f"{mark} {verdict.code}: {verdict.detail}")
    return ExitCode.OK if verdict.match else ExitCode.FINDINGS
