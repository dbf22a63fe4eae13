"""Webhook delivery latency: from the kick-all request to the signed `meeting.ended`
arriving at a receiver on loopback, over many sessions (p50/p99)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

from websockets.asyncio.client import connect

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import api, describe, reference

from conformance.webhook_receiver import WebhookReceiver


async def main(sessions: int) -> None:
    server = reference()
    try:
        async with api(server) as http, WebhookReceiver() as receiver:
            key = (await http.get(server.endpoints.origin + "/.well-known/webhooks.json")).json()["data"]["publicKey"]
            receiver.set_public_key(key)
            channel = receiver.channel("bench")
            r = await http.post("/webhooks", json={"name": "bench", "url": channel.url, "events": ["meeting.ended"]})
            assert r.status_code == 201, r.text
            meeting = (await http.post("/meetings", json={})).json()["data"]["id"]
            token = (
                await http.post(
                    f"/meetings/{meeting}/participants",
                    json={"custom_participant_id": "p", "preset_name": "group_call_host"},
                )
            ).json()["data"]["token"]
            latencies = []
            for i in range(sessions):
                async with connect(server.endpoints.realtime_url) as ws:
                    await ws.send(json.dumps({"type": "join", "id": "1", "token": token}))
                    while json.loads(await ws.recv()).get("type") != "roomJoined":
                        pass
                    start = time.perf_counter()
                    assert (await http.post(f"/meetings/{meeting}/active-session/kick-all")).status_code == 200
                    delivery = await channel.wait_for_count("meeting.ended", i + 1, timeout=10)
                    arrived = delivery[-1]
                    assert arrived.signature_valid, "bad signature"
                    latencies.append(time.perf_counter() - start)
            print(f"webhook latency (kick-all request → signed meeting.ended received): {describe(latencies)}")
    finally:
        server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=200)
    asyncio.run(main(parser.parse_args().sessions))
