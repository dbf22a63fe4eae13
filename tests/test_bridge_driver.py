"""The bridge driver (conformance/drivers/bridge.py, docs/bridge-protocol.md).

Two halves:
- through the example bridge against the reference implementation: the full path a vendor's
  bridge takes (suite → JSON lines → bridge → realtime protocol → server and back);
- against tiny fake bridges (inline Python scripts): garbage on stdout, a bridge that exits,
  one that never answers, one that answers out of order, a command that does not exist.

Every test also checks that the participant token never shows up in what the driver keeps
or raises.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from conformance.drivers import bridge as bridge_module
from conformance.drivers.base import ClientError, Event, Participant
from conformance.drivers.bridge import BridgeDriver, BridgeFailed
from conformance.errors import ConfigError, TargetTimeout, UnexpectedResponse
from conformance.reference.app import ReferenceSettings
from conformance.reference.server import ThreadedServer

EXAMPLE_BRIDGE = [sys.executable, "-m", "conformance.drivers.example_bridge"]
HOST = "group_call_host"
GUEST = "group_call_participant"
FAKE_TOKEN = "rtkp_fake-participant-token-0123456789"
FAKE_URL = "ws://127.0.0.1:9/realtime"


# -- helpers ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def reference() -> Iterator[ThreadedServer]:
    with ThreadedServer(ReferenceSettings()) as srv:
        yield srv


class Meeting:
    """A meeting on the reference, made through its REST API."""

    def __init__(self, srv: ThreadedServer, meeting_id: str) -> None:
        self.srv = srv
        self.id = meeting_id
        self.tokens: list[str] = []

    @staticmethod
    def _api(srv: ThreadedServer) -> tuple[str, dict[str, str]]:
        assert srv.endpoints is not None and srv.reference is not None
        creds = srv.reference.settings.credentials
        base = f"{srv.endpoints.base_url}/accounts/{creds.account_id}/realtime/kit/{creds.app_id}"
        return base, {"Authorization": f"Bearer {creds.admin_token}"}

    @classmethod
    async def create(cls, srv: ThreadedServer) -> Meeting:
        base, headers = cls._api(srv)
        async with httpx.AsyncClient(headers=headers, timeout=10) as http:
            response = await http.post(f"{base}/meetings", json={})
        assert response.status_code == 201, response.text
        return cls(srv, response.json()["data"]["id"])

    async def add(self, custom_id: str, preset: str) -> str:
        """A participant token for a new participant of this meeting."""
        base, headers = self._api(self.srv)
        body = {"custom_participant_id": custom_id, "preset_name": preset, "name": custom_id}
        async with httpx.AsyncClient(headers=headers, timeout=10) as http:
            response = await http.post(f"{base}/meetings/{self.id}/participants", json=body)
        assert response.status_code == 201, response.text
        token = response.json()["data"]["token"]
        self.tokens.append(token)
        return token


class Recorder:
    """An event sink that keeps everything it is given."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, Event]] = []

    def __call__(self, label: str, event: Event) -> None:
        self.seen.append((label, event))


def assert_no_secret(secrets: list[str], *things: Any) -> None:
    text = json.dumps(things, default=str)
    for secret in secrets:
        assert secret not in text, "a participant token leaked into recorded events or errors"


def everything_kept(driver: BridgeDriver, *participants: Participant) -> list[Any]:
    return [driver.events, driver.stderr_tail, [p.events for p in participants]]


def fake(body: str) -> list[str]:
    """A fake bridge: `body` runs after a prelude with `send(obj)` and `requests()`."""
    prelude = (
        "import json, sys\n"
        "def send(obj):\n"
        "    print(json.dumps(obj), flush=True)\n"
        "def requests():\n"
        "    for line in sys.stdin:\n"
        "        yield json.loads(line)\n"
        "def ok(r, result=None):\n"
        "    send({'reply_to': r['id'], 'ok': True, 'result': result or {}})\n"
        "JOINED = {'session_id': 's-1', 'self': {'id': 'peer-1'},\n"
        "          'permissions': {'kickParticipant': True}, 'participants': []}\n"
    )
    return [sys.executable, "-c", prelude + body]


# -- through the example bridge, against the reference ---------------------------------------


