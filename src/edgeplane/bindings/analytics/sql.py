"""The SQL users write against Cloudflare's Analytics Engine SQL API, run on DuckDB.

Cloudflare's dialect is ClickHouse's. Most of it is already valid DuckDB (``SELECT``, ``WHERE``, ``GROUP BY``,
``ORDER BY``, ``LIMIT``, ``count()``, ``sum``, ``avg``, ``min``, ``max``, ``if``, ``now()``,
``INTERVAL '1' DAY``); the rest is covered by macros installed in the database (``MACROS``) and two rewrites
(``quantile(q)(x)`` call syntax and a trailing ``FORMAT JSON``). docs/analytics.md lists what is supported.
"""

from __future__ import annotations

import re

__all__ = ["MACROS", "translate"]

MACROS = [
    # Cloudflare's quantiles are ClickHouse's `quantile`: approximate, by reservoir sampling (8192 values), which
    # is what DuckDB's reservoir_quantile does. Workers' points are never sampled (_sample_interval 1); the
    # gateway's edgeplane_requests are sampled every Nth above a rate, where the unweighted quantile of an
    # every-Nth sample estimates the quantile of the whole.
    "CREATE OR REPLACE MACRO quantileWeighted(q, x, w) AS reservoir_quantile(x, q)",
    "CREATE OR REPLACE MACRO quantileExactWeighted(q, x, w) AS quantile_disc(x, q)",
    "CREATE OR REPLACE MACRO intDiv(a, b) AS CAST(trunc(a / b) AS BIGINT)",
    "CREATE OR REPLACE MACRO toStartOfInterval(t, i) AS time_bucket(i, t)",
    "CREATE OR REPLACE MACRO toStartOfMinute(t) AS date_trunc('minute', t)",
    "CREATE OR REPLACE MACRO toStartOfFiveMinutes(t) AS time_bucket(INTERVAL 5 MINUTE, t)",
    "CREATE OR REPLACE MACRO toStartOfFifteenMinutes(t) AS time_bucket(INTERVAL 15 MINUTE, t)",
    "CREATE OR REPLACE MACRO toStartOfHour(t) AS date_trunc('hour', t)",
    "CREATE OR REPLACE MACRO toStartOfDay(t) AS date_trunc('day', t)",
    "CREATE OR REPLACE MACRO toDateTime(x) AS CAST(x AS TIMESTAMP)",
    "CREATE OR REPLACE MACRO toUnixTimestamp(t) AS CAST(epoch(t) AS BIGINT)",
    "CREATE OR REPLACE MACRO countIf(c) AS count_if(c)",
    "CREATE OR REPLACE MACRO sumIf(x, c) AS sum(CASE WHEN c THEN x ELSE 0 END)",
    "CREATE OR REPLACE MACRO avgIf(x, c) AS avg(CASE WHEN c THEN x END)",
    "CREATE OR REPLACE MACRO toUInt32(x) AS CAST(x AS UINTEGER)",
    "CREATE OR REPLACE MACRO toFloat64(x) AS CAST(x AS DOUBLE)",
    "CREATE OR REPLACE MACRO toString(x) AS CAST(x AS VARCHAR)",
]

_PARAMETRIC = re.compile(r"\b(quantile|quantileExact)\s*\(\s*([0-9.]+)\s*\)\s*\(\s*([^()]+?)\s*\)", re.IGNORECASE)
_FORMAT = re.compile(r"\s+FORMAT\s+(JSON|JSONEachRow)\s*;?\s*$", re.IGNORECASE)


def translate(sql: str) -> str:
    """Cloudflare/ClickHouse spellings -> DuckDB (the macros cover function names)."""

    def parametric(match: re.Match[str]) -> str:
        function = "reservoir_quantile" if match.group(1).lower() == "quantile" else "quantile_disc"
        return f"{function}({match.group(3)}, {match.group(2)})"

    sql = _PARAMETRIC.sub(parametric, sql)
    return _FORMAT.sub("", sql).strip().rstrip(";")
