"""Carry model steps out on a target and judge what it shows against the model.

Everything goes through the suite's own pieces: the Scenario (tagged meetings, cleanup), the
participant driver, the webhook receiver and `pass_time` (the test clock, or real time where
the budget allows). Each operation's answer is reduced to a short token ("200:3", "1201",
"session:0", "refused") that the model's branches are compared with.

A `together` step sends its operations at once. The outcome is accepted when some serial
order of them, and some branch of each, explains every answer and everything seen afterwards
(linearizability over the small batch); otherwise the breach names the observed history.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from dataclasses import dataclass
from typing import Any

from conformance.drivers.base import ClientError, Participant
from conformance.errors import ImplementationFailed
from conformance.harness import Scenario, Seat
from conformance.model.rules import GONE, Branch, World, apply
from conformance.model.story import Breach, Step
from conformance.webhook_receiver import Channel


@dataclass
class Candidate:
    """One serial order of a batch: the world it leads to, its answers and requirements."""

    world: World
    answers: list[str | None]
    requirements: tuple[str, ...]
    bindings: dict[tuple[str, int], str]


def _blamed(world: World, meeting: str, otherwise: tuple[str, ...]) -> tuple[str, ...]:
    """The requirements a breach in `meeting` breaks: after time passed, that meeting's own."""
    return world.blame.get(meeting, otherwise)


