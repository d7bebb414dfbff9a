"""Alert rule expressions: ``metric{label="value", ...}[window] op threshold``, parsed once at load.

The metrics are the recorded request and probe series (observe/series.py) and the SLOs' burn rates; a rule
yields one instance per label set (per app and environment, per version when the selector names ``version``,
per probe and colo), like a Prometheus alerting rule. A rule with a SQL ``query`` instead reads one number from
the analytics datasets.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass

from edgeplane.config.deploy import parse_duration
from edgeplane.config.observe import RuleConfig
from edgeplane.observe.series import Window

__all__ = ["METRICS", "OPERATORS", "CompiledRule", "Matcher", "Metric", "RuleError", "compile_rule"]


class RuleError(ValueError):
    """A rule that cannot be compiled; ``key`` is the rule's key at fault (``expr``, ``condition``)."""

    def __init__(self, message: str, key: str = "expr") -> None:
        super().__init__(message)
        self.key = key


@dataclass(frozen=True)
class Metric:
    name: str
    source: str
    """``requests``, ``probes`` or ``slo``."""
    read: Callable[[Window], float | None]
    """The value over a window (None: no data, the instance is not judged)."""
    help: str
    needs_window: bool = True


def _rate(w: Window) -> float:
    return w.requests / w.seconds if w.seconds else 0.0


def _ratio(part: int, w: Window) -> float | None:
    return part / w.requests if w.requests else None


def _quantile(q: float) -> Callable[[Window], float | None]:
    return lambda w: w.quantile_ms(q)


_REQUEST_METRICS = [
    Metric("requests", "requests", lambda w: float(w.requests), "requests in the window"),
    Metric("request_rate", "requests", _rate, "requests per second over the window"),
    Metric("errors", "requests", lambda w: float(w.errors), "5xx responses in the window"),
    Metric("error_rate", "requests", lambda w: _ratio(w.errors, w), "share of 5xx responses (0..1)"),
    Metric("client_error_rate", "requests", lambda w: _ratio(w.c4xx, w), "share of 4xx responses (0..1)"),
    Metric(
        "latency_avg_ms", "requests", lambda w: w.latency_sum / w.requests if w.requests else None, "mean latency (ms)"
    ),
    Metric("latency_p50_ms", "requests", _quantile(0.50), "median latency (ms)"),
    Metric("latency_p90_ms", "requests", _quantile(0.90), "90th percentile latency (ms)"),
    Metric("latency_p95_ms", "requests", _quantile(0.95), "95th percentile latency (ms)"),
    Metric("latency_p99_ms", "requests", _quantile(0.99), "99th percentile latency (ms)"),
]
_PROBE_METRICS = [
    Metric("probe_checks", "probes", lambda w: float(w.requests), "synthetic checks run in the window"),
    Metric("probe_failures", "probes", lambda w: float(w.errors), "failed synthetic checks in the window"),
    Metric(
        "probe_success_rate",
        "probes",
        lambda w: 1 - w.errors / w.requests if w.requests else None,
        "share of passing synthetic checks (0..1)",
    ),
    Metric("probe_latency_p95_ms", "probes", _quantile(0.95), "95th percentile probe latency (ms)"),
]
_SLO_METRICS = [
    Metric(
        "slo_burn_rate",
        "slo",
        lambda w: None,
        "error-budget burn rate of an SLO over the window (1 = spending exactly the budget)",
    ),
    Metric(
        "slo_budget_remaining",
        "slo",
        lambda w: None,
        "share of the SLO's error budget left over its whole window (1 = untouched, below 0 = overspent)",
        needs_window=False,
    ),
]
METRICS: dict[str, Metric] = {m.name: m for m in _REQUEST_METRICS + _PROBE_METRICS + _SLO_METRICS}
LABELS = {"requests": ("app", "env", "version"), "probes": ("probe", "colo"), "slo": ("app", "env", "slo")}

OPERATORS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le, "==": operator.eq,
    "!=": operator.ne,
}  # fmt: skip


@dataclass(frozen=True)
class Matcher:
    label: str
    op: str  # = != =~ !~
    value: str

    def matches(self, labels: dict[str, str]) -> bool:
        have = labels.get(self.label, "")
        if self.op == "=":
            return have == self.value
        if self.op == "!=":
            return have != self.value
        found = re.fullmatch(self.value, have) is not None
        return found if self.op == "=~" else not found


@dataclass(frozen=True)
class CompiledRule:
    config: RuleConfig
    metric: Metric | None
    """None for a query rule."""
    matchers: tuple[Matcher, ...]
    window: float
    op: str
    threshold: float

    @property
    def name(self) -> str:
        return self.config.name

    def breached(self, value: float) -> bool:
        return OPERATORS[self.op](value, self.threshold)

    def group_labels(self) -> tuple[str, ...]:
        """Labels that tell this rule's instances apart."""
        assert self.metric is not None
        mentioned = {m.label for m in self.matchers}
        if self.metric.source == "requests":
            return ("app", "env", "version") if "version" in mentioned else ("app", "env")
        if self.metric.source == "probes":
            return ("probe", "colo") if "colo" in mentioned else ("probe",)
        return ("app", "env", "slo")

    def selects(self, labels: dict[str, str]) -> bool:
        return all(m.matches(labels) for m in self.matchers)


