"""The bridge driver: participants played by a vendor's own client SDK, in any language.

The suite starts one bridge program (`driver.bridge_command`) and talks JSON lines with it:
requests on the bridge's stdin, replies and events on its stdout. Participants are
multiplexed by label. docs/bridge-protocol.md is the protocol; example_bridge.py is a
complete bridge for the reference realtime protocol.

    scenario ── BridgeParticipant ── BridgeDriver ══ stdin/stdout ══ bridge ── SDK ── target

Who is to blame (conformance/errors.py):
- the command cannot be started                     → ConfigError
- no reply within the deadline                      → TargetTimeout (the SDK may be waiting on the target)
- the bridge exits, fails its handshake, or answers
  lines that break the bridge protocol              → BridgeFailed (exit code + stderr tail): the
                                                      suite's hook failed, an ERROR, never a FAIL
- the bridge says the SDK threw (ok false, no code) → UnexpectedResponse
- the bridge reports a refusal with a client code   → ClientError(code, message)

The participant token appears only in the `join` line written to the bridge's stdin.
Everything this driver keeps or raises (events, garbage lines, stderr, messages) first goes
through a Redactor that knows every token it was given.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from conformance.drivers.base import (
    ClientError,
    Event,
    EventSink,
    Participant,
    ParticipantDriver,
)
from conformance.errors import (
    ConfigError,
    ConformanceError,
    ImplementationFailed,
    SuiteCouldNotRun,
    SuiteHookFailed,
    TargetTimeout,
    UnexpectedResponse,
)
from conformance.redaction import Redactor

HELLO_TIMEOUT = 10.0
SHUTDOWN_GRACE = 3.0
STDERR_LINES = 50
LINE_LIMIT = 4 * 1024 * 1024
RAW_CHARS = 200
STDERR_LINE_CHARS = 500
# Label under which the driver's own notes (garbage lines, stray replies) reach the sink.
BRIDGE_LABEL = "bridge"


class BridgeFailed(SuiteHookFailed):
    """The bridge process itself failed (exited, failed its handshake, broke the protocol):
    the check could not be run through it, which says nothing about the requirement."""


@dataclass
class _Pending:
    """A request written to the bridge and not answered yet."""

    op: str
    who: str
    future: asyncio.Future[dict[str, Any]]
    participant: BridgeParticipant | None


class BridgeParticipant(Participant):
    """One participant played by the bridge; requests go out tagged with its label."""

    def __init__(self, label: str, driver: BridgeDriver, sink: EventSink | None, request_timeout: float) -> None:
        super().__init__(label, sink, request_timeout)
        self._driver = driver
        self._used = False
        self._closed = False

    async def _call(self, op: str, **fields: Any) -> dict[str, Any]:
        self._used = True
        return await self._driver.request(
            op, who=self.label, timeout=self.request_timeout, for_participant=self, **fields
        )

    async def join(self, token: str) -> Event:
        self._driver.redactor.add(token)
        # The driver's reader records the roomJoined as the reply arrives (see _joined), so
        # it comes before any event the bridge writes after the reply.
        return await self._call("join", token=token)

    async def _joined(self, result: dict[str, Any]) -> Event:
        """The join reply's result becomes this participant's roomJoined event."""
        me = result.get("self")
        if not isinstance(me, dict) or not isinstance(me.get("id"), str):
            raise UnexpectedResponse(
                f"{self.label}: the bridge's join result has no self.id (the peer id): {self._driver.preview(result)}"
            )
        event = self._driver.redactor.redact_json({**result, "type": "roomJoined"})
        await self._record(event)
        return event

    async def leave(self) -> None:
        await self._call("leave")

    async def kick(self, peer_id: str) -> None:
        await self._call("kick", target=peer_id)

    async def kick_all(self) -> Event:
        result = await self._call("kickAll")
        return {**result, "type": "ack"}

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._used and self._driver.alive:
            # close must not raise: it runs in cleanup paths. A bridge that cannot close shows
            # up later anyway (no participantLeft for the others).
            with contextlib.suppress(ClientError, ImplementationFailed, BridgeFailed):
                await self._call("close")
        # The SDK's view of a dropped link, unless the bridge already reported a roomLeft.
        await self._connection_lost()


class BridgeDriver(ParticipantDriver):
    """Starts the bridge program once, on the first `participant()`, and multiplexes it."""

    name = "bridge"

    def __init__(
        self,
        realtime_url: str | None,
        sink: EventSink | None = None,
        request_timeout: float = 5.0,
        *,
        command: Sequence[str],
    ) -> None:
        super().__init__(realtime_url, sink, request_timeout)
        if isinstance(command, str) or not command or not all(isinstance(a, str) for a in command):
            raise ConfigError(
                "the bridge driver needs driver.bridge_command (RTKC_BRIDGE_COMMAND): "
                "the program and its arguments, as a list of strings"
            )
        self.command = list(command)
        self.redactor = Redactor()
        self.events: list[Event] = []  # the driver's own notes: garbage lines, stray replies
        self.bridge_info: dict[str, Any] = {}  # hello's result: name, version
        self._participants: dict[str, BridgeParticipant] = {}
        self._proc: asyncio.subprocess.Process | None = None
        self._stdout_task: asyncio.Task[None] | None = None
        self._stderr_task: asyncio.Task[None] | None = None
        self._stderr: deque[str] = deque(maxlen=STDERR_LINES)
        self._pending: dict[int, _Pending] = {}
        self._ids = itertools.count(1)
        self._write_lock = asyncio.Lock()
        self._start_lock = asyncio.Lock()
        self._start_failure: Exception | None = None
        self._gone = asyncio.Event()
        self._gone_reason: str | None = None
        self._closing = False
        self._shutdown_id: int | None = None

    # -- what the suite calls --------------------------------------------------------------

    @property
    def alive(self) -> bool:
        return self._proc is not None and not self._gone.is_set()

    @property
    def stderr_tail(self) -> list[str]:
        """The bridge's last stderr lines (at most 50), tokens redacted."""
        return list(self._stderr)

    async def participant(self, label: str) -> Participant:
        """A new participant; reusing a label closes the earlier participant of that label."""
        await self.start()
        earlier = self._participants.get(label)
        if earlier is not None:
            await earlier.close()
        p = BridgeParticipant(label, self, self.sink, self.request_timeout)
        self._participants[label] = p
        return p

    async def start(self) -> dict[str, Any]:
        """Start the bridge and shake hands (idempotent); returns the hello result."""
        async with self._start_lock:
            if self._start_failure is not None:
                raise self._start_failure
            if self._proc is None:
                try:
                    await self._spawn()
                    self.bridge_info = await self.request(
                        "hello", who="", timeout=HELLO_TIMEOUT, realtime_url=self.realtime_url
                    )
                except Exception as exc:
                    failure = exc
                    if isinstance(exc, ConformanceError) and not isinstance(exc, SuiteCouldNotRun):
                        # A bridge that cannot even shake hands never reached the target.
                        failure = BridgeFailed(f"the bridge failed its hello: {exc.message}")
                    self._start_failure = failure
                    await self._stop_process(grace=0)
                    if failure is exc:
                        raise
                    raise failure from exc
            elif self._gone.is_set():
                raise BridgeFailed(f"the bridge is gone: {self._gone_reason}")
        return self.bridge_info

    async def aclose(self) -> None:
        """Ask the bridge to shut down, wait up to 3 s for it to exit, then kill it."""
        if self._proc is None or self._closing:
            return
        self._closing = True
        if not self._gone.is_set():
            # Its reply, if any, is dropped silently: the exit is what counts.
            self._shutdown_id = next(self._ids)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._write({"id": self._shutdown_id, "op": "shutdown"}), 1)
        await self._stop_process(grace=SHUTDOWN_GRACE)

    # -- requests and replies --------------------------------------------------------------

    async def request(
        self,
        op: str,
        *,
        who: str,
        timeout: float,
        for_participant: BridgeParticipant | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        """Send one request; the `result` of an ok reply, or raise (see the module docstring)."""
        prefix = f"{who}: " if who else ""
        if self._gone.is_set():
            raise BridgeFailed(f"{prefix}cannot send {op}: {self._gone_reason}")
        if for_participant is not None:
            fields["participant"] = for_participant.label
        request_id = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = _Pending(op, who, future, for_participant)
        try:
            async with asyncio.timeout(timeout):
                await self._write({"id": request_id, "op": op, **fields})
                return await future
        except TimeoutError:
            raise TargetTimeout(f"{prefix}the bridge did not answer {op} within {timeout:.1f}s") from None
        except (BrokenPipeError, ConnectionResetError):
            # The bridge is gone; let the stdout reader find out how (exit code, stderr).
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._gone.wait(), 2)
            raise BridgeFailed(
                f"{prefix}cannot send {op}: {self._gone_reason or 'the bridge closed its stdin'}"
            ) from None
        finally:
            self._pending.pop(request_id, None)
            if future.done() and not future.cancelled():
                future.exception()  # retrieved here, so asyncio does not warn about it

    async def _answer(self, pending: _Pending, reply: dict[str, Any]) -> None:
        """Settle a pending request with its reply, in stdout order."""
        try:
            result = self._result(pending.op, pending.who, reply)
            if pending.op == "join" and pending.participant is not None:
                result = await pending.participant._joined(result)
        except Exception as exc:  # ClientError, UnexpectedResponse, or a failing event sink
            if not pending.future.done():
                pending.future.set_exception(exc)
            return
        if not pending.future.done():
            pending.future.set_result(result)

    def _result(self, op: str, who: str, reply: dict[str, Any]) -> dict[str, Any]:
        prefix = f"{who}: " if who else ""
        ok = reply.get("ok")
        if ok is True:
            result = reply.get("result")
            if result is None:
                return {}
            if not isinstance(result, dict):
                raise BridgeFailed(f"{prefix}the bridge's result for {op} is not an object: {self.preview(reply)}")
            return result
        if ok is False:
            error = reply.get("error")
            if not isinstance(error, dict):
                raise BridgeFailed(f"{prefix}the bridge refused {op} without an error object: {self.preview(reply)}")
            message = self.redactor.redact_text(str(error.get("message") or ""))
            message = message[:STDERR_LINE_CHARS]
            code = error.get("code")
            if isinstance(code, int) and not isinstance(code, bool):
                raise ClientError(code, message)
            raise UnexpectedResponse(f"{prefix}the bridge could not do {op}: {message or 'no message'}")
        raise BridgeFailed(f"{prefix}the bridge's reply to {op} has no boolean ok: {self.preview(reply)}")

    async def _write(self, message: dict[str, Any]) -> None:
        proc = self._proc
        if proc is None or proc.stdin is None:
            raise BrokenPipeError
        line = json.dumps(message, separators=(",", ":")) + "\n"
        async with self._write_lock:
            proc.stdin.write(line.encode())
            await proc.stdin.drain()

    def preview(self, obj: Any) -> str:
        """A short, redacted rendering of something the bridge sent, for messages."""
        try:
            text = json.dumps(self.redactor.redact_json(obj))
        except (TypeError, ValueError):
            text = repr(obj)
        return self.redactor.redact_text(text)[:RAW_CHARS]

    # -- the bridge process ----------------------------------------------------------------

    async def _spawn(self) -> None:
        try:
            self._proc = await asyncio.create_subprocess_exec(
                *self.command,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                limit=LINE_LIMIT,
            )
        except (OSError, ValueError) as exc:
            why = getattr(exc, "strerror", None) or str(exc)
            raise ConfigError(
                f"cannot start the bridge command {self.command[0]!r}: {why} "
                "(driver.bridge_command / RTKC_BRIDGE_COMMAND)"
            ) from None
        self._stdout_task = asyncio.create_task(self._read_stdout(), name="bridge-stdout")
        self._stderr_task = asyncio.create_task(self._read_stderr(), name="bridge-stderr")

    async def _stop_process(self, grace: float) -> None:
        """Wait up to `grace` seconds for the bridge to exit, then kill it; reap the readers."""
        proc = self._proc
        if proc is None:
            return
        if proc.returncode is None and grace > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(proc.wait(), grace)
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(proc.wait(), SHUTDOWN_GRACE)
        if proc.stdin is not None:
            with contextlib.suppress(Exception):
                proc.stdin.close()
        # A grandchild may still hold the pipes open: do not wait for EOF forever.
        for task in (self._stdout_task, self._stderr_task):
            if task is not None and not task.done():
                done, _ = await asyncio.wait({task}, timeout=1)
                if not done:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task

    async def _read_stdout(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        stdout = self._proc.stdout
        try:
            while True:
                try:
                    line = await stdout.readline()
                except ValueError:  # longer than LINE_LIMIT; the reader skipped it
                    await self._note("line longer than the 4 MiB limit", "")
                    continue
                if not line:
                    break
                text = line.decode("utf-8", errors="replace").strip()
                try:
                    await self._handle_line(text)
                except Exception as exc:  # e.g. a failing sink: keep reading regardless
                    await self._note(f"the driver failed on this line ({type(exc).__name__})", text)
        finally:
            await self._bridge_gone()

    async def _read_stderr(self) -> None:
        assert self._proc is not None and self._proc.stderr is not None
        stderr = self._proc.stderr
        while True:
            try:
                line = await stderr.readline()
            except ValueError:
                self._stderr.append("(a stderr line longer than 4 MiB was skipped)")
                continue
            if not line:
                return
            text = line.decode("utf-8", errors="replace").rstrip("\r\n")
            self._stderr.append(self.redactor.redact_text(text)[:STDERR_LINE_CHARS])

    async def _handle_line(self, text: str) -> None:
        if not text:
            return  # blank lines carry nothing; tolerated
        try:
            message = json.loads(text)
        except ValueError:
            await self._note("not JSON", text)
            return
        if not isinstance(message, dict):
            await self._note("not a JSON object", text)
            return
        if "reply_to" in message:
            reply_to = message["reply_to"]
            is_id = isinstance(reply_to, int) and not isinstance(reply_to, bool)
            entry = self._pending.get(reply_to) if is_id else None
            if is_id and reply_to == self._shutdown_id:
                pass
            elif entry is None:
                await self._note("reply to no pending request (late, or an unknown id)", text)
            elif not entry.future.done():
                await self._answer(entry, message)
            return
        label, event = message.get("participant"), message.get("event")
        participant = self._participants.get(label) if isinstance(label, str) else None
        if participant is None:
            await self._note("neither a reply nor an event for a known participant", text)
        elif not isinstance(event, dict) or not isinstance(event.get("type"), str):
            await self._note("event without a type", text)
        elif event["type"] == "roomJoined":
            await self._note("roomJoined sent as an event (the join reply is the roomJoined)", text)
        else:
            await participant._record(self.redactor.redact_json(event))

    async def _note(self, why: str, raw: str) -> None:
        """Keep something the bridge sent that fits nowhere; never raises."""
        # Redact before cutting: a token cut in half would no longer be recognised.
        raw = self.redactor.redact_text(raw)[:RAW_CHARS]
        note: Event = {"type": "garbage", "why": why, "raw": raw}
        self.events.append(note)
        if self.sink:
            with contextlib.suppress(Exception):
                self.sink(BRIDGE_LABEL, note)

    async def _bridge_gone(self) -> None:
        """stdout ended: fail what is pending, and every joined participant is disconnected."""
        proc = self._proc
        assert proc is not None
        if proc.returncode is None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(proc.wait(), 2)
        if self._stderr_task is not None and not self._stderr_task.done():
            await asyncio.wait({self._stderr_task}, timeout=1)  # the last lines matter most
        code = proc.returncode
        if code is None:
            how = "the bridge closed its stdout"
        elif code < 0:
            how = f"the bridge was killed by signal {-code}"
        else:
            how = f"the bridge exited with code {code}"
        if self._closing:
            how += " (shut down by the suite)"
        self._gone_reason = f"{how}; {self._describe_stderr()}"
        self._gone.set()
        for request_id, pending in list(self._pending.items()):
            if not pending.future.done():
                prefix = f"{pending.who}: " if pending.who else ""
                pending.future.set_exception(
                    BridgeFailed(f"{prefix}{how} before answering {pending.op}; {self._describe_stderr()}")
                )
            self._pending.pop(request_id, None)
        for participant in self._participants.values():
            await participant._connection_lost()

    def _describe_stderr(self) -> str:
        lines = [line for line in self._stderr if line.strip()]
        if not lines:
            return "its stderr was empty"
        tail = " | ".join(lines[-10:])
        if len(tail) > 800:
            tail = "…" + tail[-800:]
        return f"stderr tail: {tail}"
