"""report.html as a browser shows it: headless Chromium renders a fault run's report to a PNG
(must not be blank; the banner must be the failure colour) and dumps its DOM (the verdict and the
requirement rows must be there).

Chromium comes from Debian's `chromium` package. When it is missing, this test installs it
(root with apt-get only, as on CI); when it still cannot be had, the test fails, never skips.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import zlib
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.conftest import Ran

# Without the background-networking flags Chromium reaches out to the network on its own.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]
FAIL_RED = (0xB3, 0x26, 0x1E)  # the NOT CONFORMANT banner (html.py, --fail)


def _find_chromium() -> str | None:
    for candidate in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


@pytest.fixture(scope="module")
def chromium() -> str:
    found = _find_chromium()
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update"], env=env, capture_output=True, timeout=600, check=False)
        install = subprocess.run(
            ["apt-get", "install", "-y", "chromium"], env=env, capture_output=True, text=True, timeout=900, check=False
        )
        found = _find_chromium()
        if found:
            return found
        pytest.fail(f"apt-get install chromium failed (exit {install.returncode}): {install.stderr[-1500:]}")
    pytest.fail(
        "headless Chromium is needed to check report.html: install Debian's `chromium` package "
        "(apt-get install -y chromium) or run this test as root with apt-get available"
    )


@pytest.fixture(scope="module")
def report(faulty_run: Ran) -> Path:
    """The shared fault run's page (tests/conftest.py): END-02 fails, END-06 passes."""
    assert faulty_run.done.returncode == 1, faulty_run.output_tail()
    return faulty_run.run_dir / "report.html"


def _run_chromium(chromium: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile = tmp_path / "profile"
    profile.mkdir(exist_ok=True)
    return subprocess.run(
        [chromium, *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
    )


@pytest.mark.timeout(1500)  # the first use may install Chromium
def test_the_report_renders_to_a_non_blank_page_with_the_verdict_banner(chromium: str, report: Path, tmp_path: Path):
    shot = tmp_path / "report.png"
    done = _run_chromium(chromium, tmp_path, f"--screenshot={shot}", "--window-size=1000,700", report.as_uri())
    assert done.returncode == 0 and shot.is_file(), done.stderr[-2000:]
    width, height, rows = decode_png(shot.read_bytes(), max_rows=300)
    assert (width, height) == (1000, 700)
    colours = {pixel for row in rows for pixel in row[::7]}
    assert len(colours) > 20, f"the page looks blank: {len(colours)} colours"
    assert rows[5][5] == FAIL_RED, f"the banner is not the failure colour: {rows[5][5]}"
    whites = sum(1 for row in rows[250:] for p in row if p == (255, 255, 255))
    assert whites > 0  # the page body below the banner is drawn too


@pytest.mark.timeout(1500)
def test_the_dom_holds_the_verdict_and_the_requirement_rows(chromium: str, report: Path, tmp_path: Path):
    done = _run_chromium(chromium, tmp_path, "--dump-dom", report.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    dom = done.stdout
    banner = dom[dom.index('id="verdict"') : dom.index("</header>")]
    assert "<h1>NOT CONFORMANT</h1>" in banner
    row = dom[dom.index('<tr class="o-fail" id="req-END-02">') :]
    row = row[: row.index("</tr>")]
    assert "FAIL" in row and "roomLeft state after kick-all" in row
    # A restricted run has a row for each requirement it judged, and no other.
    assert dom.count('id="req-') == 2 and '<tr class="o-pass" id="req-END-06">' in dom
    failures = dom[dom.index('id="failures"') : dom.index('id="matrix"')]
    assert "HTTP exchanges" in failures and "Client events" in failures


# -- a PNG reader, enough for Chromium's 8-bit RGB(A) screenshots ------------------------------------


def decode_png(data: bytes, max_rows: int) -> tuple[int, int, list[list[tuple[int, int, int]]]]:
    """(width, height, the first `max_rows` rows of RGB pixels)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        (length,), kind = struct.unpack(">I", data[pos : pos + 4]), data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    assert header is not None
    width, height, depth, colour_type, _, _, interlace = header
    assert depth == 8 and colour_type in (2, 6) and interlace == 0, header
    channels = 4 if colour_type == 6 else 3
    raw = zlib.decompress(idat)
    stride = width * channels
    rows: list[list[tuple[int, int, int]]] = []
    previous = bytearray(stride)
    for y in range(min(height, max_rows)):
        kind = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        _unfilter(kind, line, previous, channels)
        rows.append([(line[x], line[x + 1], line[x + 2]) for x in range(0, stride, channels)])
        previous = line
    return width, height, rows


def _unfilter(kind: int, line: bytearray, previous: bytearray, bpp: int) -> None:
    for i in range(len(line)):
        left = line[i - bpp] if i >= bpp else 0
        up = previous[i]
        if kind == 1:
            line[i] = (line[i] + left) & 0xFF
        elif kind == 2:
            line[i] = (line[i] + up) & 0xFF
        elif kind == 3:
            line[i] = (line[i] + ((left + up) >> 1)) & 0xFF
        elif kind == 4:
            upper_left = previous[i - bpp] if i >= bpp else 0
            estimate = left + up - upper_left
            pa, pb, pc = abs(estimate - left), abs(estimate - up), abs(estimate - upper_left)
            best = left if pa <= pb and pa <= pc else up if pb <= pc else upper_left
            line[i] = (line[i] + best) & 0xFF
