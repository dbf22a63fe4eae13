"""`conformance serve`: one JSON line when ready, a working server, a clean stop on SIGTERM."""

from __future__ import annotations

import signal

import httpx

from tests.processes import isolated_env, serve


def test_serve_announces_itself_serves_and_stops_cleanly(tmp_path):
    env = isolated_env(RTK_REFERENCE_ADMIN_TOKEN="fixed-admin-token-for-scripts")
    args = ("--db", str(tmp_path / "ref.sqlite3"), "--host-grace-seconds", "30", "--test-clock")
    with serve(*args, env=env) as served:
        info = served.ready
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
    assert served.stop_seconds < 15
    assert served.returncode in (0, 143, -signal.SIGTERM)  # 143 = 128 + SIGTERM, the conventional clean stop
    assert "Traceback" not in served.stderr()
    assert (tmp_path / "ref.sqlite3").exists()
