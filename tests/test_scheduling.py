"""Under xdist the fuzz campaign's checks go, together, to a worker before anything else; so do
the model phase's (one walk per run, not one per worker)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conformance.config import load_config
from conformance.runner import RunRequest, pytest_command

RECORDING_TEST = """
import os
from pathlib import Path

def _record(name):
    with Path(os.environ["ORDER_LOG"]).open("a") as log:
        log.write(f"{os.environ.get('PYTEST_XDIST_WORKER')} {name}\\n")

"""


def _tree(root: Path) -> None:
    for phase, count in (("scenarios", 8), ("fuzz", 3), ("model", 5)):
        folder = root / "conformance" / phase
        folder.mkdir(parents=True)
        body = RECORDING_TEST + "".join(
            f"def test_{phase}_{i}():\n    _record('{phase}_{i}')\n\n" for i in range(count)
        )
        (folder / f"test_{phase}.py").write_text(body)


def _run(root: Path, *extra: str) -> list[tuple[str, str]]:
    log = root / "order.log"
    # As the runner starts its engine: only the plugins named (pytest_command, _child_env).
    engine = [sys.executable, "-m", "pytest", "-q", "-n", "2", "-p", "xdist.plugin", "-p", "conformance.plugin"]
    engine += ["-p", "no:cacheprovider", "--rootdir", str(root)]
    subprocess.run(
        [*engine, "conformance/scenarios", "conformance/model", "conformance/fuzz", *extra],  # the runner's order
        cwd=root,
        env={**os.environ, "ORDER_LOG": str(log), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"},
        check=True,
        capture_output=True,
        timeout=120,
    )
    return [tuple(line.split()) for line in log.read_text().splitlines()]  # type: ignore[misc]


@pytest.fixture(scope="module")
def scheduled(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, str]]:
    """One engine run with the flag, read by the two tests below."""
    root = tmp_path_factory.mktemp("scheduled")
    _tree(root)
    return _run(root, "--rtkc-campaign-first")


def test_the_fuzz_checks_share_one_worker_and_start_first(scheduled: list[tuple[str, str]]) -> None:
    fuzz = [(worker, name) for worker, name in scheduled if name.startswith("fuzz")]
    assert len(fuzz) == 3 and len({worker for worker, _ in fuzz}) == 1
    fuzz_worker = fuzz[0][0]
    first_on_that_worker = next(name for worker, name in scheduled if worker == fuzz_worker)
    assert first_on_that_worker.startswith("fuzz"), scheduled


def test_the_model_checks_share_one_worker(scheduled: list[tuple[str, str]]) -> None:
    """The walk runs in whichever model check comes first on a worker: one worker, one walk."""
    model = [worker for worker, name in scheduled if name.startswith("model")]
    assert len(model) == 5 and len(set(model)) == 1, scheduled


def test_without_the_flag_xdist_schedules_as_usual(tmp_path: Path) -> None:
    """Anyone else's xdist run with the plugin loaded (pytest -p conformance.plugin) is left alone."""
    _tree(tmp_path)
    ran = _run(tmp_path)
    assert not any(name.startswith("fuzz") for _, name in ran[:2]), ran


def test_the_runner_asks_for_it_whenever_it_runs_workers() -> None:
    config = load_config(None, {})
    assert "--rtkc-campaign-first" in pytest_command(RunRequest(), config, None, workers=2)
    assert "--rtkc-campaign-first" not in pytest_command(RunRequest(), config, None, workers=1)
