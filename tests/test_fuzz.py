"""The fuzz phase's parts: the hooks that keep it safe, reading schemathesis' findings, the
campaign's configuration, budgets, the outcome's verdicts — and that a seed replays a run."""

from __future__ import annotations

import asyncio
import base64
import json
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from conformance import catalogue
from conformance.config import load_config
from conformance.errors import ImplementationFailed, SuiteCouldNotRun, TargetUnreachable
from conformance.fuzz import campaign, checks, safety
from conformance.fuzz.budget import PRESETS, Budget, budget_for, deadline_seconds, pace
from conformance.fuzz.findings import Finding, curl, read_report, request_log
from conformance.fuzz.outcome import MESSAGE_LIMIT, Outcome
from conformance.redaction import Redactor

TOKEN = "fuzz-admin-token-0123456789"
RUN = "rtkc-test-run"
OTHER = "11111111-2222-4333-8444-555555555555"


# -- hooks -------------------------------------------------------------------------------------


def make_case(
    operation_id: str,
    method: str = "POST",
    path: str = "/x",
    *,
    body: Any = None,
    path_parameters: dict[str, Any] | None = None,
    negative_body: bool = False,
) -> Any:
    meta = SimpleNamespace(is_negative_at=lambda location: negative_body and location.value == "body")
    operation = SimpleNamespace(definition=SimpleNamespace(raw={"operationId": operation_id}), path=path)
    return SimpleNamespace(
        method=method, body=body, path_parameters=path_parameters or {}, operation=operation, meta=meta
    )


def test_what_the_fuzzer_creates_or_renames_carries_the_run_id():
    prefix = safety.name_prefix(RUN)
    created = make_case("createMeeting", body={"title": "x" * 255})
    safety.name_with_run_id(created, RUN)
    assert created.body["title"].startswith(prefix) and len(created.body["title"]) == 255

    untitled = make_case("createMeeting", body={"persist_chat": True})
    safety.name_with_run_id(untitled, RUN)
    assert untitled.body["title"] == prefix

    webhook = make_case("replaceWebhook", "PUT", body={"name": None, "url": "http://a.example/x"})
    safety.name_with_run_id(webhook, RUN)
    safety.webhooks_deliver_nowhere(webhook, RUN)
    assert webhook.body["name"] == prefix
    assert webhook.body["url"] == f"https://{safety.NOWHERE_HOST}/{RUN}"

    twice = make_case("createPreset", body={"name": "p"})
    safety.name_with_run_id(twice, RUN)
    safety.name_with_run_id(twice, RUN)  # the same case sent again
    assert twice.body["name"] == f"{prefix} p"


def test_invalid_bodies_are_sent_as_generated():
    case = make_case("createMeeting", body={"title": 42}, negative_body=True)
    safety.name_with_run_id(case, RUN)
    assert case.body == {"title": 42}


def test_a_change_only_ever_names_the_runs_own_resources():
    own = safety.OwnResources(None)
    own.add("meeting", "aaaaaaaa-0000-4000-8000-000000000001")
    own.add("participant", "bbbbbbbb-0000-4000-8000-000000000001", meeting_id="aaaaaaaa-0000-4000-8000-000000000001")

    change = make_case("editParticipant", "PATCH", path_parameters={"meeting_id": OTHER, "participant_id": OTHER})
    safety.restrict_to_own_resources(change, own)
    assert change.path_parameters == {
        "meeting_id": "aaaaaaaa-0000-4000-8000-000000000001",
        "participant_id": "bbbbbbbb-0000-4000-8000-000000000001",
    }

    # Nothing of that kind yet: an id that names nothing, and the same one for the same turn.
    delete = make_case("deleteWebhook", "DELETE", path_parameters={"webhook_id": OTHER})
    safety.restrict_to_own_resources(delete, own)
    assert delete.path_parameters["webhook_id"] != OTHER

    read = make_case("getMeeting", "GET", path_parameters={"meeting_id": OTHER})
    safety.restrict_to_own_resources(read, own)
    assert read.path_parameters["meeting_id"] == OTHER  # reading harms nobody

    unspecified = make_case("getMeeting", "TRACE", path_parameters={"meeting_id": OTHER})
    safety.restrict_to_own_resources(unspecified, own)  # an undocumented method might still act
    assert unspecified.path_parameters["meeting_id"] != OTHER

    not_an_id = make_case("kickAllParticipants", path_parameters={"meeting_id": "0"})
    safety.restrict_to_own_resources(not_an_id, own)
    assert not_an_id.path_parameters["meeting_id"] == "0"  # invalid ids name nothing

    recording = make_case("startRecording", body={"meeting_id": OTHER})
    safety.restrict_to_own_resources(recording, own)
    assert recording.body["meeting_id"] == "aaaaaaaa-0000-4000-8000-000000000001"


