"""Undo what a fuzz campaign created on the target.

Meetings cannot be deleted through the API, so they are set INACTIVE; webhooks and presets
are deleted; participants and recordings live inside the run's own meetings. Besides the
ledger the hooks kept, a sweep looks for anything else named with the campaign's prefix (a
request the target should have refused but did not may still have created something).
Nothing is touched that neither the ledger nor the prefix ties to this campaign.
"""

from __future__ import annotations

from collections.abc import Awaitable, Iterable
from typing import Any

from conformance.client import ApiClient, ApiResponse
from conformance.errors import ConformanceError

PAGE = 100
MAX_PAGES = 50  # a sweep reads at most this many pages of a list


async def clean_up(api: ApiClient, ledger: Iterable[dict[str, Any]], prefix: str) -> list[str]:
    """Retire everything of this campaign; returns what could not be removed."""
    created: dict[str, list[str]] = {"meeting": [], "webhook": [], "preset": []}
    for entry in ledger:
        if entry.get("kind") in created and entry.get("id"):
            created[entry["kind"]].append(str(entry["id"]))
    left: list[str] = []
    swept = await _named_with(api, prefix, left)
    for kind, ids in swept.items():
        created[kind] += [i for i in ids if i not in created[kind]]
    for meeting_id in created["meeting"]:
        await _attempt(left, f"meeting {meeting_id}", api.update_meeting(meeting_id, status="INACTIVE"), (200,))
    for webhook_id in created["webhook"]:
        # 404: the fuzzer deleted it already.
        await _attempt(left, f"webhook {webhook_id}", api.delete_webhook(webhook_id), (200, 404))
    for preset_id in created["preset"]:
        await _attempt(left, f"preset {preset_id}", api.delete_preset(preset_id), (200, 404))
    return left


async def _attempt(left: list[str], what: str, call: Awaitable[ApiResponse], ok: tuple[int, ...]) -> None:
    try:
        response = await call
    except ConformanceError as exc:  # cleanup goes on whatever the target does
        left.append(f"{what} ({exc})")
        return
    if response.status not in ok:
        left.append(f"{what} (cleanup answered {response.status})")


async def _named_with(api: ApiClient, prefix: str, left: list[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {"meeting": [], "webhook": [], "preset": []}
    try:
        for meeting in await _pages(api, "/meetings", {"search": prefix, "status": "ACTIVE"}):
            if str(meeting.get("title") or "").startswith(prefix):
                found["meeting"].append(meeting["id"])
        for preset in await _pages(api, "/presets", {}):
            if str(preset.get("name") or "").startswith(prefix):
                found["preset"].append(preset["id"])
        webhooks = await api.list_webhooks()
        for webhook in webhooks.data if isinstance(webhooks.data, list) else []:
            if str(webhook.get("name") or "").startswith(prefix):
                found["webhook"].append(webhook["id"])
    except (ConformanceError, KeyError, TypeError) as exc:
        left.append(f"the sweep for resources named {prefix!r} did not finish ({exc})")
    return found


async def _pages(api: ApiClient, path: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for page in range(1, MAX_PAGES + 1):
        response = await api.request("GET", path, params={**params, "per_page": PAGE, "page_no": page})
        data = response.data
        if response.status != 200 or not isinstance(data, list):
            break
        items += [item for item in data if isinstance(item, dict)]
        if len(data) < PAGE:
            break
    return items
