"""`report.html`: the run for people, as one self-contained page (inline CSS, no script, no
fetches; a Content-Security-Policy forbids any). Readable at 3 a.m.: the verdict first, then
what failed with its message, how to reproduce it and what was exchanged, then the matrix.

Order: verdict banner → expectation problems → verdict by profile → failures in the order
their causes happened (each with message, reproduction, the event stream around the verdict
for a realtime failure or the exchange as curl, collapsible evidence) → comparison with an earlier run → requirement
matrix → every check → evidence files → configuration (redacted).
"""

from __future__ import annotations

import json
import re
import shlex
from html import escape
from pathlib import Path

from conformance.catalogue import PROFILES
from conformance.evidence_log import Event, Exchange, curl
from conformance.outcomes import NOT_PASSED, Outcome, word, worst
from conformance.reports.evidence_files import check_stem, read_evidence
from conformance.reports.names import check_name
from conformance.reports.stream import Check, Run
from conformance.verdict import Verdict

NAME = "report.html"
MAX_BODY_SHOWN = 16 * 1024
_EVIDENCE_REF = re.compile(r"\[evidence (\w+)\]")

_CSS = """
:root { --fail:#b3261e; --pass:#1e7b34; --warn:#8a5a00; --err:#6b3fa0; --muted:#5f6368; --line:#dadce0; }
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0; color: #202124; }
main { padding: 0 24px 48px; max-width: 1400px; }
.banner { padding: 20px 24px; color: #fff; }
.banner h1 { margin: 0; font-size: 34px; letter-spacing: .02em; }
.banner p { margin: 4px 0 0; }
.b-0 { background: var(--pass); } .b-1 { background: var(--fail); } .b-2 { background: var(--warn); }
.meta { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 12px 0 0; font-size: 14px; }
.meta dt { opacity: .85; } .meta dd { margin: 0; word-break: break-all; }
nav { padding: 8px 24px; border-bottom: 1px solid var(--line); font-size: 14px; }
nav a { margin-right: 16px; }
h2 { margin: 28px 0 8px; font-size: 22px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
table { border-collapse: collapse; width: 100%; font-size: 14px; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: #f1f3f4; }
.badge { display: inline-block; min-width: 64px; text-align: center; padding: 1px 6px; border-radius: 4px;
         font-weight: 600; font-size: 13px; color: #fff; background: var(--muted); }
.o-pass .badge, .badge.o-pass { background: var(--pass); }
.o-fail .badge, .badge.o-fail { background: var(--fail); }
.o-warning .badge, .badge.o-warning { background: var(--warn); }
.o-error .badge, .badge.o-error, .o-not_run .badge, .badge.o-not_run { background: var(--err); }
.o-expected_failure .badge, .badge.o-expected_failure { background: #8c8c8c; }
.o-disabled .badge, .badge.o-disabled { background: #bdc1c6; color: #202124; }
tr.o-fail td { background: #fce8e6; } tr.o-error td, tr.o-not_run td { background: #f3e8fd; }
tr.o-warning td { background: #fef7e0; }
.problem { border-left: 6px solid var(--fail); background: #fce8e6; padding: 8px 12px; margin: 8px 0; }
.failure { border: 1px solid var(--line); border-left: 6px solid var(--fail); border-radius: 4px;
           padding: 8px 16px 12px; margin: 12px 0; }
.failure.o-error, .failure.o-not_run { border-left-color: var(--err); }
.failure.o-warning { border-left-color: var(--warn); }
.failure.o-expected_failure { border-left-color: #8c8c8c; }
.failure h3 { margin: 4px 0; font-size: 17px; }
.message { font-weight: 600; white-space: pre-wrap; }
.muted { color: var(--muted); }
pre { background: #f8f9fa; border: 1px solid var(--line); padding: 8px; overflow-x: auto;
      white-space: pre-wrap; word-break: break-all; font-size: 12.5px; margin: 4px 0; }
details { margin: 4px 0; } summary { cursor: pointer; }
details.exchange { border-left: 3px solid var(--line); padding-left: 8px; }
details.cited { border-left-color: var(--fail); }
code { font-size: 13px; word-break: break-all; }
td { overflow-wrap: break-word; } td a, td.wrap { overflow-wrap: anywhere; }
td:first-child, .badge { white-space: nowrap; }
"""


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _badge(outcome: str) -> str:
    return f'<span class="badge o-{_e(outcome)}">{_e(word(outcome))}</span>'


