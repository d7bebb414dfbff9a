"""Docs are part of the product: every setting and command must be documented."""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from edgeplane.cli.main import cli
from edgeplane.config import AppConfig, EnvConfig, RuntimeConfig, ServerConfig
from edgeplane.config.bindings import AnalyticsDatasetConfig, D1DatabaseConfig, KVNamespaceConfig, R2BucketConfig
from edgeplane.config.deploy import (
    AnalysisConfig,
    BlueGreenConfig,
    CanaryStage,
    DeployConfig,
    RollingConfig,
    SmokeCheck,
)
from edgeplane.config.edge import (
    AccessPolicy,
    CachePolicy,
    EdgeServerSettings,
    GeoPolicy,
    JWTConfig,
    ManagedRulesConfig,
    RateLimitRule,
    SecurityHeaders,
    WAFRule,
)
from edgeplane.config.observe import (
    AlertingConfig,
    LoggingSettings,
    ObserveSettings,
    ProbeConfig,
    ReceiverConfig,
    RouteConfig,
    RuleConfig,
    SLOConfig,
    TracingSettings,
)

DOCS = Path(__file__).parents[2] / "docs"


def test_every_server_setting_is_documented() -> None:
    text = (DOCS / "configuration.md").read_text()
    missing = [name for name in ServerConfig.model_fields if f"| `{name}` |" not in text]
    assert missing == []


@pytest.mark.parametrize(("model", "prefix"), [(AppConfig, ""), (RuntimeConfig, "runtime."), (EnvConfig, "env.NAME.")])
def test_every_app_key_is_documented(model: type, prefix: str) -> None:
    text = (DOCS / "configuration.md").read_text()
    missing = [name for name in model.model_fields if f"`{prefix}{name}`" not in text]
    assert missing == []


@pytest.mark.parametrize(
    ("model", "table"),
    [(KVNamespaceConfig, "kv_namespaces"), (D1DatabaseConfig, "d1_databases"), (R2BucketConfig, "r2_buckets"),
     (AnalyticsDatasetConfig, "analytics_engine_datasets")],
)  # fmt: skip
def test_every_binding_key_is_documented(model: type, table: str) -> None:
    row = next(
        line for line in (DOCS / "configuration.md").read_text().splitlines() if line.startswith(f"| `{table}` |")
    )
    assert [name for name in model.model_fields if f"`{name}`" not in row] == []


@pytest.mark.parametrize(
    ("model", "prefix"),
    [(DeployConfig, "deploy."), (CanaryStage, "deploy.canary."), (AnalysisConfig, "deploy.analysis."),
     (BlueGreenConfig, "deploy.blue_green."), (SmokeCheck, "deploy.blue_green.smoke."),
     (RollingConfig, "deploy.rolling.")],
)  # fmt: skip
def test_every_deploy_key_is_in_the_delivery_reference(model: type, prefix: str) -> None:
    """Each key of the [deploy] tables has a row in docs/delivery.md, named by its dotted path from the top."""
    text = (DOCS / "delivery.md").read_text()
    assert [name for name in model.model_fields if f"| `{prefix}{name}` |" not in text] == []


@pytest.mark.parametrize(
    ("model", "prefix"),
    [(AlertingConfig, ""), (ReceiverConfig, "receivers."), (RouteConfig, "routes."), (RuleConfig, "rules."),
     (ProbeConfig, "probes."), (SLOConfig, "slos."), (ObserveSettings, "server.observe."),
     (LoggingSettings, "server.observe.logging."), (TracingSettings, "server.observe.tracing.")],
)  # fmt: skip
def test_every_observe_key_is_in_a_reference_table(model: type, prefix: str) -> None:
    """Each key of the alerting file, [[slos]] and [server.observe] has a row in docs/alerting.md or
    docs/observability.md, named by its dotted path (as written in the file: ``for``, not ``for_``)."""
    text = (DOCS / "alerting.md").read_text() + (DOCS / "observability.md").read_text()
    keys = [field.alias or name for name, field in model.model_fields.items()]
    assert [key for key in keys if f"| `{prefix}{key}` |" not in text] == []


def _commands(group: click.Group, prefix: str = "") -> list[str]:
    out = []
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            out += _commands(command, f"{prefix}{name} ")
        else:
            out.append(f"{prefix}{name}")
    return out


def test_every_cli_command_is_documented() -> None:
    text = (DOCS / "cli.md").read_text()
    commands = _commands(cli)
    assert len(commands) >= 14
    assert [c for c in commands if f"edgeplane {c}" not in text] == []


def test_readme_starts_with_the_two_setup_commands() -> None:
    head = (DOCS.parent / "README.md").read_text().splitlines()[:6]
    assert any(line.startswith("make up") for line in head) and any(line.startswith("make test") for line in head)


@pytest.mark.parametrize(
    ("model", "page"),
    [(CachePolicy, "cache.md"), (WAFRule, "waf.md"), (ManagedRulesConfig, "waf.md"),
     (RateLimitRule, "rate-limiting.md"), (JWTConfig, "access.md"), (AccessPolicy, "access.md"),
     (GeoPolicy, "access.md"), (SecurityHeaders, "access.md"),
     (EdgeServerSettings, "cache.md rate-limiting.md access.md")],
)  # fmt: skip
def test_every_edge_key_is_in_a_reference_table(model: type, page: str) -> None:
    """Each key of the edge sections appears in a table row of its page."""
    rows = [line for name in page.split() for line in (DOCS / name).read_text().splitlines() if line.startswith("|")]
    assert [key for key in model.model_fields if not any(f"`{key}`" in row for row in rows)] == []
