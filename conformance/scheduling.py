"""How `conformance run` spreads checks over its xdist workers: the fuzz campaign first.

The fuzz phase is one long campaign that its three checks share. Under xdist's default
`load` scheduling the checks reach workers only after the scenarios ahead of them in
collection order, and a second worker can sit blocked waiting for the campaign its sibling
is running. Here the three fuzz checks form one work unit, handed out before anything else
(units go out largest first), so one worker runs the campaign from the start while the
other works through the scenarios and contracts; every other check is a unit of its own.
"""

from __future__ import annotations

from xdist.scheduler import LoadScopeScheduling

FUZZ_PACKAGE = "conformance/fuzz/"


class CampaignFirstScheduling(LoadScopeScheduling):
    def _split_scope(self, nodeid: str) -> str:
        return "fuzz campaign" if nodeid.startswith(FUZZ_PACKAGE) else nodeid
