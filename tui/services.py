"""The console's old name for :mod:`usecases.services`, kept for code written before the
use-case layer; new code imports ``usecases.services``."""

from __future__ import annotations

from usecases.services import ENV_VAR, Services, worker_services

__all__ = ["ENV_VAR", "Services", "worker_services"]
