"""audiencectl's domain and work: no Textual, no SQLite, no UI."""

__version__ = "0.1.0"
