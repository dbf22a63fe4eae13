"""How `conformance run` spreads checks over its xdist workers: each shared walk on one worker.

The fuzz phase is one long campaign its three checks share, and the model phase one walk its
checks share (each test process walks once, in whichever model check comes first). Under
xdist's default `load` scheduling those checks reach workers only after the scenarios ahead of
them in collection order, spread over every worker: each worker then runs its own walk (twice
the CPU, its messages printed twice), or sits blocked waiting for the campaign its sibling is
running. Here the fuzz checks form one work unit and the model checks another, handed out
before anything else (units go out largest first), so one worker runs each from the start
while the others work through the scenarios and contracts; every other check is a unit of
its own.
"""

from __future__ import annotations

from xdist.scheduler import LoadScopeScheduling

from conformance.plugin.selection import FUZZ_PACKAGE

MODEL_PACKAGE = "conformance/model/"


class CampaignFirstScheduling(LoadScopeScheduling):
    def _split_scope(self, nodeid: str) -> str:
        if nodeid.startswith(FUZZ_PACKAGE):
            return "fuzz campaign"
        if nodeid.startswith(MODEL_PACKAGE):
            return "model walk"
        return nodeid
