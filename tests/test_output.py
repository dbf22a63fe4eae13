"""What a run prints, for people (issue 14, points 4-7, 9, 10): labels in the verdict's words,
PARTIAL for a restricted run, ids typed any case with a did-you-mean, details that wrap,
comparisons only with a comparable earlier run, no third-party warnings, checks named by
requirement."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from conformance import catalogue
from conformance.config import RunConfig
from conformance.errors import ConfigError
from conformance.reports import html
from conformance.reports.names import check_name
from conformance.reports.stream import Check
from conformance.runner import RunOutcome, summary
from conformance.selection import canonical_requirements, partial_scope
from conformance.verdict import Verdict, table
from tests.test_reports import make_run

if TYPE_CHECKING:
    from tests.conftest import Ran

IDS = catalogue.load().ids()
RUN = [sys.executable, "-m", "conformance.cli", "run"]


def test_requirement_ids_are_case_insensitive():
    assert canonical_requirements(["end-02", "Perm-01,END-02"], IDS) == ["END-02", "PERM-01"]


@pytest.mark.parametrize(("typed", "suggested"), [("END-2", "END-02"), ("ENDD-02", "END-02"), ("perm-1", "PERM-01")])
def test_an_unknown_requirement_id_gets_a_did_you_mean(typed: str, suggested: str):
    with pytest.raises(ConfigError, match=f"{typed} \\(did you mean {suggested}"):
        canonical_requirements([typed], IDS)


def _verdict(rid: str, outcome: str, message: str = "") -> Verdict:
    record = {"nodeid": f"x::test_{rid}", "requirements": [rid], "outcome": outcome, "message": message}
    return Verdict(catalogue.load()[rid], outcome, [record])


def test_a_long_detail_wraps_whole_words_and_keeps_its_end():
    long = "LEAVE-04 needs a timer: set time.control = 'test-clock' or raise time.real_time_budget_seconds"
    text = table([_verdict("LEAVE-04", "not_run", long)], width=80)
    assert "time.real_time_budget_seconds" in text  # cut at 160 columns it lost this
    rows = text.splitlines()[1:3]
    assert all(len(row) <= 80 for row in rows), rows
    assert rows[1].startswith(" " * 30) and rows[1].split()[0] in long.split()


def test_the_same_detail_is_said_once():
    down = "cannot connect (All connection attempts failed); is the target running there?"
    text = table([_verdict("END-01", "error", down), _verdict("END-02", "error", down)], width=200)
    assert text.count("All connection attempts failed") == 1 and "(same as END-01)" in text


def _outcome(code: int, partial: str) -> RunOutcome:
    return RunOutcome(RunConfig(), [_verdict("END-02", "pass")], code, "", Path("r"), 1.0, partial=partial)


def test_a_partial_run_that_passes_says_partial_never_conformant():
    scope = partial_scope(["END-02"], [], ["scenarios", "fuzz"], None)
    closing = summary(_outcome(0, scope)).splitlines()[-1]
    assert closing.startswith("PARTIAL:") and "END-02" in closing and "CONFORMANT" not in closing
    assert summary(_outcome(0, "")).splitlines()[-1].startswith("CONFORMANT")
    assert partial_scope([], ["scenarios"], ["scenarios", "fuzz"], None) == "phase(s) scenarios"
    assert partial_scope([], ["scenarios", "fuzz"], ["fuzz", "scenarios"], None) == ""
    # A campaign over some operations only (fuzz.operations) is no full run either.
    assert partial_scope([], [], ["scenarios", "fuzz"], None, ("listSessions",)) == "fuzzing only listSessions"
    assert partial_scope([], ["scenarios"], ["scenarios", "fuzz"], None, ("listSessions",)) == "phase(s) scenarios"


def test_checks_are_named_by_requirement_and_behaviour_not_by_path():
    path = "../venv/lib/python3.11/site-packages/conformance/scenarios/test_end_session.py"
    node = f"{path}::test_everyone_gets_room_left_ended_and_is_disconnected"
    assert check_name(node, ["END-02"]) == "END-02 everyone gets roomLeft ended and is disconnected"


# -- comparisons ---------------------------------------------------------------------------


def test_a_run_is_compared_with_the_newest_run_of_the_same_selection(tmp_path: Path):
    make_run(tmp_path, "full-1", outcomes={"END-04": "fail"})
    make_run(tmp_path, "one-requirement", requirements=["END-04"])
    after = make_run(tmp_path, "full-2").run
    assert after.comparison is not None and after.comparison.before_id == "full-1"
    assert [c.requirements for c in after.comparison.fixed] == [["END-04"]]


def test_no_comparison_with_another_target_or_selection_and_it_says_why(tmp_path: Path):
    make_run(tmp_path, "faulty", faults=["ended_says_left"])
    other_target = make_run(tmp_path, "clean").run
    assert other_target.comparison is None
    assert "another target" in other_target.comparison_note
    narrow = make_run(tmp_path, "narrow", requirements=["END-04"]).run
    assert narrow.comparison is None and "another requirement selection" in narrow.comparison_note
    assert "No comparison" in (tmp_path / "narrow" / "report.html").read_text()


def test_an_explicit_comparison_says_what_differs(tmp_path: Path):
    make_run(tmp_path, "wide")
    named = make_run(tmp_path, "narrow", requirements=["END-04"], compare_with=tmp_path / "wide").run
    assert named.comparison is not None and "differs: another requirement selection" in named.comparison_note


# -- one real run, from outside the checkout -------------------------------------------------


def test_a_run_from_elsewhere_prints_the_suites_words_and_no_third_party_warning(faulty_run: Ran):
    """Started from another working directory (as after a wheel install), with a requirement id
    typed in lower case: no pytest-asyncio deprecation warning, no FAILED/passed totals, check
    names instead of file paths. The session's shared fault run (tests/conftest.py) is that run."""
    done = faulty_run.done
    out = done.stdout + done.stderr
    assert done.returncode == 1, out[-3000:]
    assert "Warning" not in out, out[:3000]
    assert "FAILED" not in out and not re.search(r"\d+ (failed|passed|errors?)\b", out), out[-3000:]
    assert "FAIL     END-02 everyone gets roomLeft ended" in done.stdout, done.stdout[-3000:]
    assert "test_end_session.py" not in done.stdout
    documented = {"results.jsonl", "results.json", "junit.xml", "report.html", "evidence", "traffic", "engine.log"}
    assert {p.name for p in faulty_run.run_dir.iterdir()} <= documented | {"certificate.json"}


