"""Read edgeplane.toml once and turn every problem into a ConfigError naming file, key and fix."""

from __future__ import annotations

import difflib
import tomllib
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from edgeplane.config.app import AppConfig
from edgeplane.config.observe import AlertingConfig
from edgeplane.config.server import ServerConfig
from edgeplane.errors import ConfigError

__all__ = ["CONFIG_FILE", "load_alerting_config", "load_app_config", "load_server_config", "parse_app_config"]

CONFIG_FILE = "edgeplane.toml"
M = TypeVar("M", bound=BaseModel)


def _read_toml(path: Path) -> dict[str, Any]:
    if path.is_dir():
        path = path / CONFIG_FILE
    if not path.exists():
        raise ConfigError(
            f"{path}: file not found; run 'edgeplane init' to create one or pass the project directory",
            file=str(path),
        )
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}", file=str(path)) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason})", file=str(path)) from exc


def _key(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif not out:
            out = part
        else:
            out += f".{part}"
    return out or "(top level)"


def _fields_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    """Known keys of the table that holds ``loc`` (for 'did you mean' hints)."""
    current: Any = model
    skip_key = False
    for part in loc[:-1]:
        if skip_key or isinstance(part, int):
            skip_key = False
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return []
        field = current.model_fields.get(part)
        if field is None:
            return []
        annotation = field.annotation
        skip_key = getattr(annotation, "__origin__", None) is dict
        args = getattr(annotation, "__args__", ())
        current = args[-1] if args else annotation
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _fix(model: type[BaseModel], err: Any) -> str:
    loc = tuple(err["loc"])
    kind = err["type"]
    if kind == "extra_forbidden":
        known = _fields_at(model, loc)
        close = difflib.get_close_matches(str(loc[-1]), known, n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"known keys here: {', '.join(known)}"
        return f"unknown key; {hint} Remove or rename it."
    if kind == "missing":
        return "required key is missing; add it."
    message = str(err["msg"]).removeprefix("Value error, ")
    if isinstance(err.get("input"), dict):
        return message
    return f"{message} (got {err.get('input')!r})"


def _validate(model: type[M], data: dict[str, Any], path: Path, prefix: str = "") -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            key = _key(tuple(err["loc"]))
            if prefix:
                key = prefix if key == "(top level)" else f"{prefix}.{key}"
            lines.append(f"{path}: key '{key}': {_fix(model, err)}")
        first = exc.errors()[0]
        raise ConfigError(
            "\n".join(lines), file=str(path), key=_key(tuple(first["loc"])), problems=len(lines)
        ) from None


def parse_app_config(data: dict[str, Any], path: Path) -> AppConfig:
    """Validate an already-read edgeplane.toml table."""
    return _validate(AppConfig, data, path)


def load_app_config(path: Path) -> AppConfig:
    """Load ``path`` (a file or a project directory holding edgeplane.toml)."""
    if not path.exists() and path.suffix != ".toml":
        raise ConfigError(
            f"{path}: no such directory; expected a worker project containing {CONFIG_FILE}",
            code="project_not_found",
            file=str(path),
        )
    file = path / CONFIG_FILE if path.is_dir() else path
    return parse_app_config(_read_toml(file), file)


def load_server_config(path: Path | None, **overrides: Any) -> ServerConfig:
    """The ``[server]`` table of ``path`` (if given and present) with ``overrides`` applied on top."""
    data: dict[str, Any] = {}
    file = Path("(flags)")
    if path is not None:
        file = path / CONFIG_FILE if path.is_dir() else path
        data = dict(_read_toml(file).get("server") or {})
        if "data_dir" in data and not Path(str(data["data_dir"])).is_absolute():
            data["data_dir"] = str(file.parent / str(data["data_dir"]))
        observe = data.get("observe")
        if isinstance(observe, dict) and observe.get("alerts_file"):
            alerts = Path(str(observe["alerts_file"]))
            if not alerts.is_absolute():
                data["observe"] = {**observe, "alerts_file": str(file.parent / alerts)}
    data.update({k: v for k, v in overrides.items() if v is not None})
    return _validate(ServerConfig, data, file, prefix="server")


def load_alerting_config(path: Path) -> AlertingConfig:
    """The alerting file (TOML, or YAML for ``.yaml``/``.yml``): receivers, routes, rules, probes. Rule
    expressions are checked too, so a typo is an error naming the rule's key, not a rule that never fires."""
    from edgeplane.observe.rules import RuleError, compile_rule

    if not path.exists():
        raise ConfigError(f"{path}: file not found; check [server.observe] alerts_file", file=str(path))
    text = path.read_text(encoding="utf-8")
    if path.suffix in (".yaml", ".yml"):
        import yaml

        try:
            data = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML: {exc}", file=str(path)) from exc
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: the top level must be a mapping (receivers:, routes:, rules:)", file=str(path))
    else:
        data = _read_toml(path)
    config = _validate(AlertingConfig, data, path)
    for i, rule in enumerate(config.rules):
        try:
            compile_rule(rule)
        except RuleError as exc:
            key = f"rules[{i}].{exc.key}"
            raise ConfigError(f"{path}: key '{key}': {exc}", file=str(path), key=key) from None
    return config