def test_an_undocumented_changing_method_on_a_collection_is_not_sent():
    def probe(method: str, documented: str, path: str) -> Any:
        case = make_case("x", method, path)
        case.operation.method = documented
        return case

    assert not safety.can_be_confined(probe("DELETE", "get", "/accounts/{account_id}/realtime/kit/{app_id}/webhooks"))
    assert not safety.can_be_confined(probe("PUT", "post", "/accounts/{account_id}/realtime/kit/{app_id}/meetings"))
    assert safety.can_be_confined(probe("TRACE", "get", "/accounts/{account_id}/realtime/kit/{app_id}/webhooks"))
    assert safety.can_be_confined(probe("DELETE", "get", "/accounts/{account_id}/x/meetings/{meeting_id}"))
    assert safety.can_be_confined(probe("POST", "post", "/accounts/{account_id}/realtime/kit/{app_id}/meetings"))


def test_created_resources_go_to_the_ledger(tmp_path: Path):
    own = safety.OwnResources(tmp_path / "ledger.jsonl")
    case = make_case("addParticipant", path_parameters={"meeting_id": "m-1"})
    safety.record_creation(case, 201, {"success": True, "data": {"id": "p-1"}}, own)
    safety.record_creation(make_case("createWebhook"), 400, {"success": False}, own)
    lines = [json.loads(line) for line in (tmp_path / "ledger.jsonl").read_text().splitlines()]
    assert lines == [{"kind": "participant", "id": "p-1", "meeting_id": "m-1"}]


def test_throttling_and_the_no_live_session_404_are_not_held_against_the_target():
    response = SimpleNamespace(status_code=429)
    assert safety.held_against_target(object(), make_case("listMeetings"), response) is False
    missing = type("EnsureResourceAvailability", (), {})()
    kick = make_case("kickParticipants", path="/accounts/{account_id}/x/meetings/{meeting_id}/active-session/kick")
    assert safety.held_against_target(missing, kick, SimpleNamespace(status_code=404)) is False
    meeting = make_case("getMeeting", "GET", path="/accounts/{account_id}/x/meetings/{meeting_id}")
    assert safety.held_against_target(missing, meeting, SimpleNamespace(status_code=404)) is True
    assert safety.retry_after_seconds("2") == 2.0
    assert safety.retry_after_seconds("1000") == safety.MAX_RETRY_AFTER_SECONDS
    assert safety.retry_after_seconds("soon") == 1.0


# -- reading schemathesis' events ----------------------------------------------------------------


def b64(text: str) -> dict[str, str]:
    return {"$base64": base64.b64encode(text.encode()).decode()}


def interaction(
    method: str,
    url: str,
    status: int,
    body: str | None = None,
    answer: str = "{}",
    authorization: str | None = "[Filtered]",
) -> dict[str, Any]:
    headers = {"Content-Type": ["application/json"]} if body else {}
    if authorization:
        headers["Authorization"] = [authorization]
    request: dict[str, Any] = {"method": method, "uri": url, "headers": headers}
    if body is not None:
        request["body"] = b64(body)
    return {"request": request, "response": {"status_code": status, "content": b64(answer)}, "timestamp": 1.0}


