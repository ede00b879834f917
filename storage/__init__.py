"""The local SQLite store (sqlite-utils): schema, migrations and repositories."""
