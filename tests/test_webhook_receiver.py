"""The webhook receiver: signatures, channels, scripted answers, waiting, stopping."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from conformance.errors import ConfigError, TargetTimeout, UnexpectedResponse
from conformance.evidence_log import EvidenceLog, current_check
from conformance.redaction import Redactor
from conformance.webhook_receiver import Answer, WebhookReceiver

SECRET = "admin-token-0123456789"


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_pem(key: rsa.RSAPrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def sign(key: rsa.RSAPrivateKey, body: bytes) -> str:
    return base64.b64encode(key.sign(body, padding.PKCS1v15(), hashes.SHA256())).decode()


def payload(event: str, **extra: object) -> bytes:
    return json.dumps({"event": event, "meeting": {"id": "m-1"}, **extra}).encode()


@pytest.fixture
async def rx() -> AsyncIterator[WebhookReceiver]:
    evidence = EvidenceLog(Redactor([SECRET]))
    async with WebhookReceiver("127.0.0.1:0", evidence=evidence) as receiver:
        yield receiver


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5) as client:
        yield client


async def test_binds_a_real_port_and_builds_urls(rx: WebhookReceiver) -> None:
    assert rx.port and rx.port > 0
    assert rx.public_url == f"http://127.0.0.1:{rx.port}"
    assert rx.channel("abc").url == f"http://127.0.0.1:{rx.port}/c/abc"
    assert rx.channel("abc") is rx.channel("abc")
    assert rx.channel().name != rx.channel().name
    with pytest.raises(ValueError):
        rx.channel("a/b")


async def test_public_url_given_is_used() -> None:
    async with WebhookReceiver(public_url="https://hooks.example.test/") as receiver:
        assert receiver.channel("x").url == "https://hooks.example.test/c/x"


async def test_bad_listen_address_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="host:port"):
        await WebhookReceiver("nonsense").start()


async def test_signatures_are_checked_over_the_raw_body(
    rx: WebhookReceiver, http: httpx.AsyncClient, rsa_key: rsa.RSAPrivateKey
) -> None:
    ch = rx.channel("sig")
    unsigned_first = payload("meeting.started")
    await http.post(ch.url, content=unsigned_first, headers={"rtk-signature": "x"})
    rx.set_public_key(public_pem(rsa_key))

    body = payload("meeting.ended", reason="HOST_ENDED_MEETING")
    headers = {
        "content-type": "application/json",
        "rtk-signature": sign(rsa_key, body),
        "rtk-uuid": "uuid-1",
        "rtk-webhook-id": "wh-1",
    }
    assert (await http.post(ch.url, content=body, headers=headers)).status_code == 200
    tampered = body.replace(b"HOST_ENDED_MEETING", b"ALL_PARTICIPANTS_LEFT")
    await http.post(ch.url, content=tampered, headers=headers)
    await http.post(ch.url, content=body, headers={"rtk-signature": "not base64!"})
    await http.post(ch.url, content=body)

    first, good, bad, garbage, missing = await ch.wait_for_count(lambda d: True, 5, timeout=2)
    assert first.signature_valid is None  # no key yet
    assert good.signature_valid is True
    assert (good.event, good.uuid, good.webhook_id) == ("meeting.ended", "uuid-1", "wh-1")
    assert good.body == body and good.json["reason"] == "HOST_ENDED_MEETING"
    assert bad.signature_valid is False
    assert garbage.signature_valid is False
    assert missing.signature_valid is False


async def test_public_key_must_be_rsa(rx: WebhookReceiver) -> None:
    with pytest.raises(UnexpectedResponse, match="not a PEM"):
        rx.set_public_key("hello")
    ec_pem = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    with pytest.raises(UnexpectedResponse, match="expected an RSA key"):
        rx.set_public_key(ec_pem)


async def test_channels_keep_deliveries_apart(rx: WebhookReceiver, http: httpx.AsyncClient) -> None:
    a, b = rx.channel("a"), rx.channel("b")
    await http.post(a.url, content=payload("meeting.started"))
    await http.post(b.url, content=payload("meeting.ended"))
    await http.post(rx.public_url + "/elsewhere", content=b"not json")

    await a.wait_for("meeting.started", timeout=2)
    await b.wait_for("meeting.ended", timeout=2)
    delivery = await rx.default.wait_for(lambda d: True, timeout=2, what="stray POST")
    assert [d.event for d in a.deliveries] == ["meeting.started"]
    assert [d.event for d in b.deliveries] == ["meeting.ended"]
    assert delivery.json is None and delivery.path == "/elsewhere" and delivery.channel is None
    assert [d.seq for d in rx.deliveries] == [1, 2, 3]


async def test_only_post_is_recorded(rx: WebhookReceiver, http: httpx.AsyncClient) -> None:
    assert (await http.get(rx.channel("g").url)).status_code == 405
    assert rx.deliveries == []


async def test_waiter_wakes_on_delivery(rx: WebhookReceiver, http: httpx.AsyncClient) -> None:
    ch = rx.channel("wake")
    waiter = asyncio.create_task(ch.wait_for("meeting.ended", timeout=5))
    await http.post(ch.url, content=payload("meeting.started"))
    await http.post(ch.url, content=payload("meeting.ended"))
    delivery = await waiter
    assert delivery.event == "meeting.ended"


async def test_scripted_answers_then_200(rx: WebhookReceiver, http: httpx.AsyncClient) -> None:
    ch = rx.channel("retry").script(Answer(status=500), Answer(status=404))
    statuses = [(await http.post(ch.url, content=payload("e"))).status_code for _ in range(3)]
    assert statuses == [500, 404, 200]
    assert [d.status for d in ch.deliveries] == [500, 404, 200]


async def test_stall_holds_the_answer(rx: WebhookReceiver, http: httpx.AsyncClient) -> None:
    ch = rx.channel("slow").script(Answer(stall_seconds=0.3))
    started = time.monotonic()
    response = await http.post(ch.url, content=payload("e"))
    assert response.status_code == 200
    assert time.monotonic() - started >= 0.3
    assert ch.deliveries[0].stall_seconds == 0.3


async def test_stall_notes_when_the_sender_gives_up(rx: WebhookReceiver) -> None:
    ch = rx.channel("impatient").script(Answer(stall_seconds=30))
    async with httpx.AsyncClient(timeout=0.3) as impatient:
        with pytest.raises(httpx.ReadTimeout):
            await impatient.post(ch.url, content=payload("e"))
    delivery = await ch.wait_for(lambda d: d.sender_gave_up_after is not None, timeout=2)
    assert 0.2 < (delivery.sender_gave_up_after or 0) < 2


def test_answers_are_bounded() -> None:
    with pytest.raises(ValueError):
        Answer(stall_seconds=10_000)
    with pytest.raises(ValueError):
        Answer(status=99)


async def test_wait_for_timeout_says_what_arrived(rx: WebhookReceiver, http: httpx.AsyncClient) -> None:
    ch = rx.channel("late")
    await http.post(ch.url, content=payload("meeting.started"))
    await http.post(ch.url, content=payload("meeting.participantJoined"))
    with pytest.raises(TargetTimeout) as info:
        await ch.wait_for("meeting.ended", timeout=0.2)
    assert str(info.value) == (
        f"no meeting.ended delivery within 0.2 s at {ch.url} (received: meeting.started, meeting.participantJoined)"
    )
    with pytest.raises(TargetTimeout, match=r"only 1 of 2 expected \(meeting.started delivery\)"):
        await ch.wait_for_count("meeting.started", 2, timeout=0.1, what="meeting.started delivery")


async def test_assert_none(rx: WebhookReceiver, http: httpx.AsyncClient) -> None:
    ch = rx.channel("quiet")
    await http.post(ch.url, content=payload("meeting.started"))
    await ch.assert_none("meeting.ended", within=0.2)  # waits the window out, then passes
    await http.post(ch.url, content=payload("meeting.ended"))
    with pytest.raises(UnexpectedResponse, match=r"expected no meeting\.ended delivery"):
        await ch.assert_none("meeting.ended", within=5)


async def test_headers_are_redacted_and_evidence_recorded(rx: WebhookReceiver, http: httpx.AsyncClient) -> None:
    token = current_check.set("tests/test_webhook_receiver.py::x")
    try:
        ch = rx.channel("ev")
    finally:
        current_check.reset(token)
    await http.post(
        ch.url,
        content=payload("meeting.ended", note=f"key {SECRET}"),
        headers={"authorization": "Bearer abc", "x-echo": f"k={SECRET}"},
    )
    delivery = await ch.wait_for("meeting.ended", timeout=2)
    assert delivery.headers["authorization"] == "[REDACTED]"
    assert delivery.headers["x-echo"] == "k=[REDACTED]"
    assert rx.evidence is not None
    events = rx.evidence.events_for_check("tests/test_webhook_receiver.py::x")
    assert [e.kind for e in events] == ["webhook.delivery"]
    assert SECRET not in json.dumps(events[0].payload)
    assert events[0].payload["body"]["event"] == "meeting.ended"


async def test_stop_is_quick_even_mid_stall(http: httpx.AsyncClient) -> None:
    receiver = WebhookReceiver()
    await receiver.start()
    ch = receiver.channel("stuck").script(Answer(stall_seconds=60))
    pending = asyncio.create_task(http.post(ch.url, content=payload("e")))
    await ch.wait_for("e", timeout=2)

    started = time.monotonic()
    await receiver.stop()
    assert time.monotonic() - started < 2.0
    # The held request ends with the receiver (answered or cut off) instead of hanging.
    with contextlib.suppress(httpx.HTTPError):
        await asyncio.wait_for(pending, 2)
    await receiver.stop()  # stopping twice is harmless
