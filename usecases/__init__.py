"""The use cases that the CLI and the console both call (docs/architecture.md)."""
