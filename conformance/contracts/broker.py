"""Publishing verification results to a Pact Broker: optional, off by default.

With `[pact] publish = true`, `broker_url`, `provider_version` and the token in
RTKC_PACT_BROKER_TOKEN (or RTKC_PACT_BROKER_TOKEN_FILE), every committed pact whose
interactions were all verified in this run is published to the broker as consumer version
`<suite version>+<content digest>` (a broker only takes results for pacts it holds), and
the run's result is posted to that pact's `pb:publish-verification-results` link.

A run's checks may be spread over xdist workers. Each check appends its outcome to
`<run dir>/contracts/outcomes.jsonl`; a worker finishing its session publishes the pacts
it finds complete, and an exclusively created marker file makes that exactly one worker.
What happened to each pact is written to `<run dir>/contracts/broker-<pact>.json` (never
the token).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from conformance import __version__
from conformance.config import RunConfig
from conformance.contracts.pacts import Interaction, read
from conformance.outcomes import Outcome
from conformance.redaction import Redactor

OUTCOMES = "outcomes.jsonl"


def enabled(config: RunConfig) -> bool:
    return config.pact.publish


def record(config: RunConfig, run_dir: Path, interaction: Interaction, outcome: str) -> None:
    if not enabled(config):
        return
    folder = run_dir / "contracts"
    folder.mkdir(parents=True, exist_ok=True)
    line = json.dumps({"pact": interaction.source.name, "interaction": interaction.key, "outcome": outcome})
    with (folder / OUTCOMES).open("a", encoding="utf-8") as fh:  # one short append: atomic
        fh.write(line + "\n")


async def publish_when_complete(
    config: RunConfig,
    run_dir: Path,
    selected: Iterable[Interaction],
    *,
    transport: httpx.AsyncBaseTransport | None = None,
) -> None:
    """Publish each pact whose every interaction has an outcome in this run (once)."""
    if not enabled(config):
        return
    folder = run_dir / "contracts"
    outcomes = _outcomes(folder / OUTCOMES)
    selected = list(selected)
    chosen = {i.key for i in selected}
    for source in sorted({i.source for i in selected}):
        wanted = read(source)
        if any(i.key not in chosen for i in wanted):
            _note(folder, source.name, {"published": False, "why": "not every interaction was selected in this run"})
            continue
        got = outcomes.get(source.name, {})
        if any(i.key not in got for i in wanted) or not _claim(folder / f"published-{source.stem}"):
            continue  # another worker still verifies part of it, or has published it
        try:
            note = await publish(config, source, {i.description: got[i.key] for i in wanted}, transport=transport)
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            note = {"published": False, "why": Redactor(config.secrets()).redact_text(f"{type(exc).__name__}: {exc}")}
        _note(folder, source.name, note)


async def publish(
    config: RunConfig, source: Path, outcomes: dict[str, str], *, transport: httpx.AsyncBaseTransport | None = None
) -> dict[str, Any]:
    """Publish the pact, then the verification result; what the broker was told."""
    settings = config.pact
    content = source.read_bytes()
    pact = json.loads(content)
    consumer, provider = pact["consumer"]["name"], pact["provider"]["name"]
    version = f"{__version__}+{hashlib.sha256(content).hexdigest()[:12]}"
    success = all(outcome == Outcome.PASS for outcome in outcomes.values())
    headers = {"Authorization": f"Bearer {settings.broker_token}", "Accept": "application/hal+json"}
    pact_url = (
        f"{(settings.broker_url or '').rstrip('/')}/pacts/provider/{quote(provider, safe='')}"
        f"/consumer/{quote(consumer, safe='')}/version/{quote(version, safe='')}"
    )
    async with httpx.AsyncClient(
        headers=headers, timeout=config.limits.request_timeout_seconds, transport=transport
    ) as http:
        published = await http.put(pact_url, content=content, headers={"Content-Type": "application/json"})
        published.raise_for_status()
        link = _results_link(published) or _results_link((await http.get(pact_url)).raise_for_status())
        if link is None:
            raise KeyError("the broker's pact resource has no pb:publish-verification-results link")
        result = {
            "success": success,
            "providerApplicationVersion": settings.provider_version,
            "verifiedBy": {"implementation": "realtimekit-conformance", "version": __version__},
            "testResults": [
                {"interactionDescription": d, "success": o == Outcome.PASS} for d, o in sorted(outcomes.items())
            ],
        }
        (await http.post(link, json=result)).raise_for_status()
    return {
        "published": True,
        "consumer_version": version,
        "provider_version": settings.provider_version,
        "success": success,
    }


def _results_link(response: httpx.Response) -> str | None:
    try:
        return response.json()["_links"]["pb:publish-verification-results"]["href"]
    except (ValueError, KeyError, TypeError):
        return None


def _outcomes(path: Path) -> dict[str, dict[str, str]]:
    """pact file name -> interaction key -> outcome (the worst one, if recorded twice)."""
    rank = {Outcome.PASS: 0, Outcome.FAIL: 1, Outcome.ERROR: 2}
    found: dict[str, dict[str, str]] = {}
    if not path.exists():
        return found
    for line in path.read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        per_pact = found.setdefault(entry["pact"], {})
        old = per_pact.get(entry["interaction"], Outcome.PASS)
        per_pact[entry["interaction"]] = max(old, entry["outcome"], key=lambda o: rank.get(o, 2))
    return found


def _claim(marker: Path) -> bool:
    try:
        os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    return True


def _note(folder: Path, pact: str, note: dict[str, Any]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"broker-{Path(pact).stem}.json"
    path.write_text(json.dumps({"pact": pact, **note}, indent=2, sort_keys=True) + "\n", encoding="utf-8")
