"""`conformance serve`: one JSON line when ready, a working server, a clean stop on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import httpx


def test_serve_announces_itself_serves_and_stops_cleanly(tmp_path):
    env = {**os.environ, "RTK_REFERENCE_ADMIN_TOKEN": "fixed-admin-token-for-scripts"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "conformance.cli",
            "serve",
            "--port",
            "0",
            "--db",
            str(tmp_path / "ref.sqlite3"),
            "--host-grace-seconds",
            "30",
            "--test-clock",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        line = proc.stdout.readline()  # blocks until ready; the process dies (EOF) if it cannot start
        info = json.loads(line)
        assert info["base_url"].endswith("/client/v4")
        assert info["realtime_url"].startswith("ws://127.0.0.1:")
        assert info["api_token"] == "fixed-admin-token-for-scripts"
        assert info["host_grace_seconds"] == 30 and info["test_clock"] is True
        prefix = f"{info['base_url']}/accounts/{info['account_id']}/realtime/kit/{info['app_id']}"
        answer = httpx.post(
            f"{prefix}/meetings",
            json={"title": "serve"},
            timeout=5,
            headers={"authorization": f"Bearer {info['api_token']}"},
        )
        assert answer.status_code == 201
    finally:
        proc.send_signal(signal.SIGTERM)
        started = time.monotonic()
        proc.wait(timeout=15)
    assert time.monotonic() - started < 15
    assert proc.returncode in (0, 143, -signal.SIGTERM)  # 143 = 128 + SIGTERM, the conventional clean stop
    assert "Traceback" not in proc.stderr.read()
    assert (tmp_path / "ref.sqlite3").exists()