_TOKEN = re.compile(
    r"""\s*(?:
      (?P<name>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
    | (?P<duration>\[[^\]]*\])
    | (?P<op>=~|!~|>=|<=|==|!=|>|<|=)
    | (?P<number>-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?%?)
    | (?P<punct>[{},])
    )""",
    re.VERBOSE,
)


def _tokens(text: str) -> list[tuple[str, str, int]]:
    out = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if m is None or m.lastgroup is None:
            column = len(text) - len(text[pos:].lstrip()) + 1
            raise RuleError(f"unexpected text at column {column}: {text[column - 1 :]!r}")
        out.append((m.lastgroup, m.group(m.lastgroup), m.start(m.lastgroup) + 1))
        pos = m.end()
    return out


def _comparison(tokens: list[tuple[str, str, int]], text: str, key: str) -> tuple[str, float]:
    if len(tokens) != 2 or tokens[0][0] != "op" or tokens[0][1] not in OPERATORS or tokens[1][0] != "number":
        column = tokens[0][2] if tokens else len(text) + 1
        raise RuleError(
            f"expected a comparison like '> 0.05' at column {column} of {text!r} (operators: "
            f"{' '.join(OPERATORS)})", key
        )  # fmt: skip
    number = tokens[1][1]
    threshold = float(number[:-1]) / 100 if number.endswith("%") else float(number)
    return tokens[0][1], threshold


def compile_rule(config: RuleConfig) -> CompiledRule:
    """Parse a rule's expression (or condition); raises RuleError with the column and a fix."""
    if config.query is not None:
        assert config.condition is not None
        op, threshold = _comparison(_tokens(config.condition), config.condition, "condition")
        lowered = config.query.strip().lower()
        if not (lowered.startswith("select") or lowered.startswith("with")):
            raise RuleError("query must be one SELECT statement returning a number", "query")
        return CompiledRule(config, None, (), 0.0, op, threshold)
    text = config.expr or ""
    tokens = _tokens(text)
    if not tokens or tokens[0][0] != "name":
        raise RuleError(f"expr must start with a metric name, e.g. 'error_rate[5m] > 0.05'; got {text!r}")
    name = tokens[0][1]
    metric = METRICS.get(name)
    if metric is None:
        import difflib

        close = difflib.get_close_matches(name, METRICS, n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"known metrics: {', '.join(METRICS)}"
        raise RuleError(f"unknown metric '{name}' at column 1; {hint}")
    matchers, i = _matchers(tokens, 1, metric, text)
    window, i = _window(tokens, i, metric)
    op, threshold = _comparison(tokens[i:], text, "expr")
    return CompiledRule(config, metric, tuple(matchers), window, op, threshold)


def _matchers(tokens: list[tuple[str, str, int]], i: int, metric: Metric, text: str) -> tuple[list[Matcher], int]:
    matchers: list[Matcher] = []
    if i >= len(tokens) or tokens[i][1] != "{":
        return matchers, i
    i += 1
    while i < len(tokens) and tokens[i][1] != "}":
        if tokens[i][1] == ",":
            i += 1
            continue
        if i + 2 >= len(tokens) or tokens[i][0] != "name" or tokens[i + 1][1] not in ("=", "!=", "=~", "!~") \
                or tokens[i + 2][0] != "string":  # fmt: skip
            raise RuleError(f'expected label="value" at column {tokens[i][2]} of {text!r}')
        label = tokens[i][1]
        if label not in LABELS[metric.source]:
            raise RuleError(
                f"'{metric.name}' has no label '{label}' (column {tokens[i][2]}); its labels: "
                f"{', '.join(LABELS[metric.source])}"
            )  # fmt: skip
        value = tokens[i + 2][1][1:-1]
        if tokens[i + 1][1] in ("=~", "!~"):
            try:
                re.compile(value)
            except re.error as exc:
                raise RuleError(f"bad regular expression at column {tokens[i + 2][2]}: {exc}") from None
        matchers.append(Matcher(label, tokens[i + 1][1], value))
        i += 3
    if i >= len(tokens):
        raise RuleError(f"missing '}}' in {text!r}")
    return matchers, i + 1


def _window(tokens: list[tuple[str, str, int]], i: int, metric: Metric) -> tuple[float, int]:
    window = 0.0
    if i < len(tokens) and tokens[i][0] == "duration":
        raw = tokens[i][1][1:-1]
        try:
            window = parse_duration(raw)
        except ValueError:
            raise RuleError(f"bad window [{raw}] at column {tokens[i][2]}: use e.g. [30s], [5m], [1h]") from None
        if window <= 0:
            raise RuleError(f"the window at column {tokens[i][2]} must be more than 0")
        i += 1
    if metric.needs_window and window == 0:
        raise RuleError(f"'{metric.name}' needs a window, e.g. {metric.name}[5m]")
    if not metric.needs_window and window:
        raise RuleError(f"'{metric.name}' takes no window (it covers the SLO's own window)")
    return window, i