async def test_kick_all_ends_the_session_for_everyone(reference: ThreadedServer) -> None:
    meeting = await Meeting.create(reference)
    host_token = await meeting.add("host-1", HOST)
    alice_token = await meeting.add("alice-1", GUEST)
    bob_token = await meeting.add("bob-1", GUEST)
    sink = Recorder()
    assert reference.endpoints is not None
    driver = BridgeDriver(reference.endpoints.realtime_url, sink, command=EXAMPLE_BRIDGE)
    async with driver:
        host = await driver.participant("host")
        alice = await driver.participant("alice")
        bob = await driver.participant("bob")
        assert driver.bridge_info["name"] and driver.bridge_info["version"]

        joined = await host.join(host_token)
        assert joined["type"] == "roomJoined" and host.room_state == "joined"
        assert host.permissions["kickParticipant"] is True
        await alice.join(alice_token)
        assert alice.permissions["kickParticipant"] is False
        await host.wait_for("participantJoined", lambda e: e["participant"]["id"] == alice.peer_id)
        bob_joined = await bob.join(bob_token)
        assert {p["id"] for p in bob_joined["participants"]} == {host.peer_id, alice.peer_id}
        assert len({host.session_id, alice.session_id, bob.session_id}) == 1
        assert len({host.peer_id, alice.peer_id, bob.peer_id}) == 3
        for p in (host, alice):
            await p.wait_for("participantJoined", lambda e: e["participant"]["id"] == bob.peer_id)

        # A participant whose preset lacks kick_participant cannot end the session.
        with pytest.raises(ClientError) as refused:
            await alice.kick_all()
        assert refused.value.code == 1201
        assert [p.room_state for p in (host, alice, bob)] == ["joined"] * 3

        await bob.leave()
        assert (await bob.wait_gone())["state"] == "left"
        for p in (host, alice):
            await p.wait_for(
                "participantLeft",
                lambda e: e["participant"]["id"] == bob.peer_id and e["reason"] == "left",
            )

        before_end = {p.label: p.mark() for p in (host, alice)}
        ack = await host.kick_all()
        assert ack["kicked_participants_count"] == 2
        for p in (host, alice):
            assert (await p.wait_gone())["state"] == "ended"
            assert p.room_state == "ended"
            # An end sends no participantLeft: everyone gets roomLeft "ended" instead.
            assert p.received("participantLeft", since=before_end[p.label]) == []
        assert [e["state"] for e in alice.received("roomLeft")] == ["ended"]
        assert driver.events == [], "the example bridge sent lines that are not protocol"

    assert not driver.alive
    assert {label for label, _ in sink.seen} == {"host", "alice", "bob"}
    assert_no_secret(meeting.tokens, sink.seen, everything_kept(driver, host, alice, bob), str(refused.value))


async def test_kick_refusals_and_a_dropped_participant(reference: ThreadedServer) -> None:
    meeting = await Meeting.create(reference)
    host_token = await meeting.add("host-2", HOST)
    guest_tokens = [await meeting.add(f"guest-{i}", GUEST) for i in (1, 2)]
    assert reference.endpoints is not None
    errors: list[str] = []
    async with BridgeDriver(reference.endpoints.realtime_url, command=EXAMPLE_BRIDGE) as driver:
        host = await driver.participant("host")
        kicked = await driver.participant("kicked")
        dropped = await driver.participant("dropped")
        stranger = await driver.participant("stranger")

        with pytest.raises(ClientError) as not_joined:
            await stranger.leave()
        assert not_joined.value.code == 1106
        with pytest.raises(ClientError) as bad_token:
            await (await driver.participant("impostor")).join("rtkp_not-a-real-token-at-all")
        assert bad_token.value.code == 4

        await host.join(host_token)
        await kicked.join(guest_tokens[0])
        await dropped.join(guest_tokens[1])
        for code, target in ((1203, host.peer_id), (1202, "no-such-peer")):
            with pytest.raises(ClientError) as refused:
                await host.kick(str(target))
            assert refused.value.code == code
            errors.append(str(refused.value))

        await host.kick(str(kicked.peer_id))
        assert (await kicked.wait_gone())["state"] == "kicked"
        for p in (host, dropped):
            await p.wait_for(
                "participantLeft",
                lambda e: e["participant"]["id"] == kicked.peer_id and e["reason"] == "kicked",
            )

        await dropped.close()
        assert dropped.room_state == "disconnected"
        await host.wait_for(
            "participantLeft",
            lambda e: e["participant"]["id"] == dropped.peer_id and e["reason"] == "disconnected",
        )
        assert host.room_state == "joined"
    assert_no_secret(meeting.tokens, everything_kept(driver, host, kicked, dropped), errors)


# -- fake bridges ------------------------------------------------------------------------------


