"""Building apps over prepared stores for Pilot and snapshot tests."""

from __future__ import annotations

from pathlib import Path

from core.config import parse_environment
from core.model import Environment
from tests.conftest import SAMPLE_TOML
from tui.app import AudienceApp
from usecases.services import Services


def services_with_sample(db_path: Path, toml: str = SAMPLE_TOML) -> tuple[Services, Environment]:
    services = Services(db_path=db_path)
    env = services.repo.save(parse_environment(toml))
    return services, env


def app_for(services: Services) -> AudienceApp:
    return AudienceApp(services)