class TargetRun:
    """One example of the state machine on the target: its meetings, peers and sessions."""

    def __init__(self, scenario: Scenario, channel: Channel | None) -> None:
        self.scenario = scenario
        self.channel = channel
        self.meetings: dict[str, str] = {}  # model name → target meeting id
        self.seats: dict[str, Seat] = {}
        self.peer_meeting: dict[str, str] = {}  # model peer → target meeting id
        self.clients: dict[str, Participant] = {}
        self.sessions: dict[tuple[str, int], str] = {}  # (meeting, index) → target session id
        self.timeout = scenario.timeout

    # -- doing -----------------------------------------------------------------------------

    async def do(self, step: Step) -> str:
        api = self.scenario.api
        if step.kind == "create_meeting":
            meeting = await self.scenario.meeting()
            self.meetings[step.meeting] = meeting["id"]
            return "created"
        if step.kind == "join":
            return await self._join(step)
        if step.kind == "leave":
            return await self._client(lambda: self.clients[step.peer].leave(), "ok")
        if step.kind == "kick":
            seat = self.seats[step.peer]
            return str((await api.kick(self.peer_meeting[step.peer], participant_ids=[seat.id])).status)
        if step.kind == "client_kick":
            target = self.clients[step.peer].peer_id or ""
            return await self._client(lambda: self.clients[step.by].kick(target), "ok")
        if step.kind == "kick_all":
            response = await api.kick_all(self.meetings[step.meeting])
            data = response.data if response.status == 200 and isinstance(response.data, dict) else {}
            return f"200:{data.get('kicked_participants_count')}" if response.status == 200 else str(response.status)
        if step.kind == "client_kick_all":
            return await self._client(lambda: self.clients[step.by].kick_all(), "ok")
        if step.kind == "status":
            return str((await api.update_meeting(self.meetings[step.meeting], status=step.status)).status)
        if step.kind == "advance":
            await self.scenario.pass_time(step.seconds, "the model's clock step")
            return "ok"
        raise ValueError(f"unknown step {step.kind}")

    async def _join(self, step: Step) -> str:
        meeting_id = self.meetings[step.meeting]
        response, custom_id = await self.scenario.add_participant(meeting_id, step.role)
        if response.status not in (200, 201):
            return "refused"  # MEET-02 allows refusing the add already
        seat = self.scenario.seat_from(response, custom_id, step.role)
        self.peer_meeting[step.peer] = meeting_id
        self.seats[step.peer] = seat
        client = await self.scenario.client(step.role)
        self.clients[step.peer] = client
        try:
            await client.join(seat.token)
        except ClientError:
            return "refused"
        return f"joined:{client.session_id}"

    @staticmethod
    async def _client(call: Any, ok: str) -> str:
        try:
            await call()
        except ClientError as refused:
            return str(refused.code)
        except ImplementationFailed as failed:  # e.g. no answer from a closed connection
            return f"error: {failed}"[:120]
        return ok

    # -- judging ---------------------------------------------------------------------------

    async def step(self, world: World, step: Step, number: int) -> tuple[World, Breach | None]:
        """Do `step`, then compare; the world to go on from, or the breach."""
        parts = list(step.parts) if step.kind == "together" else [step]
        if len(parts) == 1:
            answers = [await self.do(parts[0])]
        else:
            answers = list(await asyncio.gather(*(self.do(p) for p in parts)))
        candidates = self._explanations(world, parts, answers)
        if not candidates:
            wanted = " or ".join(
                "/".join(str(a) for a in c.answers) for c in self._explanations(world, parts, None)[:4]
            )
            # A wrong answer breaks the requirement that names the answer: each rule's first ID.
            ids = tuple(dict.fromkeys(apply(world, p)[0].requirements[0] for p in parts))
            return world, Breach(number, ids, f"answered {'/'.join(answers)}; the rules allow {wanted}")
        after, breach = await self._observe(candidates, number)
        if breach is None and step.kind == "advance":
            breach = await self._stays(after, number)
        return after, breach

    async def _stays(self, world: World, number: int) -> Breach | None:
        """After time passed, whoever the rules keep in a session whose cancelled timer (a
        rejoin inside the keep-alive, a host's return) would have come due by now is watched
        over the event timeout: a timer that was not really cancelled may end it just late."""
        watched = [
            name
            for name, peer in world.peers.items()
            if peer.state == "joined"
            and name in self.clients
            and world.meetings[peer.meeting].sessions[peer.session or 0].ghost_due
        ]

        async def watch(name: str) -> None:
            with contextlib.suppress(ImplementationFailed):  # no roomLeft within it: as the rules say
                await self.clients[name].wait_for("roomLeft", timeout=self.timeout)

        await asyncio.gather(*(watch(name) for name in watched))
        for name in watched:
            state = self._state(name)
            if state != "joined":
                return Breach(
                    number,
                    _blamed(world, world.peers[name].meeting, ()),
                    f"{name} got roomLeft {state!r} after the time passed, the rules say it stays",
                )
        return None

    def _explanations(self, world: World, parts: list[Step], answers: list[str] | None) -> list[Candidate]:
        """Every serial order (and branch) of `parts` that explains `answers` (None: all)."""
        found = []
        for order in itertools.permutations(range(len(parts))):
            states = [Candidate(world, [None] * len(parts), (), dict(self.sessions))]
            for i in order:
                grown = []
                for c in states:
                    for branch in apply(c.world, parts[i]):
                        bindings = dict(c.bindings)
                        if answers is not None and not self._matches(branch, parts[i], answers[i], bindings):
                            continue
                        got = list(c.answers)
                        got[i] = branch.answer
                        grown.append(Candidate(branch.world, got, c.requirements + branch.requirements, bindings))
                states = grown
            found += states
        for c in found:
            c.requirements = tuple(dict.fromkeys(c.requirements))
        return found

    @staticmethod
    def _matches(branch: Branch, step: Step, answer: str, bindings: dict[tuple[str, int], str]) -> bool:
        if branch.answer is None:
            return True
        if branch.answer.startswith("session:") and answer.startswith("joined:"):
            key = (step.meeting, int(branch.answer.split(":")[1]))
            session_id = answer.split(":", 1)[1]
            if bindings.get(key, session_id) != session_id or (key not in bindings and session_id in bindings.values()):
                return False  # MEET-01: a new session has a new id; LEAVE-04: the same one
            bindings[key] = session_id
            return True
        return branch.answer == answer

    async def _observe(self, candidates: list[Candidate], number: int) -> tuple[World, Breach | None]:
        # Peers every explanation has gone: their roomLeft must come (with a deadline).
        # Peers only some have gone: wait too, then let what arrived decide.
        # All at once: a peer that stays is waited for the whole timeout, and one wait covers all.
        names = set().union(*(c.world.peers for c in candidates))

        async def gone(client: Participant) -> None:
            with contextlib.suppress(ImplementationFailed):
                await client.wait_for("roomLeft", timeout=self.timeout)

        await asyncio.gather(
            *(
                gone(self.clients[name])
                for name in sorted(names)
                if name in self.clients
                and any(c.world.peers[name].state in GONE for c in candidates if name in c.world.peers)
            )
        )
        # A target may answer an operation (or a clock advance) before the effects it causes
        # show in REST reads (a timer fires just after the advance's answer): no explanation
        # fits yet is judged again until the event deadline, never at once.
        deadline = time.monotonic() + self.timeout
        while True:
            seen = {name: self._state(name) for name in names if name in self.clients}
            first_breach: Breach | None = None
            for c in candidates:
                breach = self._compare_peers(c, seen, number) or await self._compare_sessions(c, number)
                if breach is None:
                    self.sessions = c.bindings
                    return c.world, None
                first_breach = first_breach or breach
            if time.monotonic() >= deadline:
                return candidates[0].world, first_breach
            await asyncio.sleep(min(0.1, max(0.0, deadline - time.monotonic())))

    def _state(self, name: str) -> str:
        client = self.clients[name]
        left = client.received("roomLeft")
        return str(left[0].get("state")) if left else "joined"

    @staticmethod
    def _compare_peers(c: Candidate, seen: dict[str, str], number: int) -> Breach | None:
        for name, state in sorted(seen.items()):
            wanted = c.world.peers[name].state
            if wanted == "refused":
                continue
            if state != wanted:
                ids = _blamed(c.world, c.world.peers[name].meeting, c.requirements)
                return Breach(number, ids, f"{name} is {state!r}, the rules say {wanted!r}")
        return None

    async def _compare_sessions(self, c: Candidate, number: int) -> Breach | None:
        for name, meeting in c.world.meetings.items():
            live = meeting.live
            if not meeting.sessions:
                continue
            response = await self.scenario.api.get_active_session(self.meetings[name])
            if live is None and response.status != 404:
                # END-03: after an end the meeting has no live session.
                return Breach(
                    number,
                    _blamed(c.world, name, c.requirements),
                    f"{name}: GET active-session answered {response.status}, the rules say 404",
                )
            if live is not None and c.world.in_session(name, live.index):
                data = response.data if isinstance(response.data, dict) else {}
                wanted = c.bindings.get((name, live.index))
                if response.status != 200 or data.get("id") != wanted:
                    return Breach(
                        number,
                        _blamed(c.world, name, c.requirements),
                        f"{name}: GET active-session answered {response.status} {data.get('id')!r}, "
                        f"the rules say 200 with the live session {wanted!r}",
                    )
        return await self._compare_webhooks(c, number)

    async def _compare_webhooks(self, c: Candidate, number: int) -> Breach | None:
        if self.channel is None:
            return None
        for name, meeting in c.world.meetings.items():
            for session in meeting.sessions:
                session_id = c.bindings.get((name, session.index))
                if session_id is None:
                    continue

                def ended(d: Any, sid: str = session_id) -> bool:
                    body = d.json if isinstance(d.json, dict) else {}
                    return body.get("event") == "meeting.ended" and (body.get("meeting") or {}).get("sessionId") == sid

                if session.status == "ENDED":
                    with contextlib.suppress(ImplementationFailed):
                        await self.channel.wait_for(ended, self.timeout)
                got = [d.json.get("reason") for d in self.channel.deliveries if ended(d)]
                wanted = sorted(session.reasons) if session.status == "ENDED" else []
                if len(got) != len(wanted and [1]) or (got and got[0] not in wanted):
                    return Breach(
                        number,
                        _blamed(c.world, name, c.requirements),
                        f"{name} session {session.index}: meeting.ended deliveries {got}, the rules say "
                        + (f"one with reason {' or '.join(wanted)}" if wanted else "none (it is still live)"),
                    )
        return None

    async def close(self) -> None:
        await self.scenario.cleanup()
