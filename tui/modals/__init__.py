"""Typed modal screens that return through ``dismiss(value)``."""
