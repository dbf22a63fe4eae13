"""Cleanup that does not depend on a run ending well.

Everything the suite creates on a target is named with its run's tag (`rtkc-…`): meeting
titles, webhook and preset names. Before a run, a sweep retires what earlier runs of this
suite left behind — only resources with the suite's prefix, only other runs', and only those
older than `stale_after` (so two runs sharing a staging box never sweep each other's live
resources). After a run, a sweep retires everything tagged with that run, even if its test
process crashed or was interrupted. Meetings cannot be deleted through the API: they are set
INACTIVE; webhooks and presets are deleted. What could not be cleaned is reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from conformance.client import ApiClient
from conformance.errors import ConformanceError

SUITE_PREFIX = "rtkc-"
MAX_PAGES = 50  # a bound on listing, whatever the target says about its totals
PER_PAGE = 100


def run_tag(run_id: str) -> str:
    """The marker every resource of a run carries at the start of its name."""
    return run_id if run_id.startswith(SUITE_PREFIX) else SUITE_PREFIX + run_id


@dataclass
class SweepReport:
    retired: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def summary(self) -> str:
        text = f"cleanup: {len(self.retired)} retired"
        if self.failed:
            text += f", {len(self.failed)} could not be cleaned: " + "; ".join(self.failed[:10])
        return text


class Sweeper:
    def __init__(self, api: ApiClient, report: SweepReport | None = None) -> None:
        self.api = api
        self.report = report or SweepReport()

    async def current(self, run_id: str) -> SweepReport:
        """Retire everything this run created."""
        tag = run_tag(run_id)
        await self._sweep(lambda name, created: name.startswith(tag))
        return self.report

    async def stale(self, run_id: str, stale_after_seconds: float, now: datetime | None = None) -> SweepReport:
        """Retire other runs' leftovers older than `stale_after_seconds`."""
        tag = run_tag(run_id)
        now = now or datetime.now(UTC)

        def leftover(name: str, created: datetime | None) -> bool:
            old = created is not None and (now - created).total_seconds() > stale_after_seconds
            return name.startswith(SUITE_PREFIX) and not name.startswith(tag) and old

        await self._sweep(leftover)
        return self.report

    async def _sweep(self, wanted: Any) -> None:
        try:
            for meeting in await self._pages("/meetings", {"search": SUITE_PREFIX, "status": "ACTIVE"}):
                if wanted(meeting.get("title") or "", _when(meeting)) and meeting.get("status") == "ACTIVE":
                    await self._do(
                        f"meeting {meeting.get('id')}", self.api.update_meeting(meeting["id"], status="INACTIVE")
                    )
            for webhook in await self._list("/webhooks"):
                if wanted(webhook.get("name") or "", _when(webhook)):
                    await self._do(f"webhook {webhook.get('id')}", self.api.delete_webhook(webhook["id"]))
            for preset in await self._pages("/presets", {}):
                if wanted(preset.get("name") or "", _when(preset)):
                    await self._do(f"preset {preset.get('name')}", self.api.delete_preset(preset["id"]))
        except ConformanceError as error:
            self.report.failed.append(f"sweep stopped: {error}")

    async def _do(self, what: str, call: Any) -> None:
        try:
            response = await call
        except ConformanceError as error:
            self.report.failed.append(f"{what} ({error})")
            return
        if response.status in (200, 204, 404):
            self.report.retired.append(what)
        else:
            self.report.failed.append(f"{what} (answered {response.status})")

    async def _list(self, path: str) -> list[dict[str, Any]]:
        response = await self.api.request("GET", path)
        data = response.json.get("data") if response.status == 200 and isinstance(response.json, dict) else None
        if not isinstance(data, list):
            raise _ListingFailed(f"GET {path} answered {response.status}; cannot list what to clean")
        return [d for d in data if isinstance(d, dict) and "id" in d]

    async def _pages(self, path: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for page in range(1, MAX_PAGES + 1):
            response = await self.api.request("GET", path, params={**params, "page_no": page, "per_page": PER_PAGE})
            data = response.json.get("data") if response.status == 200 and isinstance(response.json, dict) else None
            if not isinstance(data, list):
                raise _ListingFailed(f"GET {path} answered {response.status}; cannot list what to clean")
            found += [d for d in data if isinstance(d, dict) and "id" in d]
            if len(data) < PER_PAGE:
                break
        return found


class _ListingFailed(ConformanceError):
    pass


def _when(doc: dict[str, Any]) -> datetime | None:
    value = doc.get("created_at")
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
