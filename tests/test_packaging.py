"""A non-editable install carries everything a run needs."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).parents[1]
# The fuzz phase fuzzes realtimekit.yaml; the reference answers inside Cloudflare's own
# description (API-01 judges by it); additions.toml says what the first adds to the second.
DESCRIPTIONS = ("realtimekit.yaml", "cloudflare-realtimekit-openapi.yaml", "additions.toml")


def test_the_wheel_carries_the_documents_the_catalogue_and_the_pacts(tmp_path):
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), "."],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr[-2000:]
    wheel = next(tmp_path.glob("realtimekit_conformance-*.whl"))
    archive = zipfile.ZipFile(wheel)
    names = set(archive.namelist())
    for needed in (
        *(f"conformance/_bundled/openapi/{name}" for name in DESCRIPTIONS),
        "conformance/_bundled/openapi/realtimekit-asyncapi.yaml",
        "conformance/_bundled/openapi/realtime-protocol.md",
        "conformance/catalogue.toml",
        "conformance/scenarios/test_end_session.py",
        "conformance/reference/faults/__init__.py",
    ):
        assert needed in names, f"{needed} is missing from the wheel"
    assert any(n.startswith("conformance/_bundled/pacts/") and n.endswith(".json") for n in names), (
        "the committed pacts are missing from the wheel"
    )
    for name in DESCRIPTIONS:  # byte for byte: the official one is verbatim, with a sha256 test
        bundled = archive.read(f"conformance/_bundled/openapi/{name}")
        assert bundled == (ROOT / "openapi" / name).read_bytes(), f"the wheel's {name} differs from openapi/{name}"
