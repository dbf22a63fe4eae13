"""Consumer contract tests: `pytest contracts/` regenerates `contracts/pacts/`.

Each test builds one interaction on a fresh Pact handle and merges it into its consumer's
pact file. The files are written to a fresh staging directory and moved into `--pact-dir`
only when every consumer test ran and passed, so a failed or partial session (-k, one file)
never leaves half a contract behind, and a run reading the committed pacts meanwhile never
finds the directory empty.
The staging directory is made once, on the xdist controller; workers (started after
configure) inherit its path through the environment.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

PACTS = Path(__file__).parent / "pacts"
STAGING = "RTKC_PACT_STAGING_DIR"

os.environ.setdefault("PACT_DO_NOT_TRACK", "true")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--pact-dir", default=str(PACTS), help="where the consumer tests write pact files")


def pytest_configure(config: pytest.Config) -> None:
    if not hasattr(config, "workerinput"):
        os.environ[STAGING] = tempfile.mkdtemp(prefix="rtkc-pacts-")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if hasattr(session.config, "workerinput"):
        return
    staged = Path(os.environ.pop(STAGING))
    target = Path(session.config.getoption("--pact-dir"))
    if exitstatus == 0 and _every_consumer_test_ran(session.config):
        target.mkdir(parents=True, exist_ok=True)
        fresh = {path.name for path in staged.glob("*.json")}
        for path in staged.glob("*.json"):
            shutil.copyfile(path, target / f".{path.name}.new")
            os.replace(target / f".{path.name}.new", target / path.name)  # atomic per file
        for stale in target.glob("*.json"):
            if stale.name not in fresh:
                stale.unlink()
    shutil.rmtree(staged, ignore_errors=True)


def _every_consumer_test_ran(config: pytest.Config) -> bool:
    """A selection (-k, -m, --deselect, one file or test) would write partial contracts."""
    option = config.option
    if option.keyword or option.markexpr or getattr(option, "deselect", None):
        return False
    return all("::" not in arg and Path(arg).is_dir() for arg in config.args)


@pytest.fixture
def pact_dir() -> Path:
    return Path(os.environ[STAGING])
