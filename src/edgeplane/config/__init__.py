"""edgeplane.toml: typed configuration, parsed once, with errors that name file, key and fix."""

from __future__ import annotations

from edgeplane.config.app import AppConfig, EnvConfig, RuntimeConfig, parse_route
from edgeplane.config.load import CONFIG_FILE, load_app_config, load_server_config, parse_app_config
from edgeplane.config.server import ServerConfig

__all__ = [
    "CONFIG_FILE",
    "AppConfig",
    "EnvConfig",
    "RuntimeConfig",
    "ServerConfig",
    "load_app_config",
    "load_server_config",
    "parse_app_config",
    "parse_route",
]
