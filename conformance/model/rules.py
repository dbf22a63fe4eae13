"""The executable model: what the catalogue says each step must do, in pure Python.

It reads like the catalogue, not like any implementation. A `World` holds meetings
(ACTIVE/INACTIVE), their sessions (LIVE/ENDED; a new session after an end), the peers that
joined (live, or gone as left/kicked/ended) and the two timers the rules know: the keep-alive
window after the last peer goes (LEAVE-04) and, where `classroom` is claimed, the host grace
(CLASS-01…03). `apply(world, step)` answers every way the step may go: a list of `Branch`es,
each with the answer the operation must give (None: the catalogue does not say) and the world
afterwards. More than one branch where RealtimeKit allows more than one answer.

Every rule names its requirement IDs; only MUSTs are asserted (a SHOULD is never a gate, and
the model warns about nothing it cannot source).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from conformance.model.story import Step

# RealtimeKit's default `session_keep_alive_time_in_secs` (Cloudflare's meeting schema).
KEEP_ALIVE_SECONDS = 60.0
HOST_ENDED = "HOST_ENDED_MEETING"
ALL_LEFT = "ALL_PARTICIPANTS_LEFT"
GONE = ("left", "kicked", "ended")


@dataclass
class Peer:
    name: str
    meeting: str
    role: str  # "host": its preset grants kick_participant; "participant": it does not
    session: int | None = None  # index into the meeting's sessions; None: never got in
    state: str = "joined"  # joined, left, kicked, ended, refused


@dataclass
class Session:
    index: int
    status: str = "LIVE"
    reasons: frozenset[str] = frozenset()  # the meeting.ended reasons the rules allow, once ended
    keep_alive_left: float | None = None  # seconds until the empty session ends (LEAVE-04)
    grace_left: float | None = None  # seconds until the hostless session ends (CLASS-01)
    grace_cancelled: bool = False  # a returning host stopped the grace, none runs now (CLASS-02)
    # Seconds until the timers a join cancelled would have fired: where a stray late end shows.
    ghosts: list[float] = field(default_factory=list)
    ghost_due: bool = False  # a cancelled timer came due in the last time step
    # A host left while classroom is unclaimed: whether passing time ends the session is then
    # the implementation's own grace rule, which the suite does not judge (LEAVE-03 stops there).
    unjudged_grace: bool = False


@dataclass
class Meeting:
    name: str
    status: str = "ACTIVE"
    sessions: list[Session] = field(default_factory=list)

    @property
    def live(self) -> Session | None:
        return next((s for s in self.sessions if s.status == "LIVE"), None)


@dataclass
class World:
    classroom: bool = False  # the host grace rules apply only where the profile is claimed
    host_grace: float = 900.0
    keep_alive: float = KEEP_ALIVE_SECONDS
    meetings: dict[str, Meeting] = field(default_factory=dict)
    peers: dict[str, Peer] = field(default_factory=dict)
    # After time passes, the requirements each meeting's outcome stands for (one step judges
    # several meetings' timers; a breach in one blames that meeting's rules, not all of them).
    blame: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def in_session(self, meeting: str, index: int) -> list[Peer]:
        return [p for p in self.peers.values() if p.meeting == meeting and p.session == index and p.state == "joined"]

    def joined(self, name: str) -> bool:
        peer = self.peers.get(name)
        return peer is not None and peer.state == "joined"


@dataclass
class Branch:
    """One way a step may go: the answer the operation must give, and the world after it."""

    answer: str | None  # None: any answer is allowed
    world: World
    requirements: tuple[str, ...]


# -- the rules -----------------------------------------------------------------------------


def apply(world: World, step: Step) -> list[Branch]:
    rule = RULES[step.kind]
    world = copy.deepcopy(world)
    world.blame = {}
    return rule(world, step)


def _create_meeting(w: World, step: Step) -> list[Branch]:
    w.meetings[step.meeting] = Meeting(step.meeting)
    return [Branch("created", w, ("MEET-01",))]


def _join(w: World, step: Step) -> list[Branch]:
    meeting = w.meetings[step.meeting]
    peer = Peer(step.peer, step.meeting, step.role)
    w.peers[step.peer] = peer
    if meeting.status != "ACTIVE":
        # MEET-02: after PATCH INACTIVE joins are refused (the add itself may be refused).
        peer.state = "refused"
        return [Branch("refused", w, ("MEET-02",))]
    live = meeting.live
    if live is None:
        # MEET-01: an end does not disable the meeting; a join afterwards starts a new session.
        live = Session(len(meeting.sessions))
        meeting.sessions.append(live)
        peer.session = live.index
        return [Branch(f"session:{live.index}", w, ("MEET-01",))]
    # LEAVE-04: a join inside the keep-alive window continues the session.
    # CLASS-02: a host who returns within the grace period cancels the timer.
    ids = ("LEAVE-04",) if live.keep_alive_left is not None else ()
    if live.keep_alive_left is not None:
        live.ghosts.append(live.keep_alive_left)
    if step.role == "host" and live.grace_left is not None:
        ids += ("CLASS-02",)
        live.ghosts.append(live.grace_left)
        live.grace_left, live.grace_cancelled = None, True
    live.keep_alive_left = None
    peer.session = live.index
    # Outside those two rules no requirement names the session a plain join lands in.
    return [Branch(f"session:{live.index}" if ids else None, w, ids or ("LEAVE-01",))]


def _goes(w: World, peer: Peer, state: str) -> tuple[str, ...]:
    """One peer goes (left or kicked): the timers the catalogue ties to that start, and the
    requirement that then says what happens next (LEAVE-04 when the session is left empty)."""
    meeting = w.meetings[peer.meeting]
    session = meeting.sessions[peer.session or 0]
    peer.state = state
    remaining = w.in_session(peer.meeting, session.index)
    if not remaining:
        session.keep_alive_left = w.keep_alive  # LEAVE-04
    hosts_left = any(p.role == "host" for p in remaining)
    if peer.role == "host" and not hosts_left:
        if not w.classroom:
            session.unjudged_grace = True
        elif session.grace_left is None:
            session.grace_left, session.grace_cancelled = w.host_grace, False  # CLASS-01
    return () if remaining else ("LEAVE-04",)


def _end(w: World, meeting: Meeting, session: Session, reasons: frozenset[str]) -> int:
    """END-02/03/08: everyone in gets roomLeft `ended`, the session ENDED, one meeting.ended."""
    removed = w.in_session(meeting.name, session.index)
    for peer in removed:
        peer.state = "ended"
    session.status = "ENDED"
    session.reasons = reasons
    session.keep_alive_left = session.grace_left = None
    return len(removed)


def _leave(w: World, step: Step) -> list[Branch]:
    if not w.joined(step.peer):
        return [Branch(None, w, ("LEAVE-01",))]
    peer = w.peers[step.peer]
    emptied = _goes(w, peer, "left")
    # LEAVE-01: roomLeft `left`, the others stay; LEAVE-03: a host leaving ends nothing by itself.
    ids = ("LEAVE-01", "LEAVE-03") if peer.role == "host" else ("LEAVE-01",)
    return [Branch("ok", w, ids + emptied)]


def _kick(w: World, step: Step) -> list[Branch]:
    if not w.joined(step.peer):
        return [Branch(None, w, ("KICK-01",))]
    emptied = _goes(w, w.peers[step.peer], "kicked")
    return [Branch("200", w, ("KICK-01", *emptied))]  # KICK-01: roomLeft `kicked`, the others unaffected


def _client_kick(w: World, step: Step) -> list[Branch]:
    by, target = w.peers.get(step.by), w.peers.get(step.peer)
    if by is None or not w.joined(step.by) or target is None or not w.joined(step.peer) or by.role == "host":
        return [Branch(None, w, ("PERM-03",))]
    return [Branch("1201", w, ("PERM-03",))]  # PERM-03: refused with 1201, nothing changes


def _kick_all(w: World, step: Step) -> list[Branch]:
    meeting = w.meetings[step.meeting]
    live = meeting.live
    if live is None:
        return [Branch(None, w, ("END-06",))]  # only a SHOULD says what this answers
    if not w.in_session(meeting.name, live.index):
        # Inside the keep-alive window: Cloudflare does not say whether an empty LIVE session
        # is ended by kick-all (200, none removed) or counts as no live session (404).
        ended = copy.deepcopy(w)
        ended_meeting = ended.meetings[meeting.name]
        _end(ended, ended_meeting, ended_meeting.sessions[live.index], frozenset({HOST_ENDED}))
        return [Branch("200:0", ended, ("END-01",)), Branch("404", w, ("END-06",))]
    count = _end(w, meeting, live, frozenset({HOST_ENDED}))
    return [Branch(f"200:{count}", w, ("END-01", "END-02", "END-03", "END-08"))]


def _client_kick_all(w: World, step: Step) -> list[Branch]:
    if not w.joined(step.by):
        return [Branch(None, w, ("END-05",)), *_late_kick_all(w, step.by)]
    by = w.peers[step.by]
    if by.role != "host":
        return [Branch("1201", w, ("PERM-01",))]  # PERM-01: nobody removed, no meeting.ended
    meeting = w.meetings[by.meeting]
    _end(w, meeting, meeting.sessions[by.session or 0], frozenset({HOST_ENDED}))
    return [Branch("ok", w, ("END-05", "END-08"))]  # END-05: the same effects as END-02/03


def _late_kick_all(w: World, name: str) -> list[Branch]:
    """A host's kickAll() sent at the same moment as its own leave (or kick): no source says
    whether it still ends the session it was in, so both ways are allowed."""
    by = w.peers.get(name)
    if by is None or by.role != "host" or by.session is None:
        return []
    if w.meetings[by.meeting].sessions[by.session].status != "LIVE":
        return []
    ended = copy.deepcopy(w)
    meeting = ended.meetings[by.meeting]
    _end(ended, meeting, meeting.sessions[by.session], frozenset({HOST_ENDED}))
    return [Branch(None, ended, ("END-05", "END-08"))]


def _status(w: World, step: Step) -> list[Branch]:
    # Generated only while the meeting has no LIVE session: what INACTIVE does to a live
    # session is the reference's choice, not a requirement.
    w.meetings[step.meeting].status = step.status
    return [Branch("200", w, ("MEET-02",))]


def _advance(w: World, step: Step) -> list[Branch]:
    unjudged: list[str] = []
    for meeting in w.meetings.values():
        live = meeting.live
        if live is None:
            continue
        live.ghost_due = any(g <= step.seconds for g in live.ghosts)
        live.ghosts = [g - step.seconds for g in live.ghosts if g > step.seconds]
        ids: list[str] = []
        reasons: set[str] = set()
        if live.keep_alive_left is not None:
            ids.append("LEAVE-04")
            live.keep_alive_left -= step.seconds
            if live.keep_alive_left <= 0:
                reasons.add(ALL_LEFT)
        if live.grace_left is not None:
            ids += ["CLASS-01", "CLASS-03"]
            live.grace_left -= step.seconds
            if live.grace_left <= 0:
                reasons.add(HOST_ENDED)  # CLASS-01: the session ends for everyone
        elif live.grace_cancelled:
            ids.append("CLASS-02")  # the returned host's session goes on past the old grace
        # With no timer running, passing time ends nothing (LEAVE-01/LEAVE-03: the session goes on).
        w.blame[meeting.name] = tuple(ids) or ("LEAVE-01", "LEAVE-03")
        if reasons:
            _end(w, meeting, live, frozenset(reasons))
        elif live.unjudged_grace:
            unjudged.append(meeting.name)
    ids = tuple(dict.fromkeys(r for rs in w.blame.values() for r in rs)) or ("LEAVE-01", "LEAVE-03")
    worlds = [w]
    for name in unjudged:
        # Classroom unclaimed: the session may end now (by a host grace the suite does not judge) or not.
        for world in list(worlds):
            ended = copy.deepcopy(world)
            meeting = ended.meetings[name]
            if meeting.live is not None:
                _end(ended, meeting, meeting.live, frozenset({HOST_ENDED, ALL_LEFT}))
                worlds.append(ended)
    return [Branch("ok", world, ids) for world in worlds]


RULES = {
    "create_meeting": _create_meeting,
    "join": _join,
    "leave": _leave,
    "kick": _kick,
    "client_kick": _client_kick,
    "kick_all": _kick_all,
    "client_kick_all": _client_kick_all,
    "status": _status,
    "advance": _advance,
}
