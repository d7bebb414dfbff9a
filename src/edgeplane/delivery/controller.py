"""The rollout controller: walks each rollout's plan, judges every traffic step from the gateway's own
counters, and acts on the verdict (advance, pause, or roll back) according to the rollout's trust mode.

State lives in the control store (``rollout_store.py``): the row holds the plan, the current step, the step's
elapsed time and its analysis state, saved every second, so a controller killed mid-rollout resumes at the
same step with the evidence it had (requests after the last save are not counted twice: counting restarts
from the live counters). Events (and the verdict history) are appended as they happen.

Rolling back is a routing-table swap to the stable version, whose processes never stopped, so traffic is
back on stable on the next request after the verdict.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from edgeplane.config.app import AppConfig
from edgeplane.config.deploy import DeployConfig
from edgeplane.control.rollout_store import ACTIVE_STATES, RolloutRecords
from edgeplane.control.schema import now
from edgeplane.delivery.checks import probe_health, smoke_and_webhook
from edgeplane.delivery.events import EventBus
from edgeplane.delivery.judges import Finding, StageAnalysis, StageLimits, combine
from edgeplane.delivery.plans import build_plan, describe_step
from edgeplane.delivery.splits import Split
from edgeplane.delivery.telemetry import EnvHistory, burn_finding, health_finding
from edgeplane.errors import BadRequest, Conflict, EdgeplaneError, Forbidden, NotFound

if TYPE_CHECKING:
    from edgeplane.control.service import ControlPlane

__all__ = ["RolloutController"]

log = logging.getLogger("edgeplane.delivery")

TICK = 0.2
SAVE_EVERY = 1.0
PROBE_EVERY = 1.0
STRATEGIES = ("canary", "blue-green", "rolling")
MODES = ("shadow", "pause", "auto")
Snapshot = tuple[int, int, list[int]]


async def _nap(event: asyncio.Event, seconds: float) -> None:
    """Sleep until ``event`` is set or ``seconds`` pass (asyncio.wait, unlike wait_for on Python 3.11, never
    swallows a cancellation of the caller)."""
    waiter = asyncio.ensure_future(event.wait())
    try:
        await asyncio.wait({waiter}, timeout=seconds)
    finally:
        waiter.cancel()


@dataclass
class Run:
    """The in-memory side of one active rollout."""

    row: dict[str, Any]
    config: DeployConfig = field(default_factory=DeployConfig)
    """The new version's ``[deploy]`` table for this environment."""
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    analysis: StageAnalysis | None = None
    findings: list[Finding] = field(default_factory=list)
    last: dict[str, Snapshot] = field(default_factory=dict)
    health_failures: int = 0
    probes: int = 0
    last_probe_error: str = ""
    elapsed: float | None = None
    """The current traffic step's elapsed seconds, live (the row has it as of the last save)."""
    started: float = field(default_factory=time.monotonic)
    """When this controller took the rollout on (burn-rate windows start here)."""
    shown: dict[str, str] = field(default_factory=dict)
    """Last recorded verdict per judge, so the history holds changes, not every tick."""

    @property
    def id(self) -> str:
        return str(self.row["id"])

    @property
    def step(self) -> dict[str, Any]:
        plan: list[dict[str, Any]] = self.row["plan"]
        step: dict[str, Any] = plan[min(self.row["step"], len(plan) - 1)]
        return step


