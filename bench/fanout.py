"""Kick-all fan-out: N participants connected, time from the kick-all request to the last
`roomLeft ended` received, beside a plain WebSocket broadcast of one message to N clients
measured in the same run. The ratio of the medians is the figure.

Both servers run in their own process and the N clients share this one, so the two sides
have the same topology. Each size is measured --repeat times because a garbage-collection
pass in either process can land inside one 100 ms window; the median and the worst are shown.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from websockets.asyncio.client import connect

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ServedReference, served_api


async def _watch(ws, index: int, n: int, settled: asyncio.Future, ended: asyncio.Future) -> None:
    """Client `index` hears a participantJoined for each later joiner, then roomLeft."""
    expected = n - 1 - index
    if expected == 0:
        settled.set_result(None)
    async for frame in ws:
        kind = json.loads(frame).get("type")
        if kind == "participantJoined":
            expected -= 1
            if expected == 0:
                settled.set_result(None)
        elif kind == "roomLeft":
            ended.set_result(time.perf_counter())
            return


async def kick_all_once(http, realtime_url: str, n: int) -> float:
    meeting = (await http.post("/meetings", json={})).json()["data"]["id"]
    tokens = []
    for i in range(n):
        preset = "group_call_host" if i == 0 else "group_call_participant"
        r = await http.post(
            f"/meetings/{meeting}/participants", json={"custom_participant_id": f"p{i}", "preset_name": preset}
        )
        tokens.append(r.json()["data"]["token"])
    loop = asyncio.get_running_loop()
    sockets, watchers, settled, ended = [], [], [], []
    for i, token in enumerate(tokens):
        ws = await connect(realtime_url, max_queue=None)
        await ws.send(json.dumps({"type": "join", "id": str(i), "token": token}))
        while json.loads(await ws.recv()).get("type") != "roomJoined":
            pass
        sockets.append(ws)
        settled.append(loop.create_future())
        ended.append(loop.create_future())
        watchers.append(asyncio.create_task(_watch(ws, i, n, settled[-1], ended[-1])))
    await asyncio.wait_for(asyncio.gather(*settled), 60)  # every join announced: only roomLeft is measured
    start = time.perf_counter()
    r = await http.post(f"/meetings/{meeting}/active-session/kick-all")
    assert r.status_code == 200, r.text
    last = max(await asyncio.wait_for(asyncio.gather(*ended), 60))
    await asyncio.gather(*watchers, return_exceptions=True)
    await asyncio.gather(*(ws.close() for ws in sockets))
    return last - start


async def kick_all_fanout(n: int, repeat: int) -> list[float]:
    with ServedReference() as info:
        async with served_api(info) as http:
            return [await kick_all_once(http, info["realtime_url"], n) for _ in range(repeat)]


async def plain_broadcast(n: int, repeat: int) -> list[float]:
    server = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("_broadcast_server.py"))],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdin is not None and server.stdout is not None
        port = json.loads(server.stdout.readline())["port"]
        sockets = [await connect(f"ws://127.0.0.1:{port}", max_queue=None) for _ in range(n)]
        server.stdin.write(f"wait {n}\n")
        server.stdin.flush()
        assert await asyncio.to_thread(server.stdout.readline) == "ok\n"
        times = []
        for _ in range(repeat):
            receiving = [asyncio.ensure_future(ws.recv()) for ws in sockets]
            start = time.perf_counter()
            server.stdin.write("go\n")
            server.stdin.flush()
            await asyncio.wait_for(asyncio.gather(*receiving), 60)
            times.append(time.perf_counter() - start)
        await asyncio.gather(*(ws.close() for ws in sockets))
        return times
    finally:
        server.stdin.close()  # type: ignore[union-attr]
        server.wait(10)


def _ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:8.1f} {max(values) * 1000:8.1f}"


async def main(sizes: list[int], repeat: int) -> None:
    print(f"median and worst of {repeat} runs each, in ms")
    print(f"{'N':>6} {'kick-all→last roomLeft':>22} {'plain broadcast':>18} {'ratio':>7}")
    print(f"{'':>6} {'median':>13} {'worst':>8} {'median':>9} {'worst':>8} {'median':>7}")
    for n in sizes:
        fan = await kick_all_fanout(n, repeat)
        plain = await plain_broadcast(n, repeat)
        ratio = statistics.median(fan) / statistics.median(plain)
        print(f"{n:>6} {_ms(fan):>22} {_ms(plain):>18} {ratio:>6.2f}x", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main(args.n, args.repeat))
