"""Observability: recorded request metrics, Prometheus metrics, logs, tail, traces, SLOs, alert rules,
notifications, incidents, health, synthetic probes and DORA metrics."""
