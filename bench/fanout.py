"""Kick-all fan-out: N participants connected, time from the kick-all request to the last
`roomLeft ended` received — beside a plain WebSocket broadcast of one message to N clients
in the same run (the ratio is the figure).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

import websockets
from websockets.asyncio.client import connect
from websockets.asyncio.server import serve

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ServedReference, served_api


async def kick_all_fanout(n: int) -> float:
    with ServedReference() as info:
        async with served_api(info) as http:
            meeting = (await http.post("/meetings", json={})).json()["data"]["id"]
            tokens = []
            for i in range(n):
                preset = "group_call_host" if i == 0 else "group_call_participant"
                r = await http.post(
                    f"/meetings/{meeting}/participants", json={"custom_participant_id": f"p{i}", "preset_name": preset}
                )
                tokens.append(r.json()["data"]["token"])
            sockets = []
            for i, token in enumerate(tokens):
                ws = await connect(info["realtime_url"], max_queue=None)
                await ws.send(json.dumps({"type": "join", "id": str(i), "token": token}))
                while json.loads(await ws.recv()).get("type") != "roomJoined":
                    pass
                sockets.append(ws)
            # Drain what joins sent (participantJoined) so only roomLeft is measured.
            ended = [asyncio.get_running_loop().create_future() for _ in sockets]

            async def watch(ws, done):
                async for frame in ws:
                    msg = json.loads(frame)
                    if msg.get("type") == "roomLeft":
                        done.set_result(time.perf_counter())
                        return

            watchers = [asyncio.create_task(watch(ws, f)) for ws, f in zip(sockets, ended, strict=True)]
            await asyncio.sleep(0.5)  # let the join chatter settle before the clock starts (setup, not measured)
            start = time.perf_counter()
            r = await http.post(f"/meetings/{meeting}/active-session/kick-all")
            assert r.status_code == 200, r.text
            last = max(await asyncio.gather(*ended))
            await asyncio.gather(*watchers, return_exceptions=True)
            for ws in sockets:
                await ws.close()
            return last - start


async def plain_broadcast(n: int) -> float:
    clients: set = set()
    go = asyncio.Event()

    async def handler(ws):
        clients.add(ws)
        await go.wait()
        await ws.wait_closed()

    async with serve(handler, "127.0.0.1", 0, max_queue=None) as srv:
        port = srv.sockets[0].getsockname()[1]
        sockets = [await connect(f"ws://127.0.0.1:{port}", max_queue=None) for _ in range(n)]
        while len(clients) < n:
            await asyncio.sleep(0.01)
        start = time.perf_counter()
        websockets.broadcast(clients, json.dumps({"type": "roomLeft", "state": "ended"}))
        last = max(await asyncio.gather(*(ws.recv() for ws in sockets)) and [time.perf_counter()])
        go.set()
        for ws in sockets:
            await ws.close()
        return last - start


async def main(sizes: list[int]) -> None:
    print(f"{'N':>6} {'kick-all→last roomLeft':>24} {'plain broadcast':>16} {'ratio':>7}")
    for n in sizes:
        fan = await kick_all_fanout(n)
        plain = await plain_broadcast(n)
        print(f"{n:>6} {fan * 1000:>21.1f} ms {plain * 1000:>13.1f} ms {fan / plain:>7.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, nargs="+", default=[10, 100, 1000])
    asyncio.run(main(parser.parse_args().n))
