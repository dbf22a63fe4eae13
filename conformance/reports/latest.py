"""`reports/latest`: the newest run. A relative symlink to `<run-id>/`; where the file system
cannot hold symlinks, a small text file holding the run id instead."""

from __future__ import annotations

import os
from pathlib import Path

LATEST = "latest"


def point(reports_dir: Path, run_id: str) -> Path:
    """Point reports/latest at reports/<run_id>, replacing the old pointer in one step."""
    link = reports_dir / LATEST
    staging = reports_dir / f".{LATEST}-{os.getpid()}"
    staging.unlink(missing_ok=True)
    try:
        staging.symlink_to(run_id, target_is_directory=True)
    except (OSError, NotImplementedError):
        staging.write_text(run_id + "\n", encoding="utf-8")
    if link.is_dir() and not link.is_symlink():
        raise OSError(f"{link} is a real folder; not replacing it with the latest-run pointer")
    os.replace(staging, link)  # atomic: readers see the old run or the new one, never neither
    return link


def resolve(path: Path) -> Path:
    """A run folder from what a user names: the folder itself, or a latest pointer (link or file)."""
    if path.is_file():
        run_id = path.read_text(encoding="utf-8").strip()
        return path.parent / run_id
    return path.resolve() if path.is_symlink() else path


def previous(reports_dir: Path, run_id: str) -> Path | None:
    """The run `latest` points at, unless that is this run (or nothing)."""
    link = reports_dir / LATEST
    if not (link.exists() or link.is_symlink()):
        return None
    target = resolve(link)
    if not target.is_dir() or target.name == run_id:
        return None
    return target