# -- the HTML: failures by cause, the event stream for a realtime failure ----------------------


def _check(nodeid: str, rid: str, outcome: str, decided_at: str, message: str = "boom") -> Check:
    return Check(nodeid, nodeid, [rid], "session", "scenarios", outcome, outcome, message, 0.1, [], decided_at)


def test_failures_are_ordered_by_cause_and_repeats_say_so():
    checks = [
        _check("a::test_late_fail", "END-01", "fail", "2026-01-01T00:00:09"),
        _check("b::test_warned_first", "END-06", "warning", "2026-01-01T00:00:01", "soft"),
        _check("c::test_first_fail", "END-02", "fail", "2026-01-01T00:00:02", "same cause [evidence x1]"),
        _check("d::test_second_of_end02", "END-02", "error", "2026-01-01T00:00:12", "same cause [evidence x7]"),
        _check("e::test_passes", "END-03", "pass", "2026-01-01T00:00:00"),
    ]
    ordered = [c.nodeid for c in html.by_cause(checks)]
    assert ordered == ["c::test_first_fail", "d::test_second_of_end02", "a::test_late_fail", "b::test_warned_first"]
    assert html._same_cause(html.by_cause(checks)) == {
        "d::test_second_of_end02": "same failure as END-02 first fail (above)"
    }


def test_a_realtime_failure_shows_the_event_stream_around_it_not_a_rest_call(tmp_path: Path):
    published = make_run(tmp_path, "rt", profiles=("session",), outcomes={"END-02": "fail"})
    run = published.run
    failing = next(c for c in run.checks if c.requirements == ["END-02"])
    failing.message = "host1: roomLeft state after kick-all: expected 'ended', got 'left'"  # cites no exchange
    page = Path(html.write(run)).read_text()
    card = page[page.index('class="failure o-fail"') :]
    card = card[: card.index("</article>")]
    assert "the event stream around the verdict" in card and "roomLeft" in card
    assert "as curl" not in card
    assert "<h3>" in card and "END-02 end 02</h3>" in card  # named by requirement, then behaviour


def test_list_warns_when_timer_checks_cannot_reach_a_verdict():
    from conformance.config import load_config
    from conformance.runner import timer_warnings

    plain = load_config(None, {}, {})
    assert "LEAVE-04" in timer_warnings(plain, {"LEAVE-04", "END-01"})[0]
    assert "CLASS-01" in timer_warnings(plain, {"CLASS-01"})[0] and "901" in timer_warnings(plain, {"CLASS-01"})[0]
    assert timer_warnings(plain, {"END-01"}) == []
    assert timer_warnings(load_config(None, {}, {"time.control": "test-clock"}), {"LEAVE-04"}) == []
    assert timer_warnings(load_config(None, {}, {"time.real_time_budget_seconds": 70}), {"LEAVE-04"}) == []


def test_an_unreachable_target_is_at_most_five_lines_and_exit_2(tmp_path: Path):
    env = {
        **os.environ,
        "RTKC_BASE_URL": "http://127.0.0.1:9/client/v4",
        "RTKC_ACCOUNT_ID": "a",
        "RTKC_APP_ID": "b",
        "RTKC_ADMIN_TOKEN": "canary-unreachable-0001",
        "RTKC_REALTIME_URL": "ws://127.0.0.1:9/realtime",
    }
    done = subprocess.run(
        [*RUN, "--reports-dir", str(tmp_path)], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    lines = (done.stdout + done.stderr).strip().splitlines()
    assert done.returncode == 2 and len(lines) <= 5, lines
    assert "127.0.0.1:9" in lines[-1] and "is the target running there?" in lines[-1]
