"""The contracts: consumer pacts regenerate byte for byte, every interaction is mapped and
verifiable, a verification's outcome is classified honestly, and broker publishing works
and keeps its token to itself."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest

from conformance.catalogue import load
from conformance.config import load_config
from conformance.contracts import broker, pacts
from conformance.contracts.callbacks import Callbacks
from conformance.contracts.requirements import REQUIREMENT_OF, requirement_of
from conformance.contracts.states import STATES, World
from conformance.contracts.verification import Verification, authorization, judge, verify
from conformance.errors import (
    CheckNotRunnable,
    ConfigError,
    ImplementationFailed,
    SuiteCouldNotRun,
    TargetTimeout,
    TargetUnreachable,
    UnexpectedResponse,
)
from conformance.harness import Harness
from conformance.resources import pacts_dir
from conformance.target import embedded_env, start_embedded

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = ROOT / "contracts" / "pacts"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def regenerate(into: Path) -> dict[str, bytes]:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "contracts", "-q", "-p", "no:cacheprovider", "--pact-dir", str(into)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "PACT_DO_NOT_TRACK": "true"},
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return {path.name: path.read_bytes() for path in sorted(into.glob("*.json"))}


def without_ffi_version(content: bytes) -> dict:
    pact = json.loads(content)
    pact["metadata"].pop("pactRust", None)
    return pact


# -- the consumer side -----------------------------------------------------------------------


@pytest.mark.slow(30)
def test_consumer_tests_regenerate_the_committed_pacts_byte_for_byte(tmp_path: Path):
    first, second = regenerate(tmp_path / "a"), regenerate(tmp_path / "b")
    committed = {path.name: path.read_bytes() for path in sorted(COMMITTED.glob("*.json"))}
    assert (
        set(first) == set(committed) == {"session-admin-backend-realtimekit.json", "webhook-receiver-realtimekit.json"}
    )
    assert first == second, "two regenerations differ: something in the pacts churns"
    for name, content in first.items():
        if content != committed[name]:
            # Another pact FFI writes its own version into the metadata; nothing else may differ.
            assert without_ffi_version(content) == without_ffi_version(committed[name]), (
                f"{name} is not current: run `pytest contracts/` and commit contracts/pacts/"
            )
            assert json.loads(content)["metadata"]["pactRust"] != json.loads(committed[name])["metadata"]["pactRust"]


def test_the_run_reads_the_committed_pacts():
    assert pacts_dir().resolve() == COMMITTED.resolve()
    found = pacts.interactions()
    assert len(found) == 13 and {i.consumer for i in found} == {"session-admin-backend", "webhook-receiver"}
    assert sum(i.is_message for i in found) == 2
    for interaction in found:
        content = json.loads(interaction.source.read_text())
        assert content["metadata"]["pactSpecification"]["version"] == "4.0"


def test_ids_in_request_paths_come_from_the_providers_state():
    """A literal id would only exist on the consumer's laptop; the provider's state supplies it."""
    for path in COMMITTED.glob("*.json"):
        for item in json.loads(path.read_text())["interactions"]:
            request = item.get("request")
            if request and UUID.search(request["path"]):
                generator = request.get("generators", {}).get("path", {})
                assert generator.get("type") == "ProviderState", item["description"]
                assert "${meetingId}" in generator["expression"], item["description"]


def test_the_receiver_relies_on_the_delivery_headers():
    for interaction in (i for i in pacts.interactions() if i.is_message):
        item = next(
            x
            for x in json.loads(interaction.source.read_text())["interactions"]
            if x["description"] == interaction.description
        )
        assert {"rtk-signature", "rtk-uuid", "rtk-webhook-id"} <= set(item["metadata"])
        assert {"rtk-signature", "rtk-uuid", "rtk-webhook-id"} <= set(item["matchingRules"]["metadata"])


# -- mapping and states --------------------------------------------------------------------------


def test_every_interaction_evidences_a_catalogue_requirement():
    known = set(load().ids())
    keys = {i.key for i in pacts.interactions()}
    assert keys == set(REQUIREMENT_OF), "the requirement table and the pacts disagree"
    assert {requirement_of(i) for i in pacts.interactions()} <= known
    assert {"END-01", "END-06", "MEET-02", "API-03", "PERM-06", "WH-01", "END-08", "LEAVE-02"} <= set(
        REQUIREMENT_OF.values()
    )
    # The pacts expect exact statuses (400, 401, 403, 404); MEET-03 and PERM-04 ask only for a
    # refusal, so a broken interaction must not be read as their FAIL (it is PERM-06's or API-03's).
    assert not {"MEET-03", "PERM-04"} & set(REQUIREMENT_OF.values())


def test_every_provider_state_has_a_set_up():
    named = {state.name for i in pacts.interactions() for state in i.states}
    assert named <= set(STATES), f"states without a set-up: {named - set(STATES)}"


def harness_with(**env: str) -> SimpleNamespace:
    config = load_config(
        None,
        {
            "RTKC_BASE_URL": "http://127.0.0.1:9/client/v4",
            "RTKC_ACCOUNT_ID": "a",
            "RTKC_APP_ID": "b",
            "RTKC_ADMIN_TOKEN": "admin-token-111",
            **env,
        },
        {},
    )
    return SimpleNamespace(config=config)


def interaction(description: str) -> pacts.Interaction:
    return next(i for i in pacts.interactions() if i.description == description)


def test_the_verifier_sends_the_token_the_interaction_is_about():
    harness = harness_with(RTKC_NO_PERMISSION_TOKEN="no-permission-222")
    assert authorization(interaction("a request to end the live session"), harness) == "Bearer admin-token-111"
    assert (
        authorization(
            interaction("a request to end the live session with a token lacking the Realtime permission"), harness
        )
        == "Bearer no-permission-222"
    )
    # The pact's own (invalid) example token goes out; messages carry none.
    assert authorization(interaction("a request to end the live session with a revoked API token"), harness) is None
    assert authorization(interaction("a meeting.ended delivery"), harness) is None
    with pytest.raises(CheckNotRunnable, match="RTKC_NO_PERMISSION_TOKEN"):
        authorization(
            interaction("a request to end the live session with a token lacking the Realtime permission"),
            harness_with(),
        )


# -- the verdict ---------------------------------------------------------------------------------


def judged(result: dict | None, *, setup=None, message=None) -> None:
    target = interaction("a request to end the live session")
    checked = [] if result is None else [{"description": target.description, **result}]
    verification = Verification(
        {"result": result is not None and result.get("result") == "OK", "interactionResults": checked}, "", checked
    )
    judge(target, SimpleNamespace(setup_failure=setup, message_failure=message), verification, lambda s: s)


def test_a_verification_without_differences_passes():
    judged({"result": "OK"})


def test_a_verification_that_checked_nothing_is_an_error_never_a_pass():
    with pytest.raises(SuiteCouldNotRun, match="did not check this interaction") as caught:
        judged(None)
    assert not isinstance(caught.value, ImplementationFailed)


def test_a_state_that_could_not_be_set_up_is_an_error_never_a_pass():
    with pytest.raises(SuiteCouldNotRun, match="provider state 'meeting M has a live session' could not be set up"):
        judged({"result": "OK"}, setup=("meeting M has a live session", TargetTimeout("no answer")))
    with pytest.raises(CheckNotRunnable):
        judged({"result": "OK"}, setup=("the API token lacks the Realtime permission", CheckNotRunnable("no token")))


def test_a_mismatch_fails_naming_the_interaction_and_the_difference():
    mismatch = {
        "mismatches": [
            {"type": "StatusMismatch", "mismatch": "expected 200 but was 404", "expected": 200, "actual": 404},
            {"type": "BodyMismatch", "path": "$.data", "mismatch": "Actual map is missing the following keys: count"},
        ],
        "type": "mismatches",
    }
    with pytest.raises(UnexpectedResponse) as caught:
        judged({"result": "Error", "mismatch": mismatch})
    text = str(caught.value)
    assert text.startswith("session-admin-backend: a request to end the live session: the provider broke the contract")
    assert "expected 200 but was 404" in text and "$.data -> Actual map is missing the following keys: count" in text


def test_a_target_that_cannot_be_reached_is_not_blamed():
    mismatch = {"type": "error", "message": "error sending request for url (http://127.0.0.1:9/): Connection refused"}
    with pytest.raises(TargetUnreachable):
        judged({"result": "Error", "mismatch": mismatch})


def test_a_delivery_that_never_came_is_the_implementations_failure():
    with pytest.raises(TargetTimeout, match=r"a request to end the live session: no meeting\.ended"):
        judged({"result": "Error"}, message=TargetTimeout("no meeting.ended within 5.0 s"))


async def test_against_a_live_target_nothing_checked_is_an_error_and_states_are_torn_down():
    server = start_embedded()
    harness = Harness(load_config(None, embedded_env(server), {"run_id": "contracts-test"}))
    callbacks = Callbacks(5)
    try:
        await harness.open()
        await callbacks.start()
        real = interaction("a request to end the live session")
        ghost = pacts.Interaction(
            real.source, real.consumer, real.provider, "an interaction nobody wrote", real.kind, real.states
        )
        world, verification = await verify(ghost, harness, callbacks, "ghost")
        with pytest.raises(SuiteCouldNotRun, match="did not check this interaction"):
            judge(ghost, world, verification, harness.redactor.redact_text)
        world, verification = await verify(real, harness, callbacks, "real")
        judge(real, world, verification, harness.redactor.redact_text)
        assert "has status code 200 (OK)" in verification.output
        assert harness.config.tokens.admin not in verification.output
        # The webhook the interaction itself registers is gone afterwards, as are the states'.
        world, verification = await verify(
            interaction("a request to register a meeting.ended webhook"), harness, callbacks, "webhook"
        )
        assert isinstance(world, World) and verification.checked[0]["result"] == "OK"
        assert (await harness.api.list_webhooks()).data == []
        assert harness.ledger.left_behind == []
    finally:
        await callbacks.stop()
        await harness.close()
        server.stop()


# -- the broker ------------------------------------------------------------------------------

BROKER_TOKEN = "broker-token-333333"


def publishing_config(**extra: str):
    return load_config(
        None,
        {
            "RTKC_PACT_PUBLISH": "true",
            "RTKC_PACT_BROKER_URL": "http://broker.test",
            "RTKC_PACT_BROKER_TOKEN": BROKER_TOKEN,
            "RTKC_PACT_PROVIDER_VERSION": "build-7",
            **extra,
        },
        {},
    )


class FakeBroker:
    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.method == "PUT":
            href = str(request.url) + "/verification-results"
            return httpx.Response(201, json={"_links": {"pb:publish-verification-results": {"href": href}}})
        return httpx.Response(201, json={})


async def test_results_are_published_once_per_complete_pact_with_the_token_kept_out_of_files(tmp_path: Path):
    config = publishing_config()
    fake = FakeBroker()
    everything = pacts.interactions()
    for i in everything:
        broker.record(config, tmp_path, i, "fail" if i.description == "a meeting.ended delivery" else "pass")
    await broker.publish_when_complete(config, tmp_path, everything, transport=httpx.MockTransport(fake))
    await broker.publish_when_complete(config, tmp_path, everything, transport=httpx.MockTransport(fake))  # again

    puts = [r for r in fake.requests if r.method == "PUT"]
    posts = {r.url.path: json.loads(r.content) for r in fake.requests if r.method == "POST"}
    assert len(puts) == 2 and len(posts) == 2, "each pact is published exactly once"
    assert all(r.headers["authorization"] == f"Bearer {BROKER_TOKEN}" for r in fake.requests)
    version_path = re.compile(r"/pacts/provider/realtimekit/consumer/[a-z-]+/version/\d.*%2B[0-9a-f]{12}$")
    assert all(version_path.search(r.url.raw_path.decode()) for r in puts)
    by_consumer = {path.split("/consumer/")[1].split("/")[0]: body for path, body in posts.items()}
    assert by_consumer["session-admin-backend"]["success"] is True
    assert by_consumer["webhook-receiver"]["success"] is False
    assert by_consumer["webhook-receiver"]["providerApplicationVersion"] == "build-7"
    for note in (tmp_path / "contracts").glob("broker-*.json"):
        assert BROKER_TOKEN not in note.read_text() and json.loads(note.read_text())["published"] is True


async def test_a_pact_verified_in_part_is_not_published(tmp_path: Path):
    config = publishing_config()
    fake = FakeBroker()
    some = [i for i in pacts.interactions() if i.consumer == "session-admin-backend"][:3]
    for i in some:
        broker.record(config, tmp_path, i, "pass")
    await broker.publish_when_complete(config, tmp_path, some, transport=httpx.MockTransport(fake))
    assert fake.requests == []
    note = json.loads((tmp_path / "contracts" / "broker-session-admin-backend-realtimekit.json").read_text())
    assert note["published"] is False and "not every interaction" in note["why"]


async def test_publishing_is_off_by_default(tmp_path: Path):
    config = load_config(None, {}, {})
    assert config.pact.publish is False
    broker.record(config, tmp_path, pacts.interactions()[0], "pass")
    await broker.publish_when_complete(config, tmp_path, pacts.interactions())
    assert not (tmp_path / "contracts").exists()


def test_the_broker_token_is_a_secret(tmp_path: Path):
    with pytest.raises(ConfigError, match="broker token"):
        load_config(
            None,
            {
                "RTKC_PACT_PUBLISH": "true",
                "RTKC_PACT_BROKER_URL": "http://broker.test",
                "RTKC_PACT_PROVIDER_VERSION": "1",
            },
            {},
        )
    toml = tmp_path / "target.toml"
    toml.write_text('[pact]\nbroker_token = "literal"\n')
    with pytest.raises(ConfigError, match="literal token"):
        load_config(toml, {}, {})
    (tmp_path / "token").write_text(BROKER_TOKEN + "\n")
    config = publishing_config(RTKC_PACT_BROKER_TOKEN="", RTKC_PACT_BROKER_TOKEN_FILE=str(tmp_path / "token"))
    assert config.pact.broker_token == BROKER_TOKEN and BROKER_TOKEN in config.secrets()
    assert BROKER_TOKEN not in json.dumps(config.redacted()) and BROKER_TOKEN not in repr(config)


# -- the phase, end to end -----------------------------------------------------------------------

CONTRACT_REQUIREMENTS = sorted(set(REQUIREMENT_OF.values()))


def conformance(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RTK_REFERENCE_ADMIN_TOKEN": "canary-admin-4444", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "conformance.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=env,
    )


@pytest.mark.slow(20)
def test_the_contracts_phase_passes_against_the_reference(published: Published):
    """Read from the run that also publishes (the `published` fixture, below with the broker)."""
    done, reports = published.done, published.reports
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    records = [json.loads(line) for line in (reports / "published" / "results.jsonl").read_text().splitlines()]
    assert len(records) == 13 and {r["phase"] for r in records} == {"contracts"}
    assert all(r["outcome"] == "pass" for r in records)
    assert not any("canary-admin-4444" in p.read_text(errors="replace") for p in reports.rglob("*") if p.is_file())


@pytest.mark.slow(15)
@pytest.mark.parametrize(
    ("fault", "requirement", "says"),
    [
        ("kick_all_count_renamed", "END-01", "missing the following keys: kicked_participants_count"),
        ("meeting_ended_without_uuid_header", "END-08", "Expected message metadata 'rtk-uuid' but was missing"),
    ],
)
def test_the_contracts_phase_fails_a_contract_fault_naming_the_interaction_and_the_difference(
    tmp_path: Path, fault: str, requirement: str, says: str
):
    done = conformance(
        "run",
        "--phase",
        "contracts",
        "--workers",
        "1",
        "--reports-dir",
        str(tmp_path),
        "--run-id",
        "faulty",
        "--reference-fault",
        fault,
        "--requirement",
        requirement,
    )
    assert done.returncode == 1, done.stdout[-3000:]
    [record] = [json.loads(line) for line in (tmp_path / "faulty" / "results.jsonl").read_text().splitlines()]
    assert record["outcome"] == "fail" and says in record["message"], record["message"]
    report = Path(record["message"].rsplit("verifier report: ", 1)[1].rstrip(")"))
    assert "Failures:" in report.read_text()


def test_a_state_the_target_cannot_set_up_is_an_error_not_a_fail(tmp_path: Path):
    done = conformance(
        "run",
        "--phase",
        "contracts",
        "--workers",
        "1",
        "--reports-dir",
        str(tmp_path),
        "--run-id",
        "nostate",
        # 202 is a success neither Cloudflare nor the suite lists for a create: the state "a
        # webhook is subscribed" cannot be made true (a 200 would be accepted by the set-up).
        "--reference-fault",
        "webhook_created_answers_202",
        "--requirement",
        "END-08",
    )
    assert done.returncode == 2, done.stdout[-3000:]
    [record] = [json.loads(line) for line in (tmp_path / "nostate" / "results.jsonl").read_text().splitlines()]
    assert record["outcome"] == "error" and "could not be set up" in record["message"]


class BrokerServer:
    """A fake Pact Broker on a loopback port, for a real run in separate processes."""

    def __init__(self) -> None:
        seen = self.seen = []

        class Handler(BaseHTTPRequestHandler):
            def answer(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                seen.append((self.command, self.path, self.headers.get("authorization"), body))
                href = f"http://127.0.0.1:{self.server.server_address[1]}{self.path}/verification-results"
                out = json.dumps({"_links": {"pb:publish-verification-results": {"href": href}}}).encode()
                self.send_response(201)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            do_PUT = do_POST = answer

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> BrokerServer:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass(frozen=True)
class Published:
    done: subprocess.CompletedProcess[str]
    reports: Path
    seen: list[tuple[str, str, str | None, bytes]]


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Published:
    """One clean contracts run, over two workers, publishing to a fake broker: the phase's pass
    against the reference and its publishing are read from it (one run of the phase, not two)."""
    reports = tmp_path_factory.mktemp("contracts")
    with BrokerServer() as fake:
        env = {
            "RTKC_PACT_PUBLISH": "true",
            "RTKC_PACT_BROKER_URL": fake.url,
            "RTKC_PACT_BROKER_TOKEN": BROKER_TOKEN,
            "RTKC_PACT_PROVIDER_VERSION": "ref-1",
        }
        done = conformance(
            "run",
            "--phase",
            "contracts",
            "--workers",
            "2",
            "--reports-dir",
            str(reports),
            "--run-id",
            "published",
            *(f"--requirement={r}" for r in CONTRACT_REQUIREMENTS),
            env=env,
        )
    return Published(done, reports, fake.seen)


@pytest.mark.slow(20)
def test_a_run_spread_over_two_workers_publishes_each_pact_once(published: Published):
    done, seen = published.done, published.seen
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert sorted((method, path.split("/consumer/")[1].split("/")[0]) for method, path, _, _ in seen) == [
        ("POST", "session-admin-backend"),
        ("POST", "webhook-receiver"),
        ("PUT", "session-admin-backend"),
        ("PUT", "webhook-receiver"),
    ]
    assert all(auth == f"Bearer {BROKER_TOKEN}" for _, _, auth, _ in seen)
    assert all(json.loads(body)["success"] is True for method, _, _, body in seen if method == "POST")
    files = [p for p in published.reports.rglob("*") if p.is_file()]
    assert not any(BROKER_TOKEN in p.read_text(errors="replace") for p in files)
