"""``control.observe``: the observability parts of one platform node, started and stopped together.

Each part is its own module (series, metrics, tail, alerts, notify, incidents, health, probes); this object only
builds them, hands them what they need and runs their start/close in order.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from edgeplane.config.observe import AlertingConfig, ReceiverConfig, WebhookAction
from edgeplane.observe.alerts import Alerts
from edgeplane.observe.health import Health
from edgeplane.observe.incidents import Incidents
from edgeplane.observe.metrics import Metrics
from edgeplane.observe.notify import Notifier
from edgeplane.observe.probes import Probes
from edgeplane.observe.requests import RequestAnalytics
from edgeplane.observe.series import Recorder
from edgeplane.observe.tail import TailHub
from edgeplane.observe.tracing import Tracing

if TYPE_CHECKING:
    from edgeplane.control.service import ControlPlane

__all__ = ["Observability"]

log = logging.getLogger("edgeplane.observe")


class Observability:
    def __init__(self, control: ControlPlane) -> None:
        self.control = control
        self.settings = control.config.observe
        self.recorder = Recorder(control.store, control.gateway.stats, self.settings)
        self.metrics = Metrics(control)
        self.tracing = Tracing(control)
        self.alerting = AlertingConfig()
        """The alerting file as last loaded (empty when none is configured)."""
        self.alerting_file: Path | None = self.settings.alerts_file
        self.notifier = Notifier(control.store, lambda: self.alerting)
        self.incidents = Incidents(control.store)
        self.alerts = Alerts(self)
        self.health = Health(control)
        self.probes = Probes(control)
        self.requests = RequestAnalytics(control)
        self.tail = TailHub(control.gateway.stats)

    def load_alerting(self) -> AlertingConfig:
        """(Re)read the alerting file; a bad file raises ConfigError and leaves the running config alone."""
        from edgeplane.config.load import load_alerting_config

        if self.alerting_file is None:
            return self.alerting
        self.alerting = with_action_receivers(load_alerting_config(self.alerting_file))
        log.info("alerting config loaded from %s: %d rules, %d receivers, %d probes", self.alerting_file,
                 len(self.alerting.rules), len(self.alerting.receivers), len(self.alerting.probes))  # fmt: skip
        return self.alerting

    async def reload(self) -> AlertingConfig:
        """``edgeplane alerts reload``: re-read the alerting file and restart what depends on it."""
        config = self.load_alerting()
        await self.probes.reload()
        return config

    async def start(self) -> None:
        self.load_alerting()
        await self.recorder.start()
        await self.tracing.start()
        await self.notifier.start()
        await self.alerts.start()
        await self.probes.start()
        self.requests.start()
        self.control.spawn(self.incidents.follow_delivery(self.control.rollouts.bus))

    async def close(self) -> None:
        self.tail.close()
        await self.requests.close()
        await self.tracing.close()
        await self.probes.close()
        await self.alerts.close()
        await self.notifier.close()
        await self.recorder.close()


def with_action_receivers(config: AlertingConfig) -> AlertingConfig:
    """The config plus one webhook receiver (``webhook:<rule>``) per rule with a ``webhook`` action, so those
    deliveries are retried and logged like every other notification. (The ``:`` in the name, which receiver names
    may not contain, keeps these apart from the file's own receivers.)"""
    extra = [
        ReceiverConfig(name="action", kind="webhook", url=action.url).model_copy(
            update={"name": f"webhook:{rule.name}"}
        )
        for rule in config.rules
        for action in rule.actions
        if isinstance(action, WebhookAction)
    ]
    return config.model_copy(update={"receivers": [*config.receivers, *extra]}) if extra else config
