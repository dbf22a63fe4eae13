"""Participant drivers: how the suite joins people to a meeting and acts as them.

`base.py` is the interface every scenario uses. `websocket.py` speaks the reference realtime
protocol (openapi/realtime-protocol.md); `bridge.py` talks JSON lines to a subprocess, so a
vendor can drive its own client SDK in any language.
"""

from conformance.drivers.base import ClientError, Participant, ParticipantDriver

__all__ = ["ClientError", "Participant", "ParticipantDriver"]