def _pretty(body: str | None) -> str:
    if body is None:
        return ""
    try:
        text = json.dumps(json.loads(body), indent=2, ensure_ascii=False)
    except ValueError:
        text = body
    if len(text) > MAX_BODY_SHOWN:
        text = text[:MAX_BODY_SHOWN] + f"\n…[{len(text) - MAX_BODY_SHOWN} more characters in the evidence file]"
    return text


def _headers(headers: dict[str, str]) -> str:
    return "\n".join(f"{k}: {v}" for k, v in headers.items())


# -- pieces ------------------------------------------------------------------------------------


def _banner(run: Run) -> str:
    m = run.meta
    explain = {
        0: "every MUST of every claimed profile passed",
        1: "the implementation failed a requirement"
        + (" (or an expectation entry is stale or expired)" if run.expectation_problems else ""),
    }.get(m.exit_code, "the suite could not run every claimed check: this says nothing either way")
    rows = [
        ("target", m.target),
        ("run", m.run_id),
        ("started", f"{m.started_at} ({m.seconds:.1f}s)"),
        ("profiles claimed", ", ".join(m.profiles) or "none"),
        ("phases", ", ".join(m.phases)),
        ("selection", ", ".join(m.requirements) or "every claimed requirement"),
        ("suite", f"realtimekit-conformance {m.suite_version}, catalogue {m.catalogue_version}"),
        ("openapi sha256", m.openapi_sha256),
    ]
    if m.faults:
        rows.append(("reference faults", ", ".join(m.faults)))
    if m.rerun_of:
        rows.append(("re-run of", m.rerun_of))
    if m.expectations_file:
        rows.append(("expectations", m.expectations_file))
    if run.certificate_refusal:
        rows.append(("certificate", f"not issued: {run.certificate_refusal}"))
    else:
        rows.append(("certificate", "issued: certificate.json"))
    if m.reason:
        rows.append(("reason", m.reason))
    meta = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in rows)
    return (
        f'<header class="banner b-{min(m.exit_code, 2)}" id="verdict"><h1>{_e(run.verdict_word)}</h1>'
        f'<p>{_e(explain)}</p><dl class="meta">{meta}</dl></header>'
    )


def _profiles(run: Run) -> str:
    rows = []
    for profile in PROFILES:
        verdicts = [v for v in run.verdicts if v.requirement.profile == profile]
        if not verdicts:
            continue
        claimed = profile in run.meta.profiles
        musts = [v for v in verdicts if v.requirement.level == "MUST"]
        shoulds = [v for v in verdicts if v.requirement.level == "SHOULD"]
        passed = sum(1 for v in musts if v.outcome == Outcome.PASS)
        warned = sum(1 for v in shoulds if v.outcome == Outcome.WARNING)
        # The worst MUST verdict, or a warning when only SHOULDs fell short.
        judged = [v.outcome for v in musts] + [Outcome.WARNING] * bool(warned)
        overall = worst([Outcome.PASS, *judged]) if claimed else Outcome.DISABLED
        rows.append(
            f'<tr class="o-{overall}"><td>{_e(profile)}</td><td>{"yes" if claimed else "no"}</td>'
            f"<td>{passed} / {len(musts)}</td><td>{warned} / {len(shoulds)}</td><td>{_badge(overall)}</td></tr>"
        )
    return (
        '<section id="profiles"><h2>Verdict by profile</h2><table><thead><tr><th>profile</th><th>claimed</th>'
        "<th>MUST passed</th><th>SHOULD warnings</th><th>verdict</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table></section>"
    )


def _reproduce(run: Run, check: Check) -> str:
    args = ["conformance", "run", *run.meta.reproduce]
    for rid in check.requirements:
        args += ["--requirement", rid]
    return shlex.join(args)


def _exchange(x: Exchange, cited: bool, cleanup: bool) -> str:
    status = x.status if x.status is not None else f"no answer ({x.error})"
    summary = f"{x.id} · {x.method} {x.url} → {status} ({x.duration_ms:.0f} ms)" + (" · cleanup" if cleanup else "")
    parts = [f"<b>request</b><pre>{_e(x.method)} {_e(x.url)}\n{_e(_headers(x.request_headers))}</pre>"]
    if x.request_body:
        parts.append(f"<pre>{_e(_pretty(x.request_body))}</pre>")
    parts.append(f"<b>response</b><pre>{_e(status)}\n{_e(_headers(x.response_headers))}</pre>")
    if x.response_body:
        parts.append(f"<pre>{_e(_pretty(x.response_body))}</pre>")
    parts.append(f"<b>reproduce</b> <span class=muted>(export RTK_API_TOKEN first)</span><pre>{_e(curl(x))}</pre>")
    attributes = ' class="exchange cited" open' if cited else ' class="exchange"'
    return f"<details{attributes}><summary>{_e(summary)}</summary>{''.join(parts)}</details>"


