"""`python -m tests.legal_variant`: serve the variant like `conformance serve` (one JSON line
when ready, then logs to stderr)."""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
from pathlib import Path

import uvicorn

from conformance.reference.app import ReferenceSettings
from conformance.reference.server import Endpoints, announcement, bind, uvicorn_config
from tests.legal_variant.app import build_variant
from tests.legal_variant.choices import ALL_CHOICES


def main() -> None:
    flags = argparse.ArgumentParser(prog="python -m tests.legal_variant")
    flags.add_argument("--host", default="127.0.0.1")
    flags.add_argument("--port", type=int, default=0)
    flags.add_argument("--test-clock", action="store_true")
    flags.add_argument("--host-grace-seconds", type=float, default=900.0)
    flags.add_argument(
        "--only", action="append", default=[], metavar="CHOICE", help="make just this choice (repeatable); default all"
    )
    args = flags.parse_args()
    db = str(Path(tempfile.mkdtemp(prefix="rtk-legal-variant-")) / "variant.sqlite3")
    settings = ReferenceSettings(db_path=db, host_grace_seconds=args.host_grace_seconds, test_clock=args.test_clock)
    variant = build_variant(settings, frozenset(args.only) if args.only else ALL_CHOICES)
    sock = bind(args.host, args.port)
    endpoints = Endpoints(args.host, sock.getsockname()[1])
    server = uvicorn.Server(uvicorn_config(variant))

    async def serve() -> None:
        task = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started and not task.done():
            await asyncio.sleep(0.005)  # uvicorn exposes no startup event; this is its flag
        if server.started:
            print(json.dumps(announcement(variant, endpoints)), flush=True)
        await task

    asyncio.run(serve())


if __name__ == "__main__":
    main()