async def test_garbage_lines_are_recorded_and_do_not_break_the_driver() -> None:
    body = (
        "token = None\n"
        "for r in requests():\n"
        "    print('this is not json', flush=True)\n"
        "    print('[1, 2, 3]', flush=True)\n"
        "    print('', flush=True)\n"
        "    send({'reply_to': 999, 'ok': True})\n"
        "    send({'participant': 'nobody', 'event': {'type': 'participantJoined'}})\n"
        "    if r['op'] == 'hello':\n"
        "        ok(r, {'name': 'garbage bridge', 'version': '0'})\n"
        "    elif r['op'] == 'join' and r['participant'] == 'bob':\n"
        "        ok(r, {'session_id': 's-1'})\n"
        "    elif r['op'] == 'join':\n"
        "        token = r['token']\n"
        "        print('debug: joining with ' + token, flush=True)\n"
        "        print('debug: joining with ' + token, file=sys.stderr, flush=True)\n"
        "        send({'participant': r['participant'], 'event': {'type': 'roomJoined'}})\n"
        "        send({'participant': r['participant'], 'event': 'not an object'})\n"
        "        ok(r, JOINED)\n"
        "        send({'participant': r['participant'],\n"
        "              'event': {'type': 'participantJoined', 'participant': {'id': 'peer-2'},\n"
        "                        'note': 'seen with ' + token}})\n"
        "    elif r['op'] == 'leave':\n"
        "        send({'reply_to': r['id'], 'ok': False,\n"
        "              'error': {'code': 1106, 'message': 'refused for ' + token}})\n"
        "    elif r['op'] == 'kick':\n"
        "        send({'reply_to': r['id'], 'ok': False, 'error': {'message': 'SDK crashed'}})\n"
        "    elif r['op'] == 'kickAll':\n"
        "        send({'reply_to': r['id'], 'result': {}})\n"
        "    elif r['op'] == 'shutdown':\n"
        "        break\n"
    )
    sink = Recorder()
    async with BridgeDriver(FAKE_URL, sink, request_timeout=5, command=fake(body)) as driver:
        p = await driver.participant("alice")
        await p.join(FAKE_TOKEN)
        assert p.peer_id == "peer-1" and p.room_state == "joined"
        seen = await p.wait_for("participantJoined", timeout=5)
        assert seen["participant"]["id"] == "peer-2"

        with pytest.raises(ClientError) as refused:
            await p.leave()
        assert refused.value.code == 1106
        with pytest.raises(UnexpectedResponse, match="could not do kick: SDK crashed"):
            await p.kick("peer-2")
        # A reply that breaks the line protocol is the bridge's fault, not the implementation's.
        with pytest.raises(BridgeFailed, match="no boolean ok") as malformed:
            await p.kick_all()
        # The roomJoined (the join reply) comes before the event written after it.
        assert [e["type"] for e in p.events] == ["roomJoined", "participantJoined"]

        bob = await driver.participant("bob")
        with pytest.raises(UnexpectedResponse, match=r"join result has no self\.id"):
            await bob.join(FAKE_TOKEN)
        assert bob.room_state == "init" and bob.events == []

    whys = {note["why"] for note in driver.events}
    assert {"not JSON", "not a JSON object", "event without a type"} <= whys
    assert any("unknown id" in why for why in whys)
    assert any("known participant" in why for why in whys)
    assert any(why.startswith("roomJoined sent as an event") for why in whys)
    assert all(note["type"] == "garbage" for note in driver.events)
    assert p.room_state == "disconnected"  # the bridge is gone
    assert any(label == bridge_module.BRIDGE_LABEL for label, _ in sink.seen)
    assert any("debug: joining with" in line for line in driver.stderr_tail)
    assert any("[REDACTED]" in note["raw"] for note in driver.events)
    assert "[REDACTED]" in refused.value.message
    assert_no_secret([FAKE_TOKEN], sink.seen, everything_kept(driver, p), str(refused.value), str(malformed.value))


async def test_a_bridge_that_exits_at_once_fails_the_handshake_fast() -> None:
    command = [
        sys.executable,
        "-c",
        "import sys; print('bridge: the SDK is not installed', file=sys.stderr); sys.exit(3)",
    ]
    driver = BridgeDriver(FAKE_URL, command=command)
    started = time.monotonic()
    with pytest.raises(BridgeFailed) as failed:
        await driver.participant("alice")
    assert time.monotonic() - started < 5
    assert failed.value.outcome == "error"  # the suite could not run, never a FAIL
    message = str(failed.value)
    assert "exited with code 3" in message and "before answering hello" in message
    assert "the SDK is not installed" in message
    with pytest.raises(BridgeFailed):  # the failure sticks; no second process
        await driver.participant("bob")
    await driver.aclose()


