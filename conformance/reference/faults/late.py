"""Late faults: the wrong effect comes seconds after the request that caused it.

An immediate fault is caught by any check that looks once; these are caught only by a check
that keeps watching for as long as the thing could happen (its negative window). Each delay is
set on the reference's scheduler, so a test clock moved past it fires it at once and, without
a test clock, it fires in real time. `conformance selftest` runs them against a reference
driven without its test clock and with short configured windows (`selftest.LATE_OVERRIDES`):
each delay sits inside the window the suite is configured to watch.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from conformance.reference.faults.base import fault, patch
from conformance.reference.sessions import HOST_ENDED, Refused

if TYPE_CHECKING:
    from conformance.reference.app import Reference
    from conformance.reference.sessions import Peer

# Seconds after the cause; each is below the window the late selftest configures for it.
END_AFTER_REFUSAL = 3.0
END_AFTER_ONE_GOES = 1.0
RETRY_OF_4XX = 5.0
DUPLICATE_OF_2XX = 10.0

_keys = itertools.count()


def _end_later(ref: Reference, session_id: str, delay: float) -> None:
    async def end() -> None:
        ref.sessions.end_session(session_id, HOST_ENDED)

    ref.sessions.scheduler.call_later(f"late-fault:{next(_keys)}", delay, end)


@fault("late_end_after_refused_end", "PERM-01", "PERM-03")
def _late_end_after_refusal(ref: Reference) -> None:
    """A kickAll() or kick() refused for want of kick_participant is answered 1201, and the
    session ends anyway 3 s later (a queued end that the permission check did not cancel)."""

    def make(action: Callable[..., Any]) -> Callable[..., Any]:
        def refused_then_ended(caller: Peer, *args: Any, **kwargs: Any) -> Any:
            try:
                return action(caller, *args, **kwargs)
            except Refused as refusal:
                if refusal.code == 1201:
                    _end_later(ref, caller.session_id, END_AFTER_REFUSAL)
                raise

        return refused_then_ended

    patch(ref.sessions, "client_kick_all", make)
    patch(ref.sessions, "client_kick", make)


@fault("late_end_after_one_goes", "LEAVE-01", "LEAVE-03", "KICK-01")
def _late_end_after_one_goes(ref: Reference) -> None:
    """A leave or a kick removes just that participant, and 1 s later the whole session ends."""

    def make(remove: Callable[..., None]) -> Callable[..., None]:
        def removed_then_ended(peer: Peer, *args: Any, **kwargs: Any) -> None:
            remove(peer, *args, **kwargs)
            _end_later(ref, peer.session_id, END_AFTER_ONE_GOES)

        return removed_then_ended

    patch(ref.sessions, "leave", make)
    patch(ref.sessions, "kick", make)


def _settle_late(ref: Reference, again: Callable[[int], bool], delay: float) -> None:
    """After the first attempt answered with a status `again` picks, attempt once more `delay`
    seconds later (on the dispatcher's clock)."""
    d = ref.dispatcher

    def make(settle: Callable[[dict[str, Any], int | None], None]) -> Callable[[dict[str, Any], int | None], None]:
        def settle_late(row: dict[str, Any], status: int | None) -> None:
            settle(row, status)
            if status is not None and again(status) and row["attempts"] == 1:
                row["state"] = "pending"
                row["next_attempt_at"] = d.clock.now() + delay

        return settle_late

    patch(d, "settle", make)


@fault("late_retry_of_4xx", "WH-03")
def _late_retry_of_4xx(ref: Reference) -> None:
    """A delivery the receiver refused with a 4xx is tried once more 5 s later."""
    _settle_late(ref, lambda status: 400 <= status < 500, RETRY_OF_4XX)


@fault("late_duplicate_delivery", "WH-03")
def _late_duplicate(ref: Reference) -> None:
    """A delivery the receiver accepted with a 2xx is delivered a second time 10 s later."""
    _settle_late(ref, lambda status: 200 <= status < 300, DUPLICATE_OF_2XX)