def _events(title: str, events: list[Event]) -> str:
    rows = "".join(
        f"<tr><td>{_e(ev.id)}</td><td>{_e(ev.at)}</td><td><pre>{_e(json.dumps(ev.payload, indent=1)[:MAX_BODY_SHOWN])}"
        "</pre></td></tr>"
        for ev in events
    )
    return (
        f"<details><summary>{_e(title)} ({len(events)})</summary><table><thead><tr><th>id</th><th>at</th>"
        f"<th>what</th></tr></thead><tbody>{rows}</tbody></table></details>"
    )


def _links(paths: list[str]) -> str:
    return ", ".join(f'<a href="{_e(p)}">{_e(p)}</a>' for p in paths)


def _event_stream(events: list[Event], decided_at: str, before: int = 12, after: int = 3) -> str:
    """The client events just before (and right after, shaded) the check's verdict, open."""
    cut = next((i for i, ev in enumerate(events) if decided_at and ev.at > decided_at), len(events))
    start = max(0, cut - before)
    rows = []
    for index, ev in enumerate(events[start : cut + after], start):
        shade = ' class="o-warning"' if index >= cut else ""
        payload = _e(json.dumps(ev.payload)[:600])
        rows.append(f"<tr{shade}><td>{_e(ev.id)}</td><td>{_e(ev.at)}</td><td><code>{payload}</code></td></tr>")
    return (
        f'<b>the event stream around the verdict</b> <span class="muted">({len(rows)} of {len(events)} client '
        'events; after the verdict: shaded)</span><table class="events"><thead><tr><th>id</th><th>at</th>'
        f"<th>event</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _failure(run: Run, check: Check, verdicts: dict[str, Verdict], same_as: str = "") -> str:
    reqs = " ".join(
        f"{_e(rid)} · {_e(verdicts[rid].requirement.level)} · {_e(verdicts[rid].requirement.profile)}"
        if rid in verdicts
        else _e(rid)
        for rid in check.requirements
    )
    texts = "".join(
        f'<p class="muted">{_e(rid)}: {_e(verdicts[rid].requirement.text)}</p>'
        for rid in check.requirements
        if rid in verdicts
    )
    notes = "".join(
        f'<p class="muted">expected to fail: {_e(verdicts[rid].expectation.reason)}</p>'
        for rid in check.requirements
        if rid in verdicts and verdicts[rid].expectation is not None
    )
    exchanges: list[Exchange] = []
    events: list[Event] = []
    for relative in check.evidence:
        if relative.endswith(".json"):
            xs, evs = read_evidence(run.run_dir / relative)
            exchanges += xs
            events += evs
    cited = set(_EVIDENCE_REF.findall(check.message))

    def cleanup(x: Exchange) -> bool:
        return bool(check.decided_at) and x.started_at > check.decided_at

    during = [x for x in exchanges if not cleanup(x)]
    curl_for = next((x for x in exchanges if x.id in cited), during[-1] if during else None)
    client_events = [ev for ev in events if ev.kind == "client-event"]
    # A realtime failure: what the participants saw around the verdict is the evidence, not the
    # last REST call (typically the POST that added a participant).
    realtime = bool(client_events) and not cited
    body = [
        f'<article class="failure o-{_e(check.outcome)}" id="check-{_e(check_stem(check.nodeid))}">',
        f"<h3>{_badge(check.outcome)} {_e(check_name(check.nodeid, check.requirements))}</h3>",
        f'<p class="muted">{reqs} · <code>{_e(check.nodeid)}</code> ({check.duration:.2f}s)</p>',
        texts,
        notes,
        f'<p class="message">{_e(check.message or "(no message)")}</p>',
        f'<p class="muted">{_e(same_as)}</p>' if same_as else "",
        f"<b>reproduce</b><pre>{_e(_reproduce(run, check))}</pre>",
    ]
    if realtime:
        body.append(_event_stream(client_events, check.decided_at))
    elif curl_for is not None:
        label = "the cited exchange" if curl_for.id in cited else "the check's last exchange before its verdict"
        body.append(
            f"<b>{label}, as curl</b> <span class=muted>(export RTK_API_TOKEN first)</span>"
            f"<pre>{_e(curl(curl_for))}</pre>"
        )
    body.append(
        f"<details{' open' if cited else ''}><summary>HTTP exchanges ({len(exchanges)})</summary>"
        + "".join(_exchange(x, x.id in cited, cleanup(x)) for x in exchanges)
        + "</details>"
    )
    by_kind: dict[str, list[Event]] = {}
    for ev in events:
        by_kind.setdefault(ev.kind, []).append(ev)
    titles = {"client-event": "Client events", "webhook.delivery": "Webhook deliveries"}
    for kind in ("client-event", "webhook.delivery", *sorted(set(by_kind) - set(titles))):
        body.append(_events(titles.get(kind, kind), by_kind.get(kind, [])))
    if check.evidence:
        body.append(f"<p>evidence files: {_links(check.evidence)}</p>")
    body.append("</article>")
    return "".join(body)


def by_cause(checks: list[Check]) -> list[Check]:
    """Failures in the order their causes happened: the requirement that failed first leads
    with its first failing check; warnings and expected failures come after every failure."""
    failing = [c for c in checks if c.outcome in NOT_PASSED]
    first: dict[str, str] = {}
    for c in sorted(failing, key=lambda c: c.decided_at or "~"):
        for rid in c.requirements:
            first.setdefault(rid, c.decided_at or "~")

    def key(c: Check) -> tuple[int, str, str, str]:
        tier = 1 if c.outcome in (Outcome.WARNING, Outcome.EXPECTED_FAILURE) else 0
        earliest = min(first.get(rid, "~") for rid in c.requirements)
        return (tier, earliest, c.decided_at or "~", c.nodeid)

    return sorted(failing, key=key)


def _same_cause(checks: list[Check]) -> dict[str, str]:
    """A check whose message repeats an earlier failure's failed for that cause: say so."""
    seen: dict[str, Check] = {}
    notes = {}
    for c in checks:
        message = _EVIDENCE_REF.sub("", c.message).strip()
        if not message:
            continue
        if message in seen:
            earlier = seen[message]
            notes[c.nodeid] = f"same failure as {check_name(earlier.nodeid, earlier.requirements)} (above)"
        else:
            seen[message] = c
    return notes


def _failures(run: Run, verdicts: dict[str, Verdict]) -> str:
    failing = by_cause(run.checks)
    same = _same_cause(failing)
    # A claimed requirement no check reported on is a failure to run, shown too.
    silent = [v for v in run.verdicts if v.outcome == Outcome.NOT_RUN and not v.checks]
    if not failing and not silent:
        return '<section id="failures"><h2>Failures</h2><p>None: every check that ran passed.</p></section>'
    cards = "".join(_failure(run, c, verdicts, same.get(c.nodeid, "")) for c in failing)
    cards += "".join(
        f'<article class="failure o-not_run"><h3>{_badge(Outcome.NOT_RUN)} {_e(v.requirement.id)} · '
        f"{_e(v.requirement.level)} · {_e(v.requirement.profile)}</h3><p class=message>{_e(v.message)}</p>"
        "</article>"
        for v in silent
    )
    return f'<section id="failures"><h2>Failures ({len(failing) + len(silent)})</h2>{cards}</section>'


def _problems(run: Run) -> str:
    if not run.expectation_problems:
        return ""
    items = "".join(f'<p class="problem">{_e(p)}</p>' for p in run.expectation_problems)
    return f'<section id="problems"><h2>Expectation file problems</h2>{items}</section>'


def _comparison(run: Run) -> str:
    c = run.comparison
    if c is None:
        if not run.comparison_note:
            return ""
        return f'<section id="comparison"><h2>No comparison</h2><p>{_e(run.comparison_note)}</p></section>'
    note = f"<p>Note: {_e(run.comparison_note)}</p>" if run.comparison_note else ""
    parts = [
        f'<section id="comparison"><h2>Compared with {_e(c.before_id)}</h2>{note}',
        f"<p>{len(c.new_failures)} new failure(s), {len(c.fixed)} fixed, {len(c.flipped)} flipped, "
        f"{c.unchanged} unchanged, {c.only_after} new passing check(s), "
        f"{len(c.only_before)} check(s) only in {_e(c.before_id)}.</p>",
    ]
    for title, changes in (("New failures", c.new_failures), ("Fixed", c.fixed), ("Flipped", c.flipped)):
        if not changes:
            continue
        rows = "".join(
            f'<tr class="o-{_e(ch.after)}"><td>{_e(ch.label)}</td><td>{_e(",".join(ch.requirements))}</td>'
            f"<td><code>{_e(ch.nodeid)}</code></td><td>{_e(ch.message if ch.after != Outcome.PASS else '')}</td></tr>"
            for ch in changes
        )
        parts.append(
            f"<h3>{title} ({len(changes)})</h3><table><thead><tr><th>change</th><th>requirement</th>"
            f"<th>check</th><th>message</th></tr></thead><tbody>{rows}</tbody></table>"
        )
    parts.append("</section>")
    return "".join(parts)


def _matrix(run: Run) -> str:
    rows = []
    for v in run.verdicts:
        r = v.requirement
        checks = run.checks_of(r.id)
        links = "<br>".join(
            f'<a href="#check-{_e(check_stem(c.nodeid))}">{_e(c.name)}</a>' if c.outcome in NOT_PASSED else _e(c.name)
            for c in checks
        )
        detail = v.message if v.outcome != Outcome.PASS or v.note else ""
        if v.outcome == Outcome.DISABLED:
            detail = "profile not claimed"
        rows.append(
            f'<tr class="o-{_e(v.outcome)}" id="req-{_e(r.id)}"><td><b>{_e(r.id)}</b></td><td>{_e(r.level)}</td>'
            f"<td>{_e(r.profile)}</td><td>{_badge(v.outcome)}</td><td>{_e(r.text)}</td><td class=wrap>{links}</td>"
            f"<td class=wrap>{_e(detail)}</td></tr>"
        )
    return (
        '<section id="matrix"><h2>Requirement matrix</h2><table><thead><tr><th>requirement</th><th>level</th>'
        "<th>profile</th><th>verdict</th><th>requirement text</th><th>checks</th><th>detail</th></tr></thead>"
        "<tbody>" + "".join(rows) + "</tbody></table></section>"
    )


def _checks(run: Run) -> str:
    rows = "".join(
        f'<tr class="o-{_e(c.outcome)}"><td>{_badge(c.outcome)}</td><td>{_e(",".join(c.requirements))}</td>'
        f"<td>{_e(c.phase)}</td><td>{_e(check_name(c.nodeid, c.requirements))}<br><code class=muted>"
        f"{_e(c.nodeid)}</code></td><td>{c.duration:.2f}s</td>"
        f"<td>{_links(c.evidence)}</td></tr>"
        for c in run.checks
    )
    return (
        '<section id="checks"><h2>Every check</h2><table><thead><tr><th>outcome</th><th>requirement</th>'
        "<th>phase</th><th>check</th><th>time</th><th>evidence</th></tr></thead><tbody>"
        + rows
        + "</tbody></table></section>"
    )


def _evidence_files(run: Run) -> str:
    items = "".join(f'<li><a href="{_e(p)}">{_e(p)}</a></li>' for p in run.evidence_files)
    return (
        f'<section id="evidence"><h2>Evidence files ({len(run.evidence_files)})</h2>'
        f"<details><summary>every file under evidence/</summary><ul>{items}</ul></details></section>"
    )


def _config(run: Run) -> str:
    text = json.dumps(run.meta.config, indent=2, ensure_ascii=False, default=str)
    return (
        f'<section id="config"><h2>Configuration</h2><details><summary>as the run saw it (tokens shown only '
        f"as set or unset)</summary><pre>{_e(text)}</pre></details></section>"
    )


def render(run: Run) -> str:
    verdicts = {v.requirement.id: v for v in run.verdicts}
    nav = "".join(
        f'<a href="#{a}">{t}</a>'
        for a, t in (
            ("failures", "Failures"),
            ("profiles", "By profile"),
            ("matrix", "Requirements"),
            ("checks", "Checks"),
            ("evidence", "Evidence"),
            ("config", "Configuration"),
        )
    )
    return "".join(
        [
            '<!doctype html><html lang="en"><head><meta charset="utf-8">',
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
            'img-src data:">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{_e(run.verdict_word)} · {_e(run.meta.target)} · {_e(run.meta.run_id)}</title>",
            f"<style>{_CSS}</style></head><body>",
            _banner(run),
            f"<nav>{nav}</nav><main>",
            _problems(run),
            _profiles(run),
            _failures(run, verdicts),
            _comparison(run),
            _matrix(run),
            _checks(run),
            _evidence_files(run),
            _config(run),
            "</main></body></html>\n",
        ]
    )


def write(run: Run) -> Path:
    path = run.run_dir / NAME
    path.write_text(render(run), encoding="utf-8")
    return path
