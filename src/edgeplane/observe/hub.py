"""``control.observe``: the observability parts of one platform node, started and stopped together.

Each part is its own module (series, metrics, tail, alerts, notify, incidents, health, probes); this object only
builds them, hands them what they need and runs their start/close in order.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from edgeplane.config.observe import AlertingConfig
from edgeplane.observe.series import Recorder

if TYPE_CHECKING:
    from edgeplane.control.service import ControlPlane

__all__ = ["Observability"]

log = logging.getLogger("edgeplane.observe")


class Observability:
    def __init__(self, control: ControlPlane) -> None:
        self.control = control
        self.settings = control.config.observe
        self.recorder = Recorder(control.store, control.gateway.stats, self.settings)
        self.alerting = AlertingConfig()
        """The alerting file as last loaded (empty when none is configured)."""
        self.alerting_file: Path | None = self.settings.alerts_file

    def load_alerting(self) -> AlertingConfig:
        """(Re)read the alerting file; a bad file raises ConfigError and leaves the running config alone."""
        from edgeplane.config.load import load_alerting_config

        if self.alerting_file is None:
            return self.alerting
        self.alerting = load_alerting_config(self.alerting_file)
        log.info("alerting config loaded from %s: %d rules, %d receivers, %d probes", self.alerting_file,
                 len(self.alerting.rules), len(self.alerting.receivers), len(self.alerting.probes))  # fmt: skip
        return self.alerting

    async def start(self) -> None:
        self.load_alerting()
        await self.recorder.start()

    async def close(self) -> None:
        await self.recorder.close()
