"""Shared bits for the benchmarks: a reference server and a client to drive it."""

from __future__ import annotations

import statistics
from collections.abc import Sequence

import httpx

from conformance.reference.app import ReferenceSettings
from conformance.reference.server import ThreadedServer


def reference(**settings: object) -> ThreadedServer:
    return ThreadedServer(ReferenceSettings(**settings)).start()  # type: ignore[arg-type]


def api(server: ThreadedServer) -> httpx.AsyncClient:
    assert server.reference is not None and server.endpoints is not None
    creds = server.reference.settings.credentials
    base = f"{server.endpoints.base_url}/accounts/{creds.account_id}/realtime/kit/{creds.app_id}"
    return httpx.AsyncClient(base_url=base, headers={"authorization": f"Bearer {creds.admin_token}"}, timeout=30)


def percentile(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


def describe(values: Sequence[float]) -> str:
    return (
        f"n={len(values)} p50={percentile(values, 50) * 1000:.2f}ms p99={percentile(values, 99) * 1000:.2f}ms "
        f"mean={statistics.fmean(values) * 1000:.2f}ms max={max(values) * 1000:.2f}ms"
    )


class ServedReference:
    """`conformance serve` in its own process, so the clients under test do not share its CPU time."""

    def __enter__(self) -> dict:
        import json
        import subprocess
        import sys

        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "conformance.cli",
                "serve",
                "--port",
                "0",
                "--db",
                ":memory:",
                "--log-level",
                "warning",
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        self.info = json.loads(self.proc.stdout.readline())
        return self.info

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def served_api(info: dict) -> httpx.AsyncClient:
    base = f"{info['base_url']}/accounts/{info['account_id']}/realtime/kit/{info['app_id']}"
    return httpx.AsyncClient(base_url=base, headers={"authorization": f"Bearer {info['api_token']}"}, timeout=60)