async def test_a_bridge_that_dies_fails_pending_requests_and_disconnects_participants() -> None:
    body = (
        "for r in requests():\n"
        "    if r['op'] in ('hello', 'join'):\n"
        "        ok(r, JOINED if r['op'] == 'join' else {'name': 'fragile', 'version': '0'})\n"
        "    else:\n"
        "        print('fatal: lost the SDK for ' + r['op'], file=sys.stderr, flush=True)\n"
        "        sys.exit(7)\n"
    )
    async with BridgeDriver(FAKE_URL, request_timeout=10, command=fake(body)) as driver:
        p = await driver.participant("alice")
        await p.join(FAKE_TOKEN)
        started = time.monotonic()
        with pytest.raises(BridgeFailed) as died:
            await p.kick("peer-2")
        assert time.monotonic() - started < 5, "a dead bridge must not wait for the request timeout"
        assert "exited with code 7 before answering kick" in str(died.value)
        assert "fatal: lost the SDK for kick" in str(died.value)

        gone = await p.wait_for("roomLeft", timeout=5)
        assert gone == {"type": "roomLeft", "state": "disconnected", "by": "driver"}
        assert p.room_state == "disconnected"
        assert not driver.alive
        with pytest.raises(BridgeFailed, match="cannot send leave: the bridge exited with code 7"):
            await p.leave()
    assert_no_secret([FAKE_TOKEN], everything_kept(driver, p), str(died.value))


async def test_a_bridge_that_never_answers_times_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bridge_module, "SHUTDOWN_GRACE", 0.5)
    body = (
        "import signal\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "for r in requests():\n"
        "    if r['op'] == 'hello':\n"
        "        ok(r, {'name': 'silent', 'version': '0'})\n"
        "    # everything else, shutdown included, is ignored\n"
    )
    driver = BridgeDriver(FAKE_URL, request_timeout=1.0, command=fake(body))
    p = await driver.participant("alice")
    started = time.monotonic()
    with pytest.raises(TargetTimeout) as timed_out:
        await p.join(FAKE_TOKEN)
    assert 0.9 <= time.monotonic() - started < 3
    assert "did not answer join within 1.0s" in str(timed_out.value)
    assert p.room_state == "init"

    started = time.monotonic()
    await driver.aclose()  # shutdown is ignored: killed after the grace period
    assert time.monotonic() - started < 5
    assert not driver.alive
    assert_no_secret([FAKE_TOKEN], everything_kept(driver, p), str(timed_out.value))


async def test_a_bridge_that_never_says_hello_times_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bridge_module, "HELLO_TIMEOUT", 0.5)
    driver = BridgeDriver(FAKE_URL, command=fake("for r in requests():\n    pass\n"))
    # No hello means the bridge never reached the target: its failure, not a timeout of the target.
    with pytest.raises(BridgeFailed, match=r"did not answer hello within 0\.5s"):
        await driver.participant("alice")
    assert not driver.alive
    await driver.aclose()


async def test_replies_are_matched_by_id_not_by_order() -> None:
    # Two joins in flight; the bridge answers the second first.
    body = (
        "held = []\n"
        "for r in requests():\n"
        "    if r['op'] == 'hello':\n"
        "        ok(r, {'name': 'shuffler', 'version': '0'})\n"
        "    elif r['op'] == 'join':\n"
        "        held.append(r)\n"
        "        if len(held) == 2:\n"
        "            for h in reversed(held):\n"
        "                me = dict(JOINED, self={'id': 'peer-' + h['participant']})\n"
        "                ok(h, me)\n"
        "    elif r['op'] == 'shutdown':\n"
        "        ok(r)\n"
        "        break\n"
    )
    async with BridgeDriver(FAKE_URL, command=fake(body)) as driver:
        alice = await driver.participant("alice")
        bob = await driver.participant("bob")
        await asyncio.gather(alice.join(FAKE_TOKEN), bob.join(FAKE_TOKEN + "-bob"))
        assert (alice.peer_id, bob.peer_id) == ("peer-alice", "peer-bob")
    assert driver.events == []  # the shutdown reply is expected, not garbage


async def test_a_command_that_cannot_start_is_a_config_error() -> None:
    driver = BridgeDriver(FAKE_URL, command=["/nonexistent/realtimekit-bridge", "--flag"])
    with pytest.raises(ConfigError, match="cannot start the bridge command '/nonexistent/realtimekit-bridge'"):
        await driver.participant("alice")
    await driver.aclose()
    with pytest.raises(ConfigError, match="bridge_command"):
        BridgeDriver(FAKE_URL, command=[])
