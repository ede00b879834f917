"""Schema migrations, applied in order; ``PRAGMA user_version`` holds the version reached.

Never edit a released migration: append a new one.
"""

from __future__ import annotations

MIGRATIONS: list[str] = [
    # 1: everything the integration keeps.
    """
    CREATE TABLE environments (
        name TEXT PRIMARY KEY,
        config TEXT NOT NULL,          -- Environment as JSON; secrets sealed or references
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE request_status (
        env TEXT NOT NULL REFERENCES environments(name) ON DELETE CASCADE,
        status TEXT NOT NULL,
        at TEXT NOT NULL,
        PRIMARY KEY (env, status)
    );
    CREATE TABLE host_keys (
        host TEXT NOT NULL,
        port INTEGER NOT NULL,
        key_type TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        pinned_at TEXT NOT NULL,
        PRIMARY KEY (host, port)
    );
    CREATE TABLE probe_runs (
        id INTEGER PRIMARY KEY,
        env TEXT NOT NULL REFERENCES environments(name) ON DELETE CASCADE,
        role TEXT NOT NULL,
        at TEXT NOT NULL,
        ok INTEGER NOT NULL,
        result TEXT NOT NULL           -- the probe report as JSON (no secret in it)
    );
    CREATE INDEX probe_runs_env_role ON probe_runs (env, role, id);
    CREATE TABLE profile_columns (
        env TEXT NOT NULL REFERENCES environments(name) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        name TEXT NOT NULL,
        PRIMARY KEY (env, position)
    );
    CREATE TABLE profiles (
        env TEXT NOT NULL,
        id TEXT NOT NULL,
        data TEXT NOT NULL,            -- JSON array of the columns' values, in column order
        PRIMARY KEY (env, id)
    ) WITHOUT ROWID;
    CREATE TABLE visitors (
        env TEXT NOT NULL,
        visitor_id TEXT NOT NULL,
        profile_id TEXT NOT NULL,
        PRIMARY KEY (env, visitor_id, profile_id)
    ) WITHOUT ROWID;
    CREATE TABLE segment_members (
        env TEXT NOT NULL,
        segment_id TEXT NOT NULL,
        profile_id TEXT NOT NULL,
        PRIMARY KEY (env, segment_id, profile_id)
    ) WITHOUT ROWID;
    CREATE TABLE workflow (
        env TEXT PRIMARY KEY REFERENCES environments(name) ON DELETE CASCADE,
        state TEXT NOT NULL,
        changed_at TEXT NOT NULL,
        last_error TEXT NOT NULL DEFAULT ''
    );
    CREATE TABLE import_runs (
        id INTEGER PRIMARY KEY,
        env TEXT NOT NULL REFERENCES environments(name) ON DELETE CASCADE,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        status TEXT NOT NULL,          -- ok | failed | nothing_new
        batches INTEGER NOT NULL DEFAULT 0,
        files INTEGER NOT NULL DEFAULT 0,
        records INTEGER NOT NULL DEFAULT 0,
        reconciled INTEGER NOT NULL DEFAULT 0,
        duplicates INTEGER NOT NULL DEFAULT 0,
        outcomes TEXT NOT NULL DEFAULT '{}',
        samples TEXT NOT NULL DEFAULT '[]',
        error TEXT NOT NULL DEFAULT ''
    );
    CREATE TABLE processed_files (
        env TEXT NOT NULL,
        name TEXT NOT NULL,
        batch TEXT NOT NULL,
        size INTEGER NOT NULL,
        run_id INTEGER NOT NULL,
        processed_at TEXT NOT NULL,
        PRIMARY KEY (env, name)
    );
    CREATE TABLE check_results (
        env TEXT NOT NULL REFERENCES environments(name) ON DELETE CASCADE,
        check_id TEXT NOT NULL,
        status TEXT NOT NULL,
        title TEXT NOT NULL,
        detail TEXT NOT NULL,
        fix TEXT NOT NULL,
        at TEXT NOT NULL,
        PRIMARY KEY (env, check_id)
    );
    CREATE TABLE website_samples (
        env TEXT NOT NULL REFERENCES environments(name) ON DELETE CASCADE,
        datasource TEXT NOT NULL,
        clear TEXT NOT NULL,
        sample TEXT NOT NULL,
        diagnosis TEXT NOT NULL,
        detail TEXT NOT NULL,
        at TEXT NOT NULL,
        PRIMARY KEY (env, datasource)
    );
    """,
    # 2: small per-environment settings (e.g. whether the first-run tips were dismissed).
    """
    CREATE TABLE env_settings (
        env TEXT NOT NULL REFERENCES environments(name) ON DELETE CASCADE,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (env, key)
    );
    """,
    # 3: confirmations of the manual checks (who, when, note, and the fingerprint of the
    # configuration each concerned: a changed configuration lapses it).
    """
    CREATE TABLE manual_confirmations (
        env TEXT NOT NULL REFERENCES environments(name) ON DELETE CASCADE,
        check_id TEXT NOT NULL,
        who TEXT NOT NULL,
        note TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        at TEXT NOT NULL,
        PRIMARY KEY (env, check_id)
    );
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)
