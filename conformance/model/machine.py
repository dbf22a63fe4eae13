"""The engine: a Hypothesis rule-based state machine that walks the model on the target.

A walk first tells the stored regression stories (replays/: the issue's interleavings, the
model faults' shrunk replays, and stories for checks no other fault reached), like
Hypothesis' explicit examples: a random walk of the default budget rarely hits one of them,
and a known story costs a fraction of a second. Each is judged on its own, so each can blame
its own requirement. Then, if none failed, it walks at random for what is left of the budget.

Hypothesis picks the steps (from what the model says is possible now), the target does them,
and each step is judged at once (drive.py). A breach fails the example; Hypothesis shrinks it,
and the shortest failing story seen is what the run reports and saves for `--replay`.

The state machine is synchronous and the suite's client, driver and receiver live on the
test's event loop, so the machine runs in a worker thread and hands every step to the loop.
Budgets: `default` keeps the phase within a few seconds against the reference; `nightly`
walks far more and longer stories (`--model-preset nightly`, in the run plan).
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, reject, settings
from hypothesis import strategies as st
from hypothesis.errors import Flaky, Unsatisfiable
from hypothesis.stateful import RuleBasedStateMachine, precondition, rule, run_state_machine_as_test

from conformance.evidence_log import current_check
from conformance.harness import Harness, Scenario
from conformance.model.drive import TargetRun
from conformance.model.rules import World
from conformance.model.story import Breach, Step, read_replay


@dataclass(frozen=True)
class Budget:
    examples: int
    steps: int
    seconds: float  # after this, no new example starts (shrinking included)


PRESETS = {
    "default": Budget(examples=6, steps=7, seconds=9.0),
    "nightly": Budget(examples=200, steps=20, seconds=600),
    "probe": Budget(examples=60, steps=10, seconds=60),
    # The selftest's fault runs: the stored stories only, no random walk. A fault's model check
    # must turn red from a story that always tells it (a proof that holds run after run), and a
    # walk that finds nothing would cost its whole budget in each of some twenty runs.
    "stored": Budget(examples=0, steps=0, seconds=9.0),
}
MAX_PEERS = 5
STORED = Path(__file__).resolve().parent / "replays"


class ModelBreach(AssertionError):
    def __init__(self, breach: Breach) -> None:
        super().__init__(breach.words())
        self.breach = breach


@dataclass
class Campaign:
    """What one run of the phase needs and finds."""

    harness: Harness
    loop: asyncio.AbstractEventLoop
    seed: int
    budget: Budget
    check: str | None
    channel: Any = None
    deadline: float = 0.0
    examples: int = 0
    failures: list[tuple[list[Step], Breach]] = field(default_factory=list)

    @property
    def clock_steps(self) -> tuple[float, ...]:
        """How far one step may move time: 25 s stays inside the keep-alive, 61 s outlasts it.

        Chosen so no sum of them lands exactly on a timer's boundary; the grace step only
        where classroom is claimed and its grace fits the clock.
        """
        time_config = self.harness.config.time
        steps: tuple[float, ...] = ()
        if time_config.control == "test-clock" or time_config.real_time_budget_seconds >= 61:
            steps = (25.0, 61.0)
        grace = time_config.host_grace_seconds + 3
        if "classroom" in self.harness.profiles and (
            time_config.control == "test-clock" or time_config.real_time_budget_seconds >= grace
        ):
            steps += (grace,)
        return steps

    def world(self) -> World:
        return World(
            classroom="classroom" in self.harness.profiles, host_grace=self.harness.config.time.host_grace_seconds
        )

    def on_loop(self, coro: Any) -> Any:
        limit = self.harness.config.limits.check_timeout_seconds
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(limit)

    def new_run(self) -> TargetRun:
        return TargetRun(Scenario(self.harness, f"model-{self.examples}"), self.channel)


class Walk:
    """One story on the target: the steps so far, the model's world, the target's state."""

    def __init__(self, campaign: Campaign) -> None:
        self.campaign = campaign
        self.steps: list[Step] = []
        self.world = campaign.world()
        self.run = campaign.new_run()

    def take(self, step: Step) -> None:
        self.steps.append(step)
        self.world, breach = self.campaign.on_loop(self.run.step(self.world, step, len(self.steps)))
        if breach is not None:
            self.campaign.failures.append((list(self.steps), breach))
            raise ModelBreach(breach)

    def close(self) -> None:
        self.campaign.on_loop(self.run.close())


def machine_for(campaign: Campaign) -> type[RuleBasedStateMachine]:
    class ModelMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            if time.monotonic() > campaign.deadline:
                reject()  # out of time: ends generation and shrinking alike
            campaign.examples += 1
            self.walk = Walk(campaign)
            self.walk.take(Step("create_meeting", meeting="m1"))

        @property
        def w(self) -> World:
            return self.walk.world

        def joined(self, role: str | None = None) -> list[str]:
            return [p.name for p in self.w.peers.values() if p.state == "joined" and role in (None, p.role)]

        def live_meetings(self) -> list[str]:
            return [
                m for m, meeting in self.w.meetings.items() if meeting.live and self.w.in_session(m, meeting.live.index)
            ]

        def join_step(self, data: st.DataObject) -> Step:
            meeting = data.draw(st.sampled_from(sorted(self.w.meetings)), label="meeting")
            role = data.draw(st.sampled_from(["host", "participant"]), label="role")
            return Step("join", meeting=meeting, peer=f"p{len(self.w.peers) + 1}", role=role)

        @precondition(lambda self: len(self.w.meetings) < 2)
        @rule()
        def create_meeting(self) -> None:
            self.walk.take(Step("create_meeting", meeting=f"m{len(self.w.meetings) + 1}"))

        @precondition(lambda self: len(self.w.peers) < MAX_PEERS)
        @rule(data=st.data())
        def join(self, data: st.DataObject) -> None:
            self.walk.take(self.join_step(data))

        @precondition(lambda self: self.joined())
        @rule(data=st.data())
        def leave(self, data: st.DataObject) -> None:
            self.walk.take(Step("leave", peer=data.draw(st.sampled_from(self.joined()))))

        @precondition(lambda self: self.joined("participant"))
        @rule(data=st.data())
        def kick(self, data: st.DataObject) -> None:
            # Only participants: whether kicking the host starts the classroom grace is unsourced.
            self.walk.take(Step("kick", peer=data.draw(st.sampled_from(self.joined("participant")))))

        @precondition(lambda self: self.joined("participant") and len(self.joined()) > 1)
        @rule(data=st.data())
        def client_kick_without_permission(self, data: st.DataObject) -> None:
            by = data.draw(st.sampled_from(self.joined("participant")))
            same = [p for p in self.joined() if p != by and self.w.peers[p].session == self.w.peers[by].session]
            same = [p for p in same if self.w.peers[p].meeting == self.w.peers[by].meeting]
            if same:
                self.walk.take(Step("client_kick", by=by, peer=data.draw(st.sampled_from(same))))

        @precondition(lambda self: self.live_meetings())
        @rule(data=st.data())
        def kick_all(self, data: st.DataObject) -> None:
            self.walk.take(Step("kick_all", meeting=data.draw(st.sampled_from(self.live_meetings()))))

        @precondition(lambda self: self.joined())
        @rule(data=st.data())
        def client_kick_all(self, data: st.DataObject) -> None:
            self.walk.take(Step("client_kick_all", by=data.draw(st.sampled_from(self.joined()))))

        @precondition(lambda self: any(m.live is None for m in self.w.meetings.values()))
        @rule(data=st.data())
        def patch_status(self, data: st.DataObject) -> None:
            idle = sorted(name for name, m in self.w.meetings.items() if m.live is None)
            meeting = data.draw(st.sampled_from(idle))
            now = self.w.meetings[meeting].status
            self.walk.take(Step("status", meeting=meeting, status="ACTIVE" if now == "INACTIVE" else "INACTIVE"))

        @precondition(lambda self: campaign.clock_steps)
        @rule(data=st.data())
        def pass_time(self, data: st.DataObject) -> None:
            self.walk.take(Step("advance", seconds=data.draw(st.sampled_from(campaign.clock_steps))))

        @precondition(lambda self: self.live_meetings())
        @rule(data=st.data())
        def at_once(self, data: st.DataObject) -> None:
            meeting = data.draw(st.sampled_from(self.live_meetings()))
            here = [p for p in self.joined() if self.w.peers[p].meeting == meeting]
            choices = [Step("kick_all", meeting=meeting)]
            choices += [Step("leave", peer=p) for p in here]
            choices += [Step("kick", peer=p) for p in here if self.w.peers[p].role == "participant"]
            choices += [Step("client_kick_all", by=p) for p in here]
            if len(self.w.peers) < MAX_PEERS:
                choices.append(Step("join", meeting=meeting, peer=f"p{len(self.w.peers) + 1}", role="participant"))
            parts = data.draw(st.lists(st.sampled_from(choices), min_size=2, max_size=3, unique=True))
            self.walk.take(Step("together", parts=tuple(parts)))

        def teardown(self) -> None:
            self.walk.close()

    return ModelMachine


@dataclass
class Finding:
    """A story the rules forbid: the steps told, and what broke after the last of them."""

    story: list[Step]
    breach: Breach
    found_by: str = ""  # the stored story that failed, or "" when the random walk (or a replay) did


@dataclass
class Result:
    seed: int
    examples: int
    findings: list[Finding] = field(default_factory=list)
    replayed: bool = False
    stored: list[str] = field(default_factory=list)  # the stored stories told before the walk


def pick_seed(harness: Harness) -> int:
    seed = harness.config.fuzz.seed
    return seed if seed is not None else secrets.randbelow(2**31)


def budget_named(name: str | None) -> Budget:
    return PRESETS[name or "default"]


def stored_stories(campaign: Campaign) -> list[tuple[str, list[Step]]]:
    """The regression stories this target can be told within the budget.

    With a test clock time passes at once; without one a story runs only when its waits fit
    the phase's seconds (the keep-alive and grace stories then wait for the nightly preset).
    A story that `needs` a profile (the grace stories: classroom) is told only where it is
    claimed; a fault's own replay `told_within` a longer story is told only where that is not.
    """
    time_config = campaign.harness.config.time
    fits: dict[str, tuple[dict, list[Step]]] = {}
    for path in sorted(STORED.glob("*.json")):
        setup = json.loads(path.read_text(encoding="utf-8")).get("setup") or {}
        steps = read_replay(path)
        waits = sum(s.seconds for s in steps if s.kind == "advance")
        claimed = all(profile in campaign.harness.profiles for profile in setup.get("needs", ()))
        if claimed and (
            time_config.control == "test-clock"
            or waits <= min(campaign.budget.seconds, time_config.real_time_budget_seconds)
        ):
            fits[path.stem] = (setup, steps)
    return [(name, steps) for name, (setup, steps) in fits.items() if setup.get("told_within") not in fits]


async def explore(harness: Harness, seed: int, budget: Budget) -> Result:
    """Every stored story, each judged on its own (a story stops at its first breach, the
    others still run: each stands for other requirements); when none failed, random ones
    within the budget, the shortest failing one shrunk."""
    campaign = await _campaign(harness, seed, budget)
    campaign.deadline = time.monotonic() + budget.seconds
    told, findings = [], []
    for name, steps in stored_stories(campaign):
        told.append(name)
        findings += [Finding(f.story, f.breach, name) for f in (await _tell(campaign, steps)).findings]
    if findings or budget.examples == 0:
        return Result(seed, 0, findings, stored=told)
    machine = machine_for(campaign)
    machine._hypothesis_internal_use_seed = seed  # type: ignore[attr-defined]  # reproducible walks
    config = settings(
        max_examples=budget.examples,
        stateful_step_count=budget.steps,
        deadline=None,
        database=None,
        derandomize=False,
        phases=[Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
        print_blob=False,
    )
    token = current_check.set(campaign.check)
    try:
        await asyncio.to_thread(run_state_machine_as_test, machine, settings=config)
    except (ModelBreach, Unsatisfiable):
        pass  # the stories are in campaign.failures
    except Flaky:
        # The walk draws from what the target showed (which serial order explained a batch),
        # and a deadline stops it mid-story: a replayed prefix may then draw differently, which
        # Hypothesis calls flaky. Every step told was judged; the shortest failing story so far
        # (or none: nothing broke) is the answer.
        pass
    finally:
        current_check.reset(token)
    result = Result(seed, campaign.examples, stored=told)
    if campaign.failures:
        result.findings.append(Finding(*min(campaign.failures, key=lambda f: (len(f[0]), f[1].step))))
    return result


async def replay(harness: Harness, steps: list[Step]) -> Result:
    """Run one saved story step by step on the target, judged like any walk."""
    return await _tell(await _campaign(harness, 0, PRESETS["default"]), steps)


async def _tell(campaign: Campaign, steps: list[Step]) -> Result:
    walk = await asyncio.to_thread(Walk, campaign)
    result = Result(0, 1, replayed=True)
    try:
        for step in steps:
            await asyncio.to_thread(walk.take, step)
    except ModelBreach as found:
        result.findings.append(Finding(walk.steps, found.breach))
    finally:
        await walk.run.close()
    return result


async def _campaign(harness: Harness, seed: int, budget: Budget) -> Campaign:
    campaign = Campaign(harness, asyncio.get_running_loop(), seed, budget, current_check.get())
    if "webhooks" in harness.profiles and harness.receiver is not None:
        # One subscription for the whole phase: meeting.ended is what the rules predict.
        scenario = Scenario(harness, "model-webhook")
        _, campaign.channel = await scenario.webhook(["meeting.ended"])
        harness.model_webhook_scenario = scenario  # type: ignore[attr-defined]  # cleaned up by the check
    return campaign
