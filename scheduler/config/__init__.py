"""config.toml: its shape (:mod:`scheduler.config.model`) and reading it
(:mod:`scheduler.config.load`). Every layer above the core may use it."""

from __future__ import annotations

from scheduler.config.load import load_config, parse_config
from scheduler.config.model import (
    DEFAULT_CONFIG,
    CampaignConfig,
    Config,
    DatabaseConfig,
    OrganizersConfig,
    SenderConfig,
    StageConfig,
    TransportConfig,
)

__all__ = [
    "DEFAULT_CONFIG",
    "CampaignConfig",
    "Config",
    "DatabaseConfig",
    "OrganizersConfig",
    "SenderConfig",
    "StageConfig",
    "TransportConfig",
    "load_config",
    "parse_config",
]
