"""The suite's pytest plugin stays in its lane: it registers no entry point, so a vendor's own
tests in the same environment (with their own `requirement` marker) run untouched; loaded on
purpose with `-p conformance.plugin`, it still leaves a test without its marker alone."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from pathlib import Path

import pytest

from tests.processes import isolated_env

VENDOR_TEST = """
import pytest


@pytest.mark.requirement("REQ-42")
def test_our_own_requirement():
    assert True
"""

VENDOR_CONFTEST = """
def pytest_configure(config):
    config.addinivalue_line("markers", "requirement(id): the vendor's own requirement tracker")
"""


def _run_in(folder: Path, command: list[str]) -> subprocess.CompletedProcess[str]:
    """`command` started in `folder`, as from a vendor's checkout, without the caller's settings."""
    return subprocess.run(
        command, cwd=folder, capture_output=True, text=True, timeout=120, env=isolated_env(), check=False
    )


def _pytest(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return _run_in(
        folder, [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--strict-markers", *args, str(folder)]
    )


@pytest.fixture
def vendor(tmp_path: Path) -> Path:
    (tmp_path / "test_vendor.py").write_text(VENDOR_TEST)
    (tmp_path / "conftest.py").write_text(VENDOR_CONFTEST)
    return tmp_path


def test_the_package_registers_no_pytest_plugin_entry_point():
    entry_points = importlib.metadata.distribution("realtimekit-conformance").entry_points
    assert not [e for e in entry_points if e.group == "pytest11"]


def test_a_vendor_test_with_its_own_requirement_marker_passes_untouched(vendor: Path):
    done = _pytest(vendor)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "1 passed" in done.stdout
    assert "rtkc" not in done.stdout.lower()  # no trace of the suite's options or lines


def test_with_the_plugin_loaded_on_purpose_the_vendor_marker_is_still_theirs(vendor: Path):
    done = _pytest(vendor, "-p", "conformance.plugin")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "1 passed" in done.stdout


def test_the_suite_marker_is_namespaced():
    from conformance.plugin import MARKER

    assert MARKER == "rtkc_requirement"


def test_the_engine_loads_no_conftest_of_the_folder_it_is_started_from(tmp_path: Path):
    """The other way round: a vendor's checkout has its own tests/conftest.py, and pytest loads
    the conftest of every test* folder of the working directory. The engine does not (it used
    to load this project's own tests/conftest.py the same way). Checked with `run --list`, the
    engine's collection: a conftest that breaks on import would stop it."""
    from tests.processes import CLI

    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "conftest.py").write_text("raise RuntimeError('a vendor conftest was loaded')\n")
    done = _run_in(tmp_path, [*CLI, "run", "--list", "--requirement", "KICK-01"])
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "conformance/scenarios/test_kick.py" in done.stdout