def events_file(tmp_path: Path, *scenarios: dict[str, Any]) -> Path:
    path = tmp_path / "events.ndjson"
    lines = [{"Initialize": {"seed": 77}}] + [{"ScenarioFinished": s} for s in scenarios]
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n{cut short")
    return path


BASE = "http://127.0.0.1:9/client/v4/accounts/a/realtime/kit/b"
CREATED = "99999999-0000-4000-8000-000000000009"


def stateful_failure() -> dict[str, Any]:
    return {
        "phase": "stateful",
        "recorder": {
            "label": "POST /meetings",
            "cases": {"c1": {}, "c2": {"parent_id": "c1"}, "c3": {"parent_id": "c2"}},
            "interactions": {
                "c1": interaction(
                    "POST",
                    f"{BASE}/meetings",
                    201,
                    '{"title": "t"}',
                    answer=json.dumps({"data": {"id": CREATED, "token": "rtkp_participant"}}),
                ),
                "c2": interaction("GET", f"{BASE}/recordings", 200),
                "c3": interaction("GET", f"{BASE}/recordings", 200, authorization=None),
            },
            "checks": {
                "c2": [{"name": "not_a_server_error", "status": "success"}],
                "c3": [
                    {
                        "name": "ignored_auth",
                        "status": "failure",
                        "failure_info": {
                            "failure": {
                                "operation": "GET /recordings",
                                "title": "API accepts requests without authentication",
                                "message": "Expected 401 or 403, got `200 OK`",
                            }
                        },
                    }
                ],
            },
        },
    }


def test_findings_name_the_check_the_operation_and_the_requirement_with_a_chain_to_paste(tmp_path: Path):
    report = read_report(events_file(tmp_path, stateful_failure()), Redactor([TOKEN]))
    assert report.seed == 77 and report.requests == 3
    [finding] = report.findings
    assert (finding.check, finding.operation, finding.requirement, finding.status) == (
        "ignored_auth",
        "GET /recordings",
        "PERM-04",
        200,
    )
    first, _, third = finding.reproduction
    assert first.startswith("curl -X POST") and '"Authorization: Bearer $RTK_API_TOKEN"' in first
    assert "--data-raw" in first and "RTK_API_TOKEN" not in third  # the probe went without a token
    assert report.server_values == {CREATED}
    assert not report.all_authenticated_refused()


def test_a_probe_with_a_made_up_token_is_reproduced_with_a_made_up_token(tmp_path: Path):
    scenario = stateful_failure()
    failure = scenario["recorder"]["checks"]["c3"][0]["failure_info"]["failure"]
    failure["title"] = "API accepts invalid authentication"
    scenario["recorder"]["interactions"]["c3"] = interaction("GET", f"{BASE}/recordings", 200)
    [finding] = read_report(events_file(tmp_path, scenario)).findings
    assert "$RTK_API_TOKEN" in finding.reproduction[0]
    assert "not-a-valid-token" in finding.reproduction[-1] and "$RTK_API_TOKEN" not in finding.reproduction[-1]


def test_the_same_failure_in_several_phases_is_reported_once(tmp_path: Path):
    again = stateful_failure() | {"phase": "fuzzing"}
    report = read_report(events_file(tmp_path, stateful_failure(), again))
    assert len(report.findings) == 1


def test_a_run_where_every_authenticated_request_got_401_is_recognised(tmp_path: Path):
    scenario = {
        "phase": "fuzzing",
        "recorder": {
            "interactions": {
                "a": interaction("GET", f"{BASE}/meetings", 401),
                "b": interaction("GET", f"{BASE}/presets", 401),
            }
        },
    }
    assert read_report(events_file(tmp_path, scenario)).all_authenticated_refused()


def test_the_request_log_numbers_the_targets_own_ids(tmp_path: Path):
    report = read_report(events_file(tmp_path, stateful_failure()))
    later = SimpleNamespace(
        phase="stateful",
        method="PATCH",
        url=f"{BASE}/meetings/{CREATED}?x={OTHER}",
        body=json.dumps({"meeting_id": CREATED}),
        status=200,
    )
    log = request_log([*report.interactions, later], report.server_values)
    assert log[-1]["path"] == f"/client/v4/accounts/a/realtime/kit/b/meetings/<made-up-1>?x={OTHER}"
    assert log[-1]["body"] == '{"meeting_id": "<made-up-1>"}'


def test_curl_never_carries_a_known_token():
    sent = SimpleNamespace(
        method="POST",
        url=f"{BASE}/meetings",
        headers={"Authorization": "[Filtered]"},
        body=json.dumps({"title": TOKEN}),
    )
    command = curl(sent, Redactor([TOKEN]))  # type: ignore[arg-type]
    assert TOKEN not in command and "$RTK_API_TOKEN" in command


# -- what each check may fail --------------------------------------------------------------------

MEETING = "/accounts/{account_id}/realtime/kit/{app_id}/meetings/{meeting_id}"


ACTIVE_SESSION = f"GET {MEETING}/active-session"


@pytest.mark.parametrize(
    ("check", "title", "status", "operation", "requirement"),
    [
        ("response_schema_conformance", "Response violates schema", 200, "", "API-01"),
        ("not_a_server_error", "Server error", 500, "", "API-01"),
        ("content_type_conformance", "Undocumented Content-Type", 200, "", "API-01"),
        ("status_code_conformance", "Undocumented HTTP status code", 202, "", "API-01"),
        ("status_code_conformance", "Undocumented HTTP status code", 422, "", "API-04"),  # plausible
        ("error_envelope", "Custom check failed", 404, ACTIVE_SESSION, "API-02"),  # Cloudflare's error schema
        ("error_envelope", "Custom check failed", 400, ACTIVE_SESSION, "API-03"),  # not documented so
        ("error_envelope", "Custom check failed", 404, f"GET {MEETING}", "API-03"),
        ("ignored_auth", "API accepts requests without authentication", 200, "", "PERM-04"),
        ("ignored_auth", "Unexpected response to a request without authentication", 400, "", "PERM-06"),
        ("missing_required_header", "Missing header not rejected", 403, "", "PERM-06"),
        ("negative_data_rejection", "API accepted schema-violating request", 200, "", "API-04"),
        ("positive_data_acceptance", "API rejected schema-compliant request", 400, "", "API-04"),
        ("unsupported_method", "Unsupported methods", 400, "", "API-04"),
        ("use_after_free", "Use after free", 200, "", "API-04"),
        ("ensure_resource_availability", "Resource is not available after creation", 404, "", "API-04"),
        ("a_check_from_a_newer_schemathesis", "?", 400, "", "API-04"),  # not judged: at most a warning
    ],
)
def test_only_what_a_public_source_backs_counts_against_a_must(check, title, status, operation, requirement):
    assert checks.requirement_of(check, title, status, operation) == requirement


def test_every_requirement_a_check_can_fail_is_in_the_catalogue_at_its_level():
    known = catalogue.load()
    musts = {checks.API, checks.ENVELOPE, checks.AUTH}
    shoulds = {checks.ENVELOPE_ELSEWHERE, checks.AUTH_STATUS, checks.CONVENTIONS}
    assert {rule.requirement for rule in checks.RULES.values()} <= musts | shoulds
    assert all(known[rid].gating for rid in musts)
    assert not any(known[rid].gating for rid in shoulds)  # they warn, never gate


@pytest.mark.parametrize(
    ("method", "path", "official"),
    [
        ("PUT", MEETING, True),  # Cloudflare's replace_meeting
        ("PUT", "/accounts/{a}/realtime/kit/{b}/presets/{preset_id}", True),
        ("PUT", "/accounts/{account_id}/realtime/kit/{app_id}/meetings/{m}/participants/{p}", True),
        ("DELETE", MEETING, False),
        ("PUT", "/accounts/{account_id}/realtime/kit/{app_id}/meetings", False),
    ],
)
def test_methods_cloudflare_describes_are_known(method, path, official):
    assert checks.officially_supported(method, f"GET {path}") is official


def unsupported_method(method: str, path: str, status: int) -> dict[str, Any]:
    return {
        "phase": "coverage",
        "recorder": {
            "label": f"GET {path}",
            "cases": {"u": {}},
            "interactions": {"u": interaction(method, BASE + path.split("/kit/{app_id}")[-1], status)},
            "checks": {
                "u": [
                    {
                        "name": "unsupported_method",
                        "status": "failure",
                        "failure_info": {
                            "failure": {
                                "operation": f"GET {path}",
                                "title": "Unsupported methods",
                                "message": f"Unsupported method {method} returned {status}, expected 405",
                            }
                        },
                    }
                ]
            },
        },
    }


@pytest.mark.parametrize("status", [200, 400])
def test_a_method_cloudflare_describes_is_never_a_finding(tmp_path: Path, status: int):
    report = read_report(events_file(tmp_path, unsupported_method("PUT", MEETING, status)))
    assert report.findings == [] and [f.method for f in report.excused] == ["PUT"]
    # schemathesis exits 1 for it all the same: the campaign ran and found nothing to hold.
    assert judged(report, 1).problem is None


def test_an_unlisted_method_elsewhere_is_at_most_a_warning(tmp_path: Path):
    report = read_report(events_file(tmp_path, unsupported_method("DELETE", MEETING, 400)))
    [found] = report.findings
    assert (found.method, found.requirement) == ("DELETE", checks.CONVENTIONS)  # a SHOULD: it warns
    outcome = Outcome(seed=1, budget="b", requests=1, findings=report.findings)
    assert outcome.for_requirement("API-01") == [] and outcome.for_requirement(checks.CONVENTIONS) == [found]


# -- the campaign's configuration ----------------------------------------------------------------


def plan(tmp_path: Path | None = None, **target: Any) -> campaign.Plan:
    values = {
        "base_url": "http://127.0.0.1:9/client/v4",
        "account_id": "acc",
        "app_id": "app",
        "token": TOKEN,
        "requests_per_10s": 200,
        "request_timeout": 10.0,
    } | target
    return campaign.Plan(
        target=campaign.Target(**values), budget=Budget("default", 10), seed=99, run_id=RUN, deadline=60
    )


def test_the_schemathesis_config_runs_every_phase_and_check_from_the_seed_with_no_hidden_state(tmp_path: Path):
    import tomllib

    text = campaign.schemathesis_config(plan(), tmp_path / "events.ndjson")
    config = tomllib.loads(text)
    assert TOKEN not in text
    assert config["seed"] == 99 and config["workers"] == 1
    assert config["generation"]["database"] == "none" and config["cache"]["enabled"] is False
    assert all(config["phases"][p]["enabled"] for p in ("examples", "coverage", "fuzzing", "stateful"))
    assert config["checks"]["enabled"] is True
    assert config["warnings"]["fail-on"] == ["missing_auth"]
    assert config["auth"]["openapi"]["bearerAuth"]["bearer"] == "${RTK_API_TOKEN}"
    assert config["rate-limit"] == "20/s"
    assert "rate-limit" not in tomllib.loads(campaign.schemathesis_config(plan(requests_per_10s=None), tmp_path))


def test_the_token_reaches_the_child_only_through_its_environment(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("RTKC_ADMIN_TOKEN", "another-secret-value")
    env = campaign.child_environment(plan(), tmp_path)
    assert env["RTK_API_TOKEN"] == TOKEN and "RTKC_ADMIN_TOKEN" not in env
    assert TOKEN not in " ".join(campaign.command(tmp_path / "schemathesis.toml"))


def test_budgets_presets_and_pacing():
    assert budget_for(load_config(None, {}, {}).fuzz) == PRESETS["default"]
    nightly = budget_for(load_config(None, {"RTKC_FUZZ_PRESET": "nightly", "RTKC_FUZZ_EXAMPLES": "7"}, {}).fuzz)
    assert (nightly.examples, nightly.time_seconds) == (7, PRESETS["nightly"].time_seconds)
    assert budget_for(load_config(None, {}, {"fuzz.time_seconds": 30}).fuzz).time_seconds == 30
    assert (pace(None), pace(250), pace(5)) == (None, "25/s", "30/m")
    assert deadline_seconds(PRESETS["default"], 50) > deadline_seconds(PRESETS["default"], None) > 60


def test_fuzz_settings_from_the_config_file(tmp_path: Path):
    path = tmp_path / "target.toml"
    path.write_text('[fuzz]\nseed = 5\nexamples = 3\ntime_seconds = 2.5\npreset = "nightly"\n')
    fuzz = load_config(path, {}, {}).fuzz
    assert (fuzz.seed, fuzz.examples, fuzz.time_seconds, fuzz.preset) == (5, 3, 2.5, "nightly")
    path.write_text('[fuzz]\npreset = "weekly"\n')
    with pytest.raises(SuiteCouldNotRun, match="nightly"):
        load_config(path, {}, {})


def test_fuzzing_some_operations_only(tmp_path: Path):
    """`fuzz.operations` (file list or comma-separated variable) names operation ids of the
    description; the campaign's `st run` then includes only those. A name the description does
    not have stops the run before anything is sent, with the likely one."""
    path = tmp_path / "target.toml"
    path.write_text('[fuzz]\noperations = ["listSessions", "getActiveSession"]\n')
    assert load_config(path, {}, {}).fuzz.operations == ("listSessions", "getActiveSession")
    from_env = load_config(None, {"RTKC_FUZZ_OPERATIONS": "listMeetings, createWebhook"}, {}).fuzz.operations
    assert from_env == ("listMeetings", "createWebhook")
    assert load_config(None, {}, {}).fuzz.operations == ()
    with pytest.raises(SuiteCouldNotRun, match=r"listSession \(did you mean listSessions\?\)"):
        load_config(None, {"RTKC_FUZZ_OPERATIONS": "listSession"}, {})
    command = campaign.command(tmp_path / "schemathesis.toml", ("listSessions", "getActiveSession"))
    only = [command[i + 1] for i, arg in enumerate(command) if arg == "--include-operation-id"]
    assert only == ["listSessions", "getActiveSession"]
    assert "--include-operation-id" not in campaign.command(tmp_path / "schemathesis.toml")
    assert campaign.phases_for(()) == campaign.PHASES
    assert campaign.phases_for(("listSessions",)) == ("examples", "coverage", "fuzzing")


# -- the outcome ----------------------------------------------------------------------------------


def finding(check: str, n: int = 0, title: str = "Response violates schema") -> Finding:
    return Finding(
        check=check,
        operation=f"GET /op{n}",
        title=title,
        message="m",
        phase="fuzzing",
        status=200,
        reproduction=(f"curl -X GET 'http://t/op{n}'",),
    )


def test_a_failure_message_names_check_operation_and_reproduction_and_stays_short(tmp_path: Path):
    findings = [finding("response_schema_conformance", n) for n in range(40)] + [
        finding("ignored_auth", title="API accepts requests without authentication")
    ]
    outcome = Outcome(seed=3, budget="b", requests=10, seconds=1.0, findings=findings)
    message = outcome.failure_message("API-01", "reports/x/evidence/fuzz/check.txt")
    assert "response_schema_conformance on GET /op0" in message and "curl -X GET" in message
    assert "seed 3" in message and len(message) <= MESSAGE_LIMIT
    assert "reports/x/evidence/fuzz/check.txt" in message
    assert [f.check for f in outcome.for_requirement("PERM-04")] == ["ignored_auth"]
    outcome.save(tmp_path / "o.json")
    assert Outcome.load(tmp_path / "o.json") == outcome


@pytest.mark.parametrize(
    ("kind", "requirement", "error"),
    [
        ("unreachable", "API-01", TargetUnreachable),
        ("unauthorized", "PERM-04", SuiteCouldNotRun),
        ("incomplete", "API-01", SuiteCouldNotRun),
        ("server_error", "API-01", ImplementationFailed),
        ("server_error", "API-02", SuiteCouldNotRun),
    ],
)
def test_a_campaign_that_tested_nothing_is_never_a_pass(kind, requirement, error):
    outcome = Outcome(seed=1, budget="b", problem_kind=kind, problem="why")
    with pytest.raises(error):
        outcome.raise_if_not_run(requirement)
    assert not issubclass(error, ImplementationFailed) or kind == "server_error"


def judged(report: Any, exit_code: int | None, findings: list[Finding] | None = None) -> Outcome:
    from conformance.fuzz.phase import _judge

    outcome = Outcome(seed=1, budget="b", findings=findings or [])
    result = SimpleNamespace(exit_code=exit_code, output="last line", seconds=9.0)
    _judge(outcome, report, result)  # type: ignore[arg-type]
    return outcome


def test_a_campaign_is_judged_by_what_it_could_test(tmp_path: Path):
    refused = {"phase": "fuzzing", "recorder": {"interactions": {"a": interaction("GET", f"{BASE}/meetings", 401)}}}
    assert judged(read_report(events_file(tmp_path, refused)), 1).problem_kind == "unauthorized"
    tested = read_report(events_file(tmp_path, stateful_failure()))
    assert judged(tested, None).problem_kind == "incomplete"
    assert judged(tested, 1).problem_kind == "broken"  # schemathesis failed the run, but on no check
    assert judged(tested, 1, tested.findings).problem is None
    assert judged(tested, 0).problem is None
    tested.unreachable.append("POST /meetings: ConnectionError: refused")
    assert judged(tested, 1, tested.findings).problem_kind == "unreachable"


# -- a seed replays the run -----------------------------------------------------------------------


# The phases that draw at random; the coverage phase enumerates boundary cases in a fixed order
# (a whole default campaign, coverage included, replays the same way: ~1,900 of ~1,900 requests).
PHASES = ("fuzzing", "stateful")


async def seeded_requests(seed: int) -> list[dict[str, Any]]:
    from conformance.reference.app import ReferenceSettings
    from conformance.reference.server import ThreadedServer

    with ThreadedServer(ReferenceSettings(test_clock=True)) as server:
        assert server.reference is not None and server.endpoints is not None
        credentials = server.reference.settings.credentials
        result = await campaign.run(
            campaign.Plan(
                target=campaign.Target(
                    base_url=server.endpoints.base_url,
                    account_id=credentials.account_id,
                    app_id=credentials.app_id,
                    token=credentials.admin_token,
                    requests_per_10s=None,
                    request_timeout=10.0,
                ),
                budget=Budget("test", examples=3),
                seed=seed,
                run_id=RUN,
                deadline=240,
                phases=PHASES,
            )
        )
        try:
            assert result.exit_code == 0, result.output[-2000:]
            # Hypothesis keeps caches (constants, unicode tables) in the private workdir, which
            # goes away; no example database and no crash cache that could replay old cases.
            assert not (result.workdir / ".hypothesis" / "examples").exists()
            assert not (result.workdir / ".schemathesis").exists()
            report = read_report(result.events)
        finally:
            result.discard()
    assert report.seed == seed and report.requests > 100
    return request_log(report.interactions, report.server_values)


def _one_millisecond_per_reading(monkeypatch) -> None:
    """Give each reading of the reference's clock its own millisecond.

    The reference stamps with its wall clock in milliseconds, so two readings fall in the same
    millisecond in one run and not in the next. schemathesis keys the values it captured from
    answers by value (dedup, recency), so such a chance collision changes which captured value
    a later request reuses: a difference in the target's answers, not in what the seed draws."""
    from conformance.reference.clock import Clock

    wall = Clock.now

    def distinct(self: Clock) -> float:
        reading = max(wall(self), getattr(self, "_last_reading", 0.0) + 0.001)
        self._last_reading = reading  # type: ignore[attr-defined]
        return reading

    monkeypatch.setattr(Clock, "now", distinct)


@pytest.mark.slow(20)
async def test_the_same_seed_sends_the_same_requests_to_a_fresh_reference(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _one_millisecond_per_reading(monkeypatch)
    # Side by side: two references, two schemathesis processes, nothing shared but the seed.
    first, second = await asyncio.gather(seeded_requests(4242), seeded_requests(4242))
    assert [(r["method"], r["path"], r["body"]) for r in first] == [(r["method"], r["path"], r["body"]) for r in second]
    assert list(tmp_path.iterdir()) == []  # no .hypothesis/, no .schemathesis/ where it ran


# -- a campaign against an implementation that makes other legal choices --------------------------

REPLACEABLE = re.compile(r"/(meetings|presets|participants)/[^/]+$")


def _with_put_and_an_unlisted_delete(app: Any) -> Any:
    """PUT on a meeting, preset or participant is served (as the PATCH that replaces it, as
    RealtimeKit has it); DELETE on a meeting, which no description lists, is refused with 400."""

    async def wrapped(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and REPLACEABLE.search(scope["path"]):
            if scope["method"] == "PUT":
                scope = {**scope, "method": "PATCH"}
            elif scope["method"] == "DELETE" and "/participants/" not in scope["path"]:
                body = json.dumps({"success": False, "error": {"code": 400, "message": "no such operation"}})
                headers = [(b"content-type", b"application/json")]
                await send({"type": "http.response.start", "status": 400, "headers": headers})
                await send({"type": "http.response.body", "body": body.encode()})
                return
        await app(scope, receive, send)

    return wrapped


@pytest.mark.slow(30)
async def test_put_where_cloudflare_has_it_is_no_finding_and_an_unlisted_method_only_warns(monkeypatch):
    from conformance.reference import server as reference_server
    from conformance.reference.app import ReferenceSettings

    build = reference_server.build

    def build_variant(settings: Any) -> Any:
        reference = build(settings)
        reference.app = _with_put_and_an_unlisted_delete(reference.app)
        return reference

    monkeypatch.setattr(reference_server, "build", build_variant)
    with reference_server.ThreadedServer(ReferenceSettings()) as server:
        assert server.reference is not None and server.endpoints is not None
        credentials = server.reference.settings.credentials
        target = campaign.Target(
            base_url=server.endpoints.base_url,
            account_id=credentials.account_id,
            app_id=credentials.app_id,
            token=credentials.admin_token,
            requests_per_10s=None,
            request_timeout=10.0,
        )
        # The coverage phase is the one that tries methods the description does not list; the
        # operations are those on the paths the variant changes.
        plan = campaign.Plan(
            target,
            Budget("test", examples=1),
            seed=11,
            run_id=RUN,
            deadline=240,
            phases=("coverage",),
            operations=("replaceMeeting", "replacePreset", "replaceParticipant"),
        )
        result = await campaign.run(plan)
        try:
            report = read_report(result.events)
        finally:
            result.discard()
    assert report.requests > 100, result.output[-2000:]
    unlisted = [f for f in report.findings if f.check == "unsupported_method"]
    assert {f.method for f in unlisted} == {"DELETE"}, [f.headline() for f in unlisted]
    assert {f.requirement for f in unlisted} == {checks.CONVENTIONS}  # a SHOULD: a warning at most
    musts = {checks.API, checks.ENVELOPE, checks.AUTH}
    held = [f.headline() for f in report.findings if f.requirement in musts and f.method in ("PUT", "DELETE")]
    assert held == [], held
