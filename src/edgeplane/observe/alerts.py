"""The alert evaluator: every ``evaluation_interval`` it runs each rule (the alerting file's rules and the
burn-rate alerts of every SLO), moves each alert instance through inactive → pending → firing → resolved, and acts
on what changed: notifications (grouped, deduplicated, throttled, silenced, escalated), incidents, rollbacks.

An instance is one label set of one rule (``alertname`` plus e.g. ``app``/``env``); its fingerprint is the hash of
its labels, so the same problem is the same alert across cycles and restarts (states are persisted). A rule that
cannot be evaluated (a failing SQL query) becomes one instance in state ``error`` with the reason; the others go on.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import delete, insert, select

from edgeplane.config.deploy import format_duration
from edgeplane.config.observe import AlertingConfig, RouteConfig, RuleConfig, WebhookAction
from edgeplane.control.schema import alert_groups, alerts
from edgeplane.errors import EdgeplaneError, NotFound
from edgeplane.observe.delivery_events import follow_delivery
from edgeplane.observe.evaluate import Evaluation, Sample
from edgeplane.observe.notify import NOT_ENDED, Message, iso_time
from edgeplane.observe.rules import compile_rule
from edgeplane.observe.silences import Silences
from edgeplane.observe.slo import BURN_ALERTS, SLOs, SLOTarget

if TYPE_CHECKING:
    from edgeplane.observe.hub import Observability

__all__ = ["AlertRule", "Alerts", "Instance", "fingerprint"]

log = logging.getLogger("edgeplane.alerts")
MessageKind = Literal["firing", "resolved", "escalation"]
KEEP_RESOLVED = 3600.0
"""Resolved alerts stay listed this long (seconds)."""
SEVERITY_RANK = {"info": 1, "warning": 2, "high": 3, "critical": 4}
PAGE_SEVERITY = {"page": "critical", "ticket": "warning"}


def fingerprint(labels: dict[str, str]) -> str:
    text = "\x1f".join(f"{k}={labels[k]}" for k in sorted(labels))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def iso(at: float | None) -> str:
    """An Alertmanager time: ``NOT_ENDED`` for none."""
    return NOT_ENDED if at is None else iso_time(at)


@dataclass
class AlertRule:
    """What the evaluator runs: a rule of the alerting file or a generated SLO burn-rate alert."""

    name: str
    severity: str
    for_: float
    labels: dict[str, str]
    summary: str
    actions: list[Any]
    receivers: list[str] | None
    evaluate: Callable[[Evaluation], Awaitable[list[Sample]]]
    source: str = "rule"


@dataclass
class Instance:
    fingerprint: str
    rule: str
    labels: dict[str, str]
    state: str = "inactive"
    value: float | None = None
    error: str = ""
    active_since: float | None = None
    fired_at: float | None = None
    resolved_at: float | None = None
    acknowledged_at: float | None = None
    acknowledged_by: str | None = None
    notes: list[str] = field(default_factory=list)
    """What the actions did (incident opened, rolled back, or why not), for people."""

    def row(self, now: float) -> dict[str, Any]:
        return {
            "fingerprint": self.fingerprint, "rule": self.rule, "labels": self.labels, "state": self.state,
            "value": self.value, "error": self.error, "active_since": self.active_since, "fired_at": self.fired_at,
            "resolved_at": self.resolved_at, "acknowledged_at": self.acknowledged_at,
            "acknowledged_by": self.acknowledged_by, "updated_at": now,
        }  # fmt: skip


@dataclass
class Group:
    key: str
    labels: dict[str, str]
    first_at: float
    last_sent_at: float | None = None
    sent: set[str] = field(default_factory=set)
    escalated_at: float | None = None


class Alerts:
    def __init__(self, hub: Observability, clock: Callable[[], float] = time.time) -> None:
        self.hub = hub
        self.control = hub.control
        self.clock = clock
        self.slos = SLOs(hub.control, hub.recorder)
        self.silences = Silences(hub.control.store, clock)
        self.known: dict[str, Instance] = {}
        self.groups: dict[str, Group] = {}
        self.rules: list[AlertRule] = []
        self.last_cycle_at = 0.0
        self.last_cycle_ms = 0.0
        self.errors = 0
        self._task: asyncio.Task[None] | None = None
        self._events: asyncio.Task[None] | None = None
        self._dirty: set[str] = set()
        self._saved_groups: list[dict[str, Any]] | None = None
        self._compiled: tuple[AlertingConfig | None, list[AlertRule]] = (None, [])
        self._cycle_lock = asyncio.Lock()

    # -- lifecycle -----------------------------------------------------------------------------------------
    async def start(self) -> None:
        async with self.control.store.engine.connect() as conn:
            for row in await conn.execute(select(alerts)):
                values = {k: v for k, v in row._mapping.items() if k != "updated_at"}
                self.known[row.fingerprint] = Instance(**values)
            for row in await conn.execute(select(alert_groups)):
                self.groups[row.key] = Group(row.key, row.labels, row.first_at, row.last_sent_at,
                                             set(row.sent_fingerprints), row.escalated_at)  # fmt: skip
        self._task = asyncio.create_task(self._run())
        self._events = asyncio.create_task(follow_delivery(self.hub, self.clock))

    async def close(self) -> None:
        for task in (self._task, self._events):
            if task is not None:
                task.cancel()
        await asyncio.gather(*(t for t in (self._task, self._events) if t is not None), return_exceptions=True)

    async def _run(self) -> None:
        interval = self.hub.settings.evaluation_interval
        while True:
            await asyncio.sleep(interval)
            try:
                await self.cycle()
            except Exception:
                self.errors += 1
                log.exception("alert evaluation cycle failed")

    # -- rules ---------------------------------------------------------------------------------------------
    def _rule(self, config: RuleConfig) -> AlertRule:
        compiled = compile_rule(config)

        async def evaluate(ev: Evaluation) -> list[Sample]:
            return await ev.rule(compiled)

        return AlertRule(config.name, config.severity, config.for_, dict(config.labels), config.summary,
                         list(config.actions), config.receivers, evaluate)  # fmt: skip

    def _slo_rule(self, target: SLOTarget, severity: str) -> AlertRule:
        conditions = [a for a in BURN_ALERTS if a.severity == severity]
        resolution = self.hub.settings.resolution

        async def evaluate(ev: Evaluation) -> list[Sample]:
            worst: float | None = None
            breached = False
            for cond in conditions:
                long = target.burn(await ev.slo_window(target, target.scaled(cond.long, resolution)))
                short = target.burn(await ev.slo_window(target, target.scaled(cond.short, resolution)))
                if long is None or short is None:
                    continue
                worst = long if worst is None else max(worst, long)
                breached = breached or (long > cond.factor and short > cond.factor)
            return [] if worst is None else [Sample(target.labels(), worst, breached)]

        windows = ", ".join(
            f"{c.factor:g}x over {format_duration(target.scaled(c.long, resolution))}"
            f"+{format_duration(target.scaled(c.short, resolution))}"
            for c in conditions
        )
        summary = f"SLO {target.name} of {target.app}/{target.env} burns its error budget ({windows})"
        actions = list(self.hub.alerting.slo_alerts.get(severity, ["notify"]))  # type: ignore[call-overload]
        name = f"slo-{severity}:{target.app}/{target.env}/{target.name}"
        labels = {"alertname": "SLOBurnRate", "slo_alert": severity}
        return AlertRule(name, PAGE_SEVERITY[severity], 0.0, labels, summary, actions, None, evaluate, "slo")

    async def _all_rules(self) -> list[AlertRule]:
        if self._compiled[0] is not self.hub.alerting:  # the file's rules are parsed once per (re)load
            self._compiled = (self.hub.alerting, [self._rule(r) for r in self.hub.alerting.rules])
        rules = list(self._compiled[1])
        for target in await self.slos.targets():
            if target.slo.alerts:
                rules += [self._slo_rule(target, "page"), self._slo_rule(target, "ticket")]
        return rules

    # -- one cycle -----------------------------------------------------------------------------------------
    async def cycle(self) -> dict[str, Any]:
        """Evaluate every rule once and act on the changes; returns what happened (for tests and the API)."""
        async with self._cycle_lock:
            started = time.perf_counter()
            now = self.clock()
            self.rules = await self._all_rules()
            ev = Evaluation(self.hub, self.slos, now)
            fired: list[Instance] = []
            resolved: list[Instance] = []
            seen: set[str] = set()
            for rule in self.rules:
                await self._evaluate(rule, ev, now, seen, fired, resolved)
            self._forget(seen, now, resolved)
            for inst in fired:
                await self._on_fire(inst)
            for inst in resolved:
                await self._on_resolve(inst)
            await self._notify(now, resolved)
            await self._save(now)
            self.last_cycle_at = now
            self.last_cycle_ms = (time.perf_counter() - started) * 1000
            return {"fired": [i.fingerprint for i in fired], "resolved": [i.fingerprint for i in resolved],
                    "ms": self.last_cycle_ms, "rules": len(self.rules)}  # fmt: skip

    def _rule_of(self, inst: Instance) -> AlertRule | None:
        return next((r for r in self.rules if r.name == inst.rule), None)

    def _labels(self, rule: AlertRule, sample_labels: dict[str, str]) -> dict[str, str]:
        return {"alertname": rule.name, **sample_labels, **rule.labels, "severity": rule.severity}

    async def _evaluate(self, rule: AlertRule, ev: Evaluation, now: float, seen: set[str],
                        fired: list[Instance], resolved: list[Instance]) -> None:  # fmt: skip
        try:
            samples = await rule.evaluate(ev)
        except Exception as exc:  # one broken rule must not stop the others
            message = exc.message if isinstance(exc, EdgeplaneError) else f"{type(exc).__name__}: {exc}"
            labels = self._labels(rule, {})
            fp = fingerprint(labels)
            inst = self.known.get(fp) or Instance(fp, rule.name, labels)
            if inst.state != "error" or inst.error != message:
                log.warning("alert rule %s cannot be evaluated: %s", rule.name, message)
                self.errors += 1
                self._dirty.add(fp)
            inst.state, inst.error, inst.value = "error", message, None
            self.known[fp] = inst
            seen.add(fp)
            return
        for sample in samples:
            labels = self._labels(rule, sample.labels)
            fp = fingerprint(labels)
            seen.add(fp)
            known = self.known.get(fp)
            if known is None and not sample.breached:
                continue
            inst = known or self.known.setdefault(fp, Instance(fp, rule.name, labels))
            self._step(inst, rule, sample, now, fired, resolved)

    def _step(self, inst: Instance, rule: AlertRule, sample: Sample, now: float,
              fired: list[Instance], resolved: list[Instance]) -> None:  # fmt: skip
        before = inst.state
        inst.value = sample.value
        inst.error = ""
        if sample.breached:
            if inst.state in ("inactive", "resolved", "error"):
                inst.state, inst.active_since = "pending", now
                inst.fired_at = inst.resolved_at = inst.acknowledged_at = inst.acknowledged_by = None
                inst.notes = []
            if inst.state == "pending" and now - (inst.active_since or now) >= rule.for_:
                inst.state, inst.fired_at = "firing", now
                fired.append(inst)
        elif inst.state == "firing":
            inst.state, inst.resolved_at = "resolved", now
            resolved.append(inst)
        elif inst.state in ("pending", "error"):
            inst.state = "inactive"
        if inst.state != before:  # values are kept in memory; rows change with states (no write per cycle)
            self._dirty.add(inst.fingerprint)

    def _forget(self, seen: set[str], now: float, resolved: list[Instance]) -> None:
        """Instances no rule produced this cycle: a firing one with no data (or whose rule is gone) resolves."""
        for fp, inst in list(self.known.items()):
            if fp in seen:
                continue
            if inst.state == "firing":
                inst.state, inst.resolved_at = "resolved", now
                inst.notes.append("resolved: no data (or the rule was removed)")
                resolved.append(inst)
                self._dirty.add(fp)
            elif inst.state in ("pending", "error"):
                inst.state = "inactive"
                self._dirty.add(fp)

    # -- actions -------------------------------------------------------------------------------------------
    def _actions(self, inst: Instance) -> list[Any]:
        rule = self._rule_of(inst)
        return rule.actions if rule is not None else []

    def _title(self, inst: Instance) -> str:
        where = "/".join(x for x in (inst.labels.get("app"), inst.labels.get("env")) if x)
        return f"{inst.labels['alertname']}{f' {where}' if where else ''}"

    async def _on_fire(self, inst: Instance) -> None:
        log.warning("alert firing: %s %s value=%s", inst.rule, inst.labels, inst.value)
        actions = self._actions(inst)
        if "create_incident" in actions:
            await self._incident_for(inst)
        if "auto_rollback" in actions:  # the rollback itself reaches the incident's timeline as a delivery event
            inst.notes.append(await self._rollback(inst))

    async def _incident_for(self, inst: Instance) -> dict[str, Any] | None:
        from edgeplane.observe.incidents import ALERT_SEVERITY

        key = self._group_key(inst)[0]
        rule = self._rule_of(inst)
        details = {"alert": inst.fingerprint, "labels": inst.labels, "value": inst.value}
        message = f"alert {inst.labels['alertname']} fired (value {inst.value:.4g})" if inst.value is not None \
            else f"alert {inst.labels['alertname']} fired"  # fmt: skip
        try:
            incident = await self.hub.incidents.find_open(key)
            if incident is None:
                incident = await self.hub.incidents.open(
                    self._title(inst), ALERT_SEVERITY.get(inst.labels.get("severity", "warning"), "SEV3"),
                    actor="alerts", app=inst.labels.get("app", ""), env=inst.labels.get("env", ""), source="alert",
                    group_key=key, summary=rule.summary if rule else "", details=details,
                )  # fmt: skip
                inst.notes.append(f"opened incident #{incident['number']}")
            else:
                inst.notes.append(f"added to incident #{incident['number']}")
            await self.hub.incidents.add_event(incident["id"], "alert_fired", "alerts", message, details)
            return incident
        except Exception as exc:
            log.exception("could not open an incident for alert %s", inst.rule)
            inst.notes.append(f"incident not opened: {exc}")
            return None

    async def _rollback(self, inst: Instance) -> str:
        """The ``auto_rollback`` action: delivery's rollback of the alert's environment (which also aborts a
        rollout in progress). Needs ``app`` and ``env`` labels."""
        app, env = inst.labels.get("app"), inst.labels.get("env")
        if not app or not env:
            return "auto_rollback skipped: the alert has no app and env labels"
        latest = await self.control.store.list_deployments(app, env, limit=1)
        if latest and latest[0]["kind"] == "rollback" and latest[0]["author"] == "alerts":
            # the environment already runs what an alert rolled back to: going further back would walk
            # through history on one incident; a person decides (or a new deploy re-arms this)
            return f"auto_rollback skipped: {app}/{env} already runs the version an alert rolled back to"
        try:
            result = await self.control.rollback(
                app, env, None, message=f"auto rollback: alert {inst.labels['alertname']} fired", actor="alerts"
            )
        except EdgeplaneError as exc:
            log.warning("auto rollback of %s/%s failed: %s", app, env, exc.message)
            return f"auto_rollback of {app}/{env} failed: {exc.message}"
        splits = result.get("splits") or []
        label = ""
        if len(splits) == 1:
            label = f" to v{(await self.control.version(splits[0]['version_id']))['number']}"
        log.warning("auto rollback of %s/%s after alert %s", app, env, inst.labels["alertname"])
        return f"rolled back {app}/{env}{label}"

    async def _on_resolve(self, inst: Instance) -> None:
        log.info("alert resolved: %s %s", inst.rule, inst.labels)
        if "create_incident" not in self._actions(inst):
            return
        incident = await self.hub.incidents.find_open(self._group_key(inst)[0])
        if incident is not None:
            await self.hub.incidents.add_event(incident["id"], "alert_resolved", "alerts",
                                               f"alert {inst.labels['alertname']} resolved",
                                               {"alert": inst.fingerprint})  # fmt: skip

    # -- notifications -------------------------------------------------------------------------------------
    def _group_key(self, inst: Instance) -> tuple[str, dict[str, str], RouteConfig]:
        index, route = self.hub.alerting.route_for(inst.labels)
        labels = {k: inst.labels.get(k, "") for k in route.group_by}
        key = f"{index}:" + ",".join(f"{k}={v}" for k, v in labels.items())
        return key, labels, route

    def _receivers(self, inst: Instance, route: RouteConfig) -> list[str]:
        actions = self._actions(inst)
        rule = self._rule_of(inst)
        names: list[str] = []
        if "notify" in actions:
            names += rule.receivers if rule is not None and rule.receivers is not None else route.receivers
        if "page" in actions:
            names += route.pagers
        names += [f"webhook:{inst.rule}" for a in actions if isinstance(a, WebhookAction)]
        return list(dict.fromkeys(names))

    async def _notify(self, now: float, resolved: list[Instance]) -> None:
        firing: dict[str, list[Instance]] = {}
        meta: dict[str, tuple[dict[str, str], RouteConfig]] = {}
        silenced = await self.silences.active(now)
        for inst in self.known.values():
            if inst.state != "firing" or self.silences.matches(silenced, inst.labels):
                continue
            key, labels, route = self._group_key(inst)
            if not self._receivers(inst, route) and route.escalate_after is None:
                continue
            firing.setdefault(key, []).append(inst)
            meta[key] = (labels, route)
        for key, insts in firing.items():
            labels, route = meta[key]
            group = self.groups.get(key)
            if group is None:
                group = self.groups[key] = Group(key, labels, now)
            fps = {i.fingerprint for i in insts}
            new = fps - group.sent
            due = (new and now - group.first_at >= route.group_wait) or (
                group.last_sent_at is not None and now - group.last_sent_at >= route.repeat_interval
            )
            if due:  # every alert's receivers: a page grouped with a notify-only alert still pages
                names = [n for inst in insts for n in self._receivers(inst, route)]
                await self._send(list(dict.fromkeys(names)), "firing", group, insts)
                group.sent, group.last_sent_at = fps, now
            if await self._escalation_due(group, route, insts, now):
                await self._send(route.escalate_to, "escalation", group, insts)
                group.escalated_at = now
                incident = await self.hub.incidents.find_open(key)
                if incident is not None:
                    await self.hub.incidents.add_event(
                        incident["id"], "escalated", "alerts",
                        f"not acknowledged after {format_duration(route.escalate_after or 0)}: escalated to "
                        f"{', '.join(route.escalate_to)}",
                    )  # fmt: skip
        for inst in resolved:
            key, _, route = self._group_key(inst)
            group = self.groups.get(key)
            if group is None or inst.fingerprint not in group.sent:
                continue
            names = [n for n in self._receivers(inst, route) if self._send_resolved(n)]
            await self._send(names, "resolved", group, [inst])
            group.sent.discard(inst.fingerprint)
        for key in [k for k, g in self.groups.items() if k not in firing and not g.sent]:
            del self.groups[key]

    async def _escalation_due(self, group: Group, route: RouteConfig, insts: list[Instance], now: float) -> bool:
        if route.escalate_after is None or group.escalated_at is not None:
            return False
        return now - group.first_at >= route.escalate_after and not await self._acknowledged(group, insts)

    def _send_resolved(self, name: str) -> bool:
        receiver = self.hub.alerting.receiver(name)
        return receiver is None or receiver.send_resolved

    async def _acknowledged(self, group: Group, insts: list[Instance]) -> bool:
        if any(i.acknowledged_at for i in insts):
            return True
        incident = await self.hub.incidents.find_open(group.key)
        return incident is not None and incident.get("state") == "acknowledged"

    def message(self, kind: MessageKind, group: Group, insts: list[Instance]) -> Message:
        firing = [i for i in insts if i.state == "firing"]
        insts = sorted(insts, key=lambda i: -SEVERITY_RANK.get(i.labels.get("severity", ""), 0))
        first = insts[0]  # the most severe: a page grouped with a ticket still pages
        rule = self._rule_of(first)
        summary = rule.summary if rule is not None and rule.summary else ""
        where = ", ".join(f"{k}={v}" for k, v in group.labels.items() if v and k != "alertname")
        tag = {"firing": f"FIRING:{len(firing)}", "resolved": "RESOLVED", "escalation": "ESCALATED"}[kind]
        title = f"[{tag}] {first.labels['alertname']}{f' ({where})' if where else ''}"
        lines = []
        for inst in insts:
            value = "" if inst.value is None else f" value={inst.value:.4g}"
            lines.append(f"- {inst.state}{value} {', '.join(f'{k}={v}' for k, v in inst.labels.items())}")
            lines += [f"  {n}" for n in inst.notes]
        payload_alerts = [
            {
                "status": "resolved" if i.state == "resolved" else "firing",
                "labels": i.labels,
                "annotations": {"summary": summary or title, "value": "" if i.value is None else f"{i.value:.6g}",
                                "notes": "; ".join(i.notes)},
                "startsAt": iso(i.fired_at or i.active_since), "endsAt": iso(i.resolved_at),
                "fingerprint": i.fingerprint,
            }
            for i in insts
        ]  # fmt: skip
        return Message(
            kind=kind,
            title=title, severity=first.labels.get("severity", "warning"), group_key=group.key,
            group_labels=group.labels, alerts=payload_alerts,
            text="\n".join([summary, *lines]).strip(), url=None,
        )  # fmt: skip

    async def _send(self, names: list[str], kind: MessageKind, group: Group, insts: list[Instance]) -> None:
        if not names:
            return
        message = self.message(kind, group, insts)
        incident = await self.hub.incidents.find_open(group.key)
        if incident is not None:
            message.incident = str(incident["number"])
        for name in names:
            try:
                await self.hub.notifier.send(name, message)
            except Exception:
                log.exception("could not queue a notification to %s", name)
        if incident is not None:
            await self.hub.incidents.add_event(incident["id"], "notified", "alerts",
                                               f"{kind} notification to {', '.join(names)}")  # fmt: skip

    # -- persistence ---------------------------------------------------------------------------------------
    async def _save(self, now: float) -> None:
        dirty, self._dirty = self._dirty, set()
        stale = {fp for fp, i in self.known.items()
                 if i.state == "resolved" and now - (i.resolved_at or now) > KEEP_RESOLVED}  # fmt: skip
        gone = stale | {fp for fp in dirty if fp in self.known and self.known[fp].state == "inactive"}
        dirty |= stale
        for fp in gone:
            del self.known[fp]
        groups = [
            {"key": g.key, "labels": g.labels, "first_at": g.first_at, "last_sent_at": g.last_sent_at,
             "sent_fingerprints": sorted(g.sent), "escalated_at": g.escalated_at}
            for g in self.groups.values()
        ]  # fmt: skip
        if not dirty and groups == self._saved_groups:
            return  # nothing changed: no transaction
        async with self.control.store._tx() as conn:
            if dirty:
                await conn.execute(delete(alerts).where(alerts.c.fingerprint.in_(dirty)))
                rows = [self.known[fp].row(now) for fp in dirty if fp in self.known]
                if rows:
                    await conn.execute(insert(alerts), rows)
            if groups != self._saved_groups:
                await conn.execute(delete(alert_groups))
                if groups:
                    await conn.execute(insert(alert_groups), groups)
        self._saved_groups = groups

    # -- reading and acting by hand ------------------------------------------------------------------------
    def listing(self, state: str | None = None) -> list[dict[str, Any]]:
        out = []
        for inst in sorted(self.known.values(), key=lambda i: (i.state != "firing", i.rule)):
            if state and inst.state != state:
                continue
            row = inst.row(self.last_cycle_at)
            row["notes"] = inst.notes
            out.append(row)
        return out

    def instances(self) -> list[dict[str, Any]]:
        return [{"rule": i.rule, "labels": i.labels, "state": i.state, "severity": i.labels.get("severity", "")}
                for i in self.known.values()]  # fmt: skip

    async def ack(self, ref: str, actor: str) -> list[dict[str, Any]]:
        """Acknowledge firing alerts by fingerprint (prefix) or alert name: stops their escalation."""
        now = self.clock()
        hit = [i for i in self.known.values() if i.state == "firing"
               and (i.fingerprint.startswith(ref) or i.labels.get("alertname") == ref or i.rule == ref)]  # fmt: skip
        if not hit:
            raise NotFound(f"no firing alert matches {ref!r}; see 'edgeplane alerts list'", code="alert_not_found")
        for inst in hit:
            inst.acknowledged_at, inst.acknowledged_by = now, actor
            self._dirty.add(inst.fingerprint)
        await self._save(now)
        return [i.row(now) for i in hit]