class RolloutController:
    def __init__(self, control: ControlPlane) -> None:
        self.control = control
        self.records = RolloutRecords(control.store)
        self.bus = EventBus()
        self.history = EnvHistory()
        self.runs: dict[str, Run] = {}
        self._create_lock = asyncio.Lock()
        self._closing = False

    # -- lifecycle -----------------------------------------------------------------------------------------
    async def start(self) -> None:
        """Resume every rollout that was active when the platform stopped."""
        for row in await self.records.active():
            self._launch(Run(row))
            log.info("resuming rollout %s of %s/%s at step %d", row["id"][:8], row["app"], row["env"], row["step"])
        self.control.spawn(self._sample())

    async def close(self) -> None:
        self._closing = True
        tasks = [r.task for r in self.runs.values() if r.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _launch(self, run: Run) -> None:
        self.runs[run.id] = run
        run.task = asyncio.create_task(self._drive(run), name=f"rollout-{run.id[:8]}")

    async def _sample(self) -> None:
        while not self._closing:
            self.history.sample(self.control.gateway.stats.versions)
            await asyncio.sleep(1.0)

    def active_for(self, app: str, env: str) -> Run | None:
        """The rollout that owns (app, env) now (queued ones do not)."""
        for run in self.runs.values():
            row = run.row
            if row["app"] == app and row["env"] == env and row["state"] in ("awaiting_approval", "running", "paused"):
                return run
        return None

    def ensure_idle(self, app: str, env: str) -> None:
        run = self.active_for(app, env)
        if run is not None:
            raise Conflict(
                f"rollout {run.id[:8]} is {run.row['state'].replace('_', ' ')} in {app}/{env}; wait for it, "
                f"or 'edgeplane rollout abort' it first (or deploy with --queue)",
                code="rollout_in_progress",
                rollout=run.id,
            )

    # -- creating ------------------------------------------------------------------------------------------
    async def create(
        self,
        app: str,
        env: str,
        ref: str,
        *,
        strategy: str | None,
        mode: str | None,
        queue: bool,
        message: str,
        token: dict[str, Any],
    ) -> dict[str, Any]:
        if strategy is not None and strategy not in STRATEGIES:
            raise BadRequest(
                f"unknown strategy {strategy!r}; use one of {', '.join(STRATEGIES)}", code="invalid_strategy"
            )
        if mode is not None and mode not in MODES:
            raise BadRequest(f"unknown mode {mode!r}; use one of {', '.join(MODES)}", code="invalid_mode")
        version = await self.control.resolve(app, ref)
        config = AppConfig.model_validate(version["config"])
        try:
            deploy = config.deploy_for(env)
            config.environment(env)
        except ValueError as exc:
            raise BadRequest(f"version v{version['number']}: {exc}", code="unknown_environment") from None
        async with self._create_lock:
            busy = self.active_for(app, env)
            if busy is not None and not queue:
                self.ensure_idle(app, env)
            stable = await self._stable(app, env) if busy is None else None
            if stable is not None and stable == version["id"]:
                raise Conflict(f"v{version['number']} already serves all of {app}/{env}", code="already_deployed")
            strategy = strategy or deploy.strategy
            required = self.control.config.approvals.get(env, 0)
            before = self.control.config.approve_before
            plan = build_plan(
                deploy, strategy, pool_size=config.runtime.pool_size, approvals=required, approve_before=before
            )
            if busy is None and not stable:  # first deployment of the environment: nothing to compare with
                plan = [step for step in plan if step["kind"] in ("approval", "promote")]
            state = "queued" if busy is not None else "running"
            if state == "running" and required and before == "start":
                state = "awaiting_approval"
            row = {
                "id": str(uuid.uuid4()), "app": app, "env": env, "strategy": strategy, "mode": mode or deploy.mode,
                "state": state, "stable_id": stable or "", "version_id": version["id"], "plan": plan, "step": 0,
                "step_elapsed": 0.0, "analysis": {}, "verdicts": [], "approvals_required": required,
                "approve_before": before, "reason": "", "message": message, "author": token["name"],
                "author_token": token["id"],
            }  # fmt: skip
            note = f"{strategy} of v{version['number']} ({row['mode']} mode)"
            row = await self.records.create(row, ("created", 0, note, {"plan": plan, "state": state}))
            run = Run(row)
            self._publish(run, "created", note)
            self._launch(run)
        return await self.status(row["id"])

    async def _serving(self, app: str, env: str) -> set[tuple[str, float]]:
        """(version id, percentage) of every split of the environment's current deployment (empty: none)."""
        history = await self.control.store.list_deployments(app, env, limit=1)
        return {(s["version_id"], s["percentage"]) for s in history[0]["splits"]} if history else set()

    async def _stable(self, app: str, env: str) -> str:
        """The version serving all of ``env`` now; "" when nothing is deployed yet (the first rollout of an
        environment has no baseline, so it is only gated by approvals and goes straight to 100%)."""
        serving = await self._serving(app, env)
        if not serving:
            return ""
        splits = [vid for vid, pct in serving if pct > 0]
        if len(splits) != 1:
            raise Conflict(
                f"{app}/{env} is split across versions; finish that first (edgeplane deploy VERSION)",
                code="split_in_progress",
            )
        return splits[0]

    # -- commands ------------------------------------------------------------------------------------------
    def _run(self, rollout_id: str) -> Run:
        run = self.runs.get(rollout_id)
        if run is None:
            raise Conflict(f"rollout {rollout_id[:8]} is not active", code="rollout_not_active")
        return run

    async def find(self, app: str, rollout_id: str | None, env: str | None) -> dict[str, Any]:
        """A rollout by id or unique id prefix; without one, the rollout that owns ``env`` now (else the newest)."""
        if not rollout_id and env is not None and (owner := self.active_for(app, env)) is not None:
            return dict(owner.row)
        rows = await self.records.list_rollouts(app, env, limit=1000)
        if rollout_id:
            rows = [r for r in rows if r["id"].startswith(rollout_id)]
            if len(rows) > 1 and not any(r["id"] == rollout_id for r in rows):
                ids = ", ".join(r["id"][:12] for r in rows[:5])
                raise BadRequest(
                    f"rollout {rollout_id!r} is ambiguous: {ids}; give more characters", code="rollout_ambiguous"
                )
        if not rows:
            where = f" in {env}" if env else ""
            raise NotFound(
                f"no rollout{' ' + rollout_id if rollout_id else ''} of {app}{where}", code="rollout_not_found"
            )
        return rows[0]

    async def command(
        self, rollout_id: str, action: str, token: dict[str, Any], *, full: bool = False
    ) -> dict[str, Any]:
        actor = token["name"]
        if action == "retry":
            return await self._retry(rollout_id, actor)
        if action == "approve":
            return await self._approve(rollout_id, token)
        run = self._run(rollout_id)
        async with run.lock:
            state = run.row["state"]
            if action == "pause":
                if state != "running":
                    raise Conflict(f"rollout is {state}, not running", code="rollout_not_running")
                await self._set(run, {"state": "paused", "reason": f"paused by {actor}"}, "paused", actor=actor)
            elif action == "resume":
                if state != "paused":
                    raise Conflict(f"rollout is {state}, not paused", code="rollout_not_paused")
                if run.step["kind"] == "pause":
                    await self._advance(run, actor=actor)
                else:
                    self._reset_step(run)
                    await self._set(run, {"state": "running", "reason": "", "step_elapsed": 0.0, "analysis": {}},
                                    "resumed", f"resumed by {actor}; the step starts over", actor=actor)  # fmt: skip
            elif action == "promote":
                if state not in ("running", "paused"):
                    raise Conflict(
                        f"rollout is {state}; only a running or paused rollout can be promoted",
                        code="rollout_not_running",
                    )
                target = self._promotion_target(run, full)
                await self._advance(run, to=target, actor=actor, note=f"promoted by {actor}")
            elif action == "abort":
                await self._finish(run, "aborted", f"aborted by {actor}", rollback=True, actor=actor)
            else:
                raise BadRequest(f"unknown action {action!r}", code="invalid_action")
        run.wake.set()
        return await self.status(rollout_id)

    def _promotion_target(self, run: Run, full: bool) -> int:
        plan: list[dict[str, Any]] = run.row["plan"]
        step: int = run.row["step"]
        if not full:
            return step + 1
        for i in range(step + 1, len(plan)):  # --full still stops at a pending approval
            if plan[i]["kind"] == "approval":
                return i
        return len(plan) - 1

    async def _approve(self, rollout_id: str, token: dict[str, Any]) -> dict[str, Any]:
        run = self._run(rollout_id)
        if token["id"] == run.row["author_token"]:
            raise Forbidden("the rollout's author cannot approve it; ask another token holder", code="self_approval")
        if not run.row["approvals_required"]:
            raise Conflict(f"{run.row['env']} needs no approvals", code="approval_not_required")
        async with run.lock:
            have = await self.records.approve(run.id, token["id"], token["name"], run.row["step"])
            self._publish(run, "approved", f"approved by {token['name']} ({have}/{run.row['approvals_required']})")
            if have >= run.row["approvals_required"]:
                if run.row["state"] == "awaiting_approval" and run.step["kind"] != "approval":
                    run.started = time.monotonic()
                    await self._set(run, {"state": "running", "reason": ""}, "started", "approvals complete")
                elif run.step["kind"] == "approval":
                    await self._advance(run, note="approvals complete")
        run.wake.set()
        return await self.status(rollout_id)

    async def _retry(self, rollout_id: str, actor: str) -> dict[str, Any]:
        row = await self.records.get(rollout_id)
        if row is None:
            raise NotFound(f"no rollout {rollout_id}", code="rollout_not_found")
        if row["state"] not in ("failed", "aborted"):
            raise Conflict(
                f"rollout is {row['state']}; only a failed or aborted one can be retried", code="rollout_not_retryable"
            )
        async with self._create_lock:
            self.ensure_idle(row["app"], row["env"])
            stable = await self._stable(row["app"], row["env"])
            if stable == row["version_id"]:
                raise Conflict("that version already serves the environment", code="already_deployed")
            state = await self._start_state(row)
            values = {"state": state, "step": 0, "step_elapsed": 0.0, "analysis": {}, "verdicts": [],
                      "reason": "", "stable_id": stable, "finished_at": None}  # fmt: skip
            await self.records.update(
                rollout_id, values, ("retried", 0, f"retried by {actor}", {}), (actor, "rollout.retry")
            )
            run = Run({**row, **values})
            self._publish(run, "retried", f"retried by {actor}")
            self._launch(run)
        return await self.status(rollout_id)

    async def _start_state(self, row: dict[str, Any]) -> str:
        """``awaiting_approval`` while approvals due before the start are missing, else ``running``."""
        required = row["approvals_required"] if row["approve_before"] == "start" else 0
        if required and await self.records.approval_count(row["id"]) < required:
            return "awaiting_approval"
        return "running"

    # -- the driver ----------------------------------------------------------------------------------------
    async def _drive(self, run: Run) -> None:
        try:
            version = await self.control.version(run.row["version_id"])
            run.config = AppConfig.model_validate(version["config"]).deploy_for(run.row["env"])
            longest = max((w[1] for w in run.config.analysis.burn_windows), default=0.0)
            self.history.keep = max(self.history.keep, longest)
            while run.row["state"] in ACTIVE_STATES and not self._closing:
                if run.row["state"] != "running":
                    if run.row["state"] == "queued" and self.active_for(run.row["app"], run.row["env"]) is None:
                        await self._dequeue(run)
                        continue
                    run.wake.clear()
                    await _nap(run.wake, 1.0)
                    continue
                kind = run.step["kind"]
                if kind == "traffic":
                    await self._traffic(run)
                elif kind == "checks":
                    await self._checks(run)
                elif kind == "promote":
                    async with run.lock:
                        if run.row["state"] == "running" and run.step["kind"] == "promote":
                            await self._finish(run, "succeeded", "the new version serves 100%")
                else:  # pause or approval
                    async with run.lock:
                        if run.row["state"] == "running" and run.step["kind"] in ("pause", "approval"):
                            await self._wait_at(run)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a controller bug must leave the rollout paused and explained, not vanish
            log.exception("rollout %s crashed", run.id[:8])
            async with run.lock:
                await self._set(run, {"state": "paused", "reason": f"controller error: {exc!r}"}, "error", repr(exc))
        finally:
            if run.row["state"] not in ACTIVE_STATES:
                self.runs.pop(run.id, None)
                self._kick_queue(run.row["app"], run.row["env"])

    def _kick_queue(self, app: str, env: str) -> None:
        for other in self.runs.values():
            if other.row["app"] == app and other.row["env"] == env and other.row["state"] == "queued":
                other.wake.set()
                return

    async def _dequeue(self, run: Run) -> None:
        async with self._create_lock:
            try:
                stable = await self._stable(run.row["app"], run.row["env"])
            except EdgeplaneError as exc:
                async with run.lock:
                    await self._finish(run, "failed", f"cannot start: {exc.message}")
                return
            state = await self._start_state(run.row)
            async with run.lock:
                run.started = time.monotonic()
                await self._set(run, {"state": state, "stable_id": stable}, "dequeued", f"started ({state})")

    async def _wait_at(self, run: Run) -> None:
        if run.step["kind"] == "approval":
            have = await self.records.approval_count(run.id)
            if have >= run.row["approvals_required"]:
                await self._advance(run, note="approvals complete")
                return
            reason = f"waiting for approvals ({have}/{run.row['approvals_required']}): edgeplane rollout approve"
            await self._set(run, {"state": "awaiting_approval", "reason": reason}, "awaiting_approval", reason)
        else:
            reason = "manual pause stage: run 'edgeplane rollout promote' to continue"
            await self._set(run, {"state": "paused", "reason": reason}, "paused", reason)

    async def _traffic(self, run: Run) -> None:
        step_index = run.row["step"]
        step = run.step
        async with run.lock:
            if run.row["state"] != "running" or run.row["step"] != step_index:
                return
            await self._route(run, step)
            limits = StageLimits(**step["limits"])
            run.analysis = StageAnalysis.from_state(run.config.analysis, limits, run.row["analysis"] or {})
            run.last = self._snapshots(run)
        elapsed = float(run.row["step_elapsed"])
        last_tick = last_save = last_probe = time.monotonic()
        while not self._closing:
            await _nap(run.wake, TICK)
            run.wake.clear()
            async with run.lock:
                if run.row["state"] != "running" or run.row["step"] != step_index:
                    return
                now = time.monotonic()
                elapsed += now - last_tick
                last_tick = now
                run.elapsed = elapsed
                self._feed(run, step)
                if now - last_probe >= PROBE_EVERY:
                    last_probe = now
                    await self._probe(run)
                final = elapsed >= step["duration"]
                findings = self._findings(run, step, final)
                verdict = combine(findings)
                run.findings = findings
                await self._record_changes(run, findings)
                if verdict == "fail":
                    acted = await self._on_fail(run, findings, elapsed)
                    if acted:
                        return
                if final:
                    await self._end_step(run, findings, verdict)
                    return
                if now - last_save >= SAVE_EVERY:
                    last_save = now
                    run.row["step_elapsed"] = elapsed
                    await self._save(run)

    def _snapshots(self, run: Run) -> dict[str, Snapshot]:
        stats = self.control.gateway.stats
        app, env = run.row["app"], run.row["env"]
        return {vid: stats.of(app, env, vid).snapshot() for vid in (run.row["version_id"], run.row["stable_id"]) if vid}

    def _feed(self, run: Run, step: dict[str, Any]) -> None:
        """Add the counters' growth since the last tick to the stage's analysis."""
        assert run.analysis is not None
        now = self._snapshots(run)
        deltas = {}
        for vid, (req, err, hist) in now.items():
            prev_req, prev_err, prev_hist = run.last.get(vid, (0, 0, [0] * len(hist)))
            deltas[vid] = (req - prev_req, err - prev_err, [a - b for a, b in zip(hist, prev_hist, strict=True)])
        run.last = now
        canary = deltas[run.row["version_id"]]
        baseline = deltas.get(run.row["stable_id"]) if step.get("compare") else None
        run.analysis.add(canary, baseline)

    async def _probe(self, run: Run) -> None:
        pool = self.control.runtime.pools.get((run.row["app"], run.row["env"], run.row["version_id"]))
        run.probes += 1
        error = await probe_health(pool)
        if error:
            run.health_failures += 1
            run.last_probe_error = error
        else:
            run.health_failures = 0

    def _findings(self, run: Run, step: dict[str, Any], final: bool) -> list[Finding]:
        assert run.analysis is not None
        config = run.config.analysis
        findings = run.analysis.findings(final)
        findings.append(health_finding(run.health_failures, config.health_failures, run.last_probe_error, run.probes))
        if config.slo_target is not None:
            findings.append(
                burn_finding(
                    self.history, run.row["app"], run.row["env"], config.slo_target, config.burn_windows, run.started
                )
            )
        return findings

    async def _record_changes(self, run: Run, findings: list[Finding]) -> None:
        """Append a verdict event whenever a judge's verdict changes (the history, with evidence)."""
        for f in findings:
            if run.shown.get(f.judge) != f.verdict:
                run.shown[f.judge] = f.verdict
                if f.verdict == "inconclusive" and f.judge not in ("errors", "latency", "thresholds"):
                    continue
                await self.records.add_event(
                    run.id, ("verdict", run.row["step"], f"{f.judge}: {f.verdict} ({f.reason})", f.to_dict())
                )
                self._publish(run, "verdict", f"{f.judge}: {f.verdict} ({f.reason})", f.to_dict())

    async def _on_fail(self, run: Run, findings: list[Finding], elapsed: float) -> bool:
        """Act on a failing verdict per the trust mode; True when the step is over."""
        failed = [f for f in findings if f.verdict == "fail"]
        reason = "; ".join(f"{f.judge}: {f.reason}" for f in failed)
        mode = run.row["mode"]
        if mode == "shadow":
            if not run.row.get("shadow_failed"):
                run.row["shadow_failed"] = True
                await self.records.add_event(run.id, ("shadow_fail", run.row["step"], f"would fail: {reason}",
                                                      {"findings": [f.to_dict() for f in failed]}))  # fmt: skip
                self._publish(run, "shadow_fail", f"would fail: {reason}")
            return False
        run.row["step_elapsed"] = elapsed
        if mode == "pause":
            await self._set(run, {"state": "paused", "reason": f"failed: {reason}", "verdicts": self._verdicts(run)},
                            "paused", f"failed, paused for a human: {reason}",
                            {"findings": [f.to_dict() for f in failed]})  # fmt: skip
            return True
        await self._finish(run, "failed", reason, rollback=True, findings=failed)
        return True

    async def _end_step(self, run: Run, findings: list[Finding], verdict: str) -> None:
        details = {"verdict": verdict, "findings": [f.to_dict() for f in findings]}
        if verdict == "pass" or run.row["mode"] == "shadow":
            note = f"step {run.row['step'] + 1} ({describe_step(run.step)}): {verdict}"
            kind = "step_passed" if verdict == "pass" else "step_ended"
            await self.records.add_event(run.id, (kind, run.row["step"], note, details))
            self._publish(run, kind, note, details)
            run.row["verdicts"] = details["findings"]  # shown until the next step has its own
            await self._advance(run, keep_verdicts=True)
            return
        why = "; ".join(f"{f.judge}: {f.reason}" for f in findings if f.verdict == "inconclusive")
        reason = f"inconclusive: {why}; 'edgeplane rollout resume' repeats the step, 'promote' moves on"
        await self._set(
            run, {"state": "paused", "reason": reason, "verdicts": self._verdicts(run)}, "paused", reason, details
        )

    async def _checks(self, run: Run) -> None:
        """Blue-green: the new version runs at 0% (reachable with the override header); check it, then move on."""
        step_index = run.row["step"]
        async with run.lock:
            if run.row["state"] != "running" or run.row["step"] != step_index:
                return
            await self._route(run, run.step)
        findings = await self._pre_switch(run, run.step)
        async with run.lock:
            if run.row["state"] != "running" or run.row["step"] != step_index:
                return
            run.findings = findings
            await self._record_changes(run, findings)
            if combine(findings) == "fail":
                if not await self._on_fail(run, findings, 0.0):
                    await self._advance(run)
            else:
                await self._advance(run)

    async def _pre_switch(self, run: Run, step: dict[str, Any]) -> list[Finding]:
        run.health_failures = 0
        await self._probe(run)
        findings = [health_finding(run.health_failures, 1, run.last_probe_error, run.probes)]
        table = self.control.gateway.routes.table
        target = table.targets.get((run.row["app"], run.row["env"]))
        routes = table.routes_of(target) if target else []
        return findings + await smoke_and_webhook(self.control.config.gateway_url(), routes, run.row, step)

    # -- applying ------------------------------------------------------------------------------------------
    async def _route(self, run: Run, step: dict[str, Any]) -> None:
        """Make the deployment match the step's weight (idempotent: nothing changes when it already does)."""
        weight = float(step.get("weight", 0))
        new, old = run.row["version_id"], run.row["stable_id"]
        if weight >= 100 and not step.get("keep_previous"):
            splits = [Split(new, 100.0)]
        else:
            splits = [Split(old, round(100 - weight, 2)), Split(new, weight)]
        if await self._serving(run.row["app"], run.row["env"]) == {(s.version, s.percentage) for s in splits}:
            return
        if run.row["strategy"] == "rolling":
            await self._replace_processes(run, step)
        kind = "promote" if splits == [Split(new, 100.0)] else "rollout"
        await self.control.deploy(
            run.row["app"], run.row["env"], splits, message=f"rollout {run.id[:8]}: {describe_step(step)}",
            actor=f"rollout:{run.id[:8]}", kind=kind, rollout=run.id,
        )  # fmt: skip

    async def _replace_processes(self, run: Run, step: dict[str, Any]) -> None:
        """Rolling: the new version runs ``processes`` workers and the old one the rest. With
        ``max_unavailable`` 0 the new batch is healthy before any old process leaves; old processes leave the
        rotation at once and stop after ``grace_period``."""
        app, env = run.row["app"], run.row["env"]
        spec = await self.control._spec(app, env, run.row["version_id"])
        total = spec.pool_size
        wanted = total if step["kind"] == "promote" else int(step.get("processes", total))
        rolling = run.config.rolling
        old = self.control.runtime.pools.get((app, env, run.row["stable_id"]))
        if old is not None and rolling.max_unavailable > 0:  # up to max_unavailable old ones go first
            have = old.status()["size"]
            early = min(rolling.max_unavailable, max(0, have - (total - wanted)))
            await old.scale(max(1, have - early), grace=rolling.grace_period)
        new = self.control.runtime.pools.get((app, env, run.row["version_id"]))
        if new is None:
            await self.control.runtime.ensure(dataclasses.replace(spec, pool_size=wanted))
        else:
            await new.scale(wanted)
        if old is not None and wanted < total:  # the rest leave once their replacements are healthy
            await old.scale(total - wanted, grace=rolling.grace_period)

    async def _advance(
        self, run: Run, *, to: int | None = None, actor: str | None = None, note: str = "", keep_verdicts: bool = False
    ) -> None:
        step = run.row["step"] + 1 if to is None else to
        step = min(step, len(run.row["plan"]) - 1)
        self._reset_step(run)
        if not keep_verdicts:
            run.row["verdicts"] = []
        label = describe_step(run.row["plan"][step])
        await self._set(
            run,
            {"step": step, "step_elapsed": 0.0, "analysis": {}, "state": "running", "reason": "",
             "verdicts": run.row["verdicts"]},
            "advanced", note or f"step {step + 1}: {label}", {"step": step}, actor=actor,
        )  # fmt: skip
        if run.row["plan"][step]["kind"] in ("traffic", "checks"):
            await self._route(run, run.row["plan"][step])

    def _reset_step(self, run: Run) -> None:
        run.analysis = None
        run.elapsed = None
        run.findings = []
        run.shown = {}
        run.health_failures = 0
        run.row["analysis"] = {}
        run.row.pop("shadow_failed", None)

    async def _finish(
        self, run: Run, state: str, reason: str, *, rollback: bool = False, findings: list[Finding] | None = None,
        actor: str | None = None,
    ) -> None:  # fmt: skip
        details: dict[str, Any] = {"findings": [f.to_dict() for f in findings or []]}
        on_stable = await self._serving(run.row["app"], run.row["env"]) == {(run.row["stable_id"], 100.0)}
        if rollback and run.row["stable_id"] and not on_stable:
            started = time.perf_counter()
            await self.control.deploy(
                run.row["app"], run.row["env"], [Split(run.row["stable_id"], 100.0)],
                message=f"rollout {run.id[:8]} {state}: {reason}"[:500], actor=actor or f"rollout:{run.id[:8]}",
                kind="rollback", rollout=run.id,
            )  # fmt: skip
            details["rollback_ms"] = round((time.perf_counter() - started) * 1000, 1)
            await self._refill_old_pool(run)  # traffic is back on it; now it gets all its workers
        elif state == "succeeded":
            await self._route(run, {"kind": "promote", "weight": 100})
            await self._refill_old_pool(run)  # kept warm for rollback, at full size
            window = run.config.blue_green.rollback_window if run.row["strategy"] == "blue-green" else 0
            if window and run.row["stable_id"]:
                self.control.pin_for((run.row["app"], run.row["env"], run.row["stable_id"]), window)
        finished = now()
        verdicts = self._verdicts(run) or run.row["verdicts"]
        values = {"state": state, "reason": reason, "verdicts": verdicts, "finished_at": finished}
        kind = {"failed": "rolled_back" if rollback else "failed"}.get(state, state)
        await self._set(run, values, kind, reason, details, actor=actor)
        run.row["finished_at"] = finished.isoformat()
        run.wake.set()

    async def _refill_old_pool(self, run: Run) -> None:
        """Rolling shrank the old version's pool batch by batch; grow it back (in the background)."""
        if run.row["strategy"] != "rolling" or not run.row["stable_id"]:
            return
        key = (run.row["app"], run.row["env"], run.row["stable_id"])
        if (old := self.control.runtime.pools.get(key)) is not None:
            self.control.spawn(old.scale((await self.control._spec(*key)).pool_size))

    def _verdicts(self, run: Run) -> list[dict[str, Any]]:
        return [f.to_dict() for f in run.findings]

    async def _set(
        self, run: Run, values: dict[str, Any], event: str, message: str = "", details: dict[str, Any] | None = None,
        *, actor: str | None = None,
    ) -> None:  # fmt: skip
        run.row.update(values)
        await self.records.update(
            run.id, values, (event, run.row["step"], message, details or {}),
            (actor, f"rollout.{event}") if actor else None,
        )  # fmt: skip
        self._publish(run, event, message, details)

    async def _save(self, run: Run) -> None:
        assert run.analysis is not None
        run.row["analysis"] = run.analysis.to_state()
        run.row["verdicts"] = self._verdicts(run)
        values = {k: run.row[k] for k in ("step_elapsed", "analysis", "verdicts")}
        await self.records.update(run.id, values)

    def _publish(self, run: Run, kind: str, message: str, details: dict[str, Any] | None = None) -> None:
        self.bus.publish({
            "rollout": run.id, "app": run.row["app"], "env": run.row["env"], "kind": kind,
            "step": run.row["step"], "state": run.row["state"], "message": message, "details": details or {},
            "at": time.time(),
        })  # fmt: skip

    # -- reading -------------------------------------------------------------------------------------------
    async def status(self, rollout_id: str) -> dict[str, Any]:
        run = self.runs.get(rollout_id)
        row = dict(run.row) if run is not None else await self.records.get(rollout_id)
        if row is None:
            raise NotFound(f"no rollout {rollout_id}", code="rollout_not_found")
        plan = row["plan"]
        step = plan[min(row["step"], len(plan) - 1)]
        elapsed = float(row["step_elapsed"])
        if run is not None and run.analysis is not None and row["state"] == "running":
            row["verdicts"] = self._verdicts(run) or row["verdicts"]
            elapsed = run.elapsed if run.elapsed is not None else elapsed
        new = await self.control.version(row["version_id"])
        stable = await self.control.version(row["stable_id"]) if row["stable_id"] else None
        current = await self.control.store.list_deployments(row["app"], row["env"], limit=1)
        weights = {s["version_id"]: s["percentage"] for s in current[0]["splits"]} if current else {}
        duration = float(step.get("duration", 0) or 0)
        return {
            "id": row["id"], "app": row["app"], "env": row["env"], "strategy": row["strategy"], "mode": row["mode"],
            "state": row["state"], "reason": row["reason"], "message": row["message"], "author": row["author"],
            "version": {"id": new["id"], "number": new["number"], "weight": weights.get(new["id"], 0.0)},
            "stable": None if stable is None else {"id": stable["id"], "number": stable["number"],
                                                   "weight": weights.get(stable["id"], 0.0)},
            "step": row["step"], "steps": [_step_view(s) for s in plan],
            "step_elapsed": round(elapsed, 1),
            "time_left": round(max(0.0, duration - elapsed), 1)
            if step["kind"] == "traffic" and row["state"] in ("running", "paused")
            else None,
            "verdicts": row["verdicts"],
            "approvals": {"required": row["approvals_required"], "before": row["approve_before"],
                          "approvers": await self.records.approvers(row["id"])},
            "created_at": row["created_at"], "finished_at": row.get("finished_at"),
        }  # fmt: skip


def _step_view(step: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": step["kind"],
        "label": describe_step(step),
        **{k: step[k] for k in ("weight", "duration") if k in step},
    }
