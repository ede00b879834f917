"""Paths as an admin types them and as the front ends show them, and the default folders."""

from __future__ import annotations

from pathlib import Path

from core.model import AccountType, Environment


def resolve_path(text: str) -> Path:
    """A path typed by the admin: ``~`` expanded, relative to the working folder."""
    return Path(text.strip()).expanduser()


def display_path(path: Path | str, base: Path | None = None) -> str:
    """``path`` as shown on screen: relative to ``base`` (the working folder) when
    inside it, else with the home folder as ``~``, else absolute."""
    path = Path(path)
    base = Path.cwd() if base is None else base
    try:
        absolute = path if path.is_absolute() else (base / path)
        relative = absolute.resolve().relative_to(base.resolve())
        return str(relative) if str(relative) != "." else "."
    except (OSError, ValueError):
        pass
    try:
        return "~/" + str(path.resolve().relative_to(Path.home().resolve()))
    except (OSError, ValueError, RuntimeError):
        return str(path)


def full_path(path: Path | str) -> str:
    """``path`` made absolute, with the home folder as ``~``: where a file was written,
    said so that nobody has to guess the working folder."""
    absolute = Path(path).expanduser().absolute()
    try:
        return "~/" + str(absolute.relative_to(Path.home()))
    except ValueError:
        return str(absolute)


def default_audience_path(env: Environment | None) -> Path | None:
    """The import account's folder when it is a ``local`` account (what a dry run reads
    by default), else None."""
    if env is None:
        return None
    account = env.import_account
    if account.type is AccountType.LOCAL and account.path:
        return Path(account.path)
    return None


def default_export_dir(db_path: Path) -> Path:
    """Where an export goes when no folder is given: ``exports/`` beside the store (never
    the working folder, which may be anything, a git clone included)."""
    return db_path.expanduser().absolute().parent / "exports"
