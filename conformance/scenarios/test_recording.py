"""An end stops the recording.

RealtimeKit, "End a session": kickAll() "stops any ongoing recording for that session".
"""

from __future__ import annotations

import pytest

from conformance import must

pytestmark = pytest.mark.asyncio(loop_scope="session")
requirement = pytest.mark.rtkc_requirement


@requirement("END-04")
async def test_an_end_stops_the_ongoing_recording(scenario):
    await _end_a_recording_session(scenario)


async def _end_a_recording_session(scenario) -> str:
    """Start a recording, end the session, and see the recording stopped; its id."""
    meeting = await scenario.meeting()
    await scenario.join_many(meeting["id"], "host", "participant")
    started = await scenario.api.start_recording(meeting["id"])
    recording = must.success_data(must.status(started, (200, 201), "start a recording"), "start recording")
    recording_id = recording["id"]

    async def running() -> dict | None:
        data = must.success_data(
            must.status(await scenario.api.get_recording(recording_id), 200, "read the recording"), "get recording"
        )
        return data if data.get("status") == "RECORDING" else None

    await must.eventually(running, scenario.timeout, "the recording reaching RECORDING")
    must.status(await scenario.api.kick_all(meeting["id"]), 200, "end the live session")

    async def stopped() -> dict | None:
        data = must.success_data(
            must.status(await scenario.api.get_recording(recording_id), 200, "read the recording"), "get recording"
        )
        return data if data.get("status") not in ("RECORDING", "INVOKED", "PAUSED") else None

    data = await must.eventually(stopped, scenario.timeout, "the recording leaving RECORDING after the end")
    must.that(
        bool(data.get("stopped_time")), f"a stopped recording must have stopped_time, got {data.get('stopped_time')!r}"
    )
    must.status(await scenario.api.get_active_recording(meeting["id"]), 404, "no active recording after the end")
    return recording_id


@requirement("END-04", "WH-01")
async def test_an_end_delivers_the_recordings_status_update(scenario):
    """END-04's webhook half, run only where webhooks (and recording) are claimed."""
    _, channel = await scenario.webhook(["recording.statusUpdate"])
    recording_id = await _end_a_recording_session(scenario)
    await channel.wait_for(
        lambda d: (
            d.event == "recording.statusUpdate"
            and ((d.json or {}).get("recording") or {}).get("id") == recording_id
            and ((d.json or {}).get("recording") or {}).get("status") not in ("RECORDING", "INVOKED", "PAUSED")
        ),
        scenario.timeout,
        what="recording.statusUpdate leaving RECORDING",
    )
