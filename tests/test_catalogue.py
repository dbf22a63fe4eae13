"""The catalogue is linted like Kubernetes conformance metadata: every requirement has a
check, every check names a requirement, and every requirement has a fault that proves its
check can fail."""

from __future__ import annotations

import ast
import hashlib
import importlib
import pkgutil
import re
from functools import cache
from pathlib import Path

import pytest
import yaml

import conformance
import conformance.scenarios
from conformance.catalogue import PROFILES, Source, load
from conformance.plugin import MARKER
from conformance.reference.faults import FAULTS
from conformance.resources import read_yaml

CHECK_MODULES = (
    *(f"conformance.scenarios.{m.name}" for m in pkgutil.iter_modules(conformance.scenarios.__path__)),
    "conformance.fuzz.test_api_fuzzing",
)


def _marked(fn: object) -> list[str]:
    marks = [m for m in getattr(fn, "pytestmark", []) if m.name == MARKER]
    return [rid for m in marks for rid in m.args]


def scenario_checks() -> dict[str, list[str]]:
    """test name -> requirement IDs, read from the markers of the scenario and fuzz checks
    (the contracts phase's are checked in tests/test_contracts.py)."""
    found: dict[str, list[str]] = {}
    for name in CHECK_MODULES:
        if not name.rsplit(".", 1)[-1].startswith("test_"):
            continue
        module = importlib.import_module(name)
        for attr, value in vars(module).items():
            if attr.startswith("test_") and callable(value):
                found[f"{name}::{attr}"] = _marked(value)
            elif attr.startswith("Test") and isinstance(value, type):
                for method, fn in vars(value).items():
                    if method.startswith("test_"):
                        found[f"{name}::{attr}::{method}"] = _marked(fn) or _marked(value)
    return found


def test_catalogue_entries_are_well_formed():
    catalogue = load()
    ids = catalogue.ids()
    assert len(ids) == len(set(ids)), "duplicate requirement IDs"
    assert len(ids) >= 34
    for requirement in catalogue.requirements:
        assert requirement.level in ("MUST", "SHOULD")
        assert requirement.profile in PROFILES
        assert requirement.text and requirement.sources


def test_every_check_names_a_known_requirement():
    known = set(load().ids())
    checks = scenario_checks()
    assert checks, "no scenario checks found"
    untagged = [name for name, ids in checks.items() if not ids]
    unknown = {name: ids for name, ids in checks.items() if set(ids) - known}
    assert not untagged, f"checks without a requirement ID: {untagged}"
    assert not unknown, f"checks naming IDs that are not in the catalogue: {unknown}"


def test_no_check_module_judges_with_a_bare_assert():
    """The engine runs with --assert=plain (runner.pytest_command): a bare assert in a check
    would fail with no message. Checks judge with `must`, which says what was expected."""
    package = Path(conformance.__file__).parent
    found = []
    for folder in ("scenarios", "contracts", "model", "fuzz", "plugin"):
        for path in sorted((package / folder).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            found += [f"{path.relative_to(package)}:{n.lineno}" for n in ast.walk(tree) if isinstance(n, ast.Assert)]
    assert not found, f"bare asserts in the checks: {found}"


def test_every_requirement_is_owned_by_a_check():
    owned = {rid for ids in scenario_checks().values() for rid in ids}
    missing = [rid for rid in load().ids() if rid not in owned]
    assert not missing, f"requirements without a check: {missing}"


def test_every_requirement_has_a_fault_that_targets_it():
    targeted = {rid for fault in FAULTS.values() for rid in fault.requirements}
    missing = [rid for rid in load().ids() if rid not in targeted]
    assert not missing, f"requirements no fault proves can fail: {missing}"


@pytest.mark.parametrize("name", sorted(FAULTS))
def test_each_fault_names_known_requirements_and_says_what_it_breaks(name):
    fault = FAULTS[name]
    assert fault.requirements and set(fault.requirements) <= set(load().ids())
    assert len(fault.description) > 20


# -- every MUST cites a public source, and every citation points at something real ------------

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "docs" / "sources" / "seeds"
OFFICIAL = ROOT / "openapi" / "cloudflare-realtimekit-openapi.yaml"
SEED_SHA256 = {
    "000": "b560c652cfc543a6d428dffcd6b7a39644a5ded3f961d29ddb78914ea52478b3",
    "001": "176a6072f526fee71805618958cf19d9f384a33cb3a9ee05d8805e434d5d8dc8",
    "002": "6221d5c9cae0ab3ec28ed6ffe64e2111f074606d5f90dde4311e443fdb7d7752",
}
DOCS_PAGE = re.compile(r"^[a-z0-9-]+(/[a-z0-9-]+)*$")


def folded(text: str) -> str:
    """Text as a quote is compared: markdown links reduced to their words, no markup, no
    whitespace at all (the seeds break lines mid-sentence), case folded."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    return re.sub(r"[\s`*]+", "", text).casefold()


def seed_text(ref: str) -> str:
    (path,) = SEEDS.glob(f"{ref}_*.txt")
    return path.read_text(encoding="utf-8")


@cache
def official_document() -> dict:
    return read_yaml(OFFICIAL)  # type: ignore[return-value]


def official_node(ref: str) -> object | None:
    document = official_document()
    if ref.startswith("#/"):
        node: object = document
        for part in ref[2:].split("/"):
            if not isinstance(node, dict) or part not in node:
                return None
            node = node[part]
        return node
    for item in document["paths"].values():
        for operation in item.values():
            if isinstance(operation, dict) and operation.get("operationId") == ref:
                return operation
    return None


def citation_problem(source: Source) -> str | None:
    """What is wrong with one citation, or None."""
    if source.kind == "seed":
        if source.ref not in SEED_SHA256:
            return f"unknown seed {source.ref!r}"
        if not source.quote:
            return "a seed citation needs a quote"
        if folded(source.quote) not in folded(seed_text(source.ref)):
            return f"quote not found in seed {source.ref}: {source.quote!r}"
    elif source.kind == "openapi":
        node = official_node(source.ref)
        if node is None:
            return f"{source.ref!r} is not in Cloudflare's description"
        if source.quote and folded(source.quote) not in folded(yaml.safe_dump(node, width=10**6)):
            return f"quote not found in {source.ref}: {source.quote!r}"
    elif source.kind == "docs" and not DOCS_PAGE.match(source.ref):
        return f"docs page {source.ref!r} is not a path under developers.cloudflare.com/realtime/realtimekit/"
    return None


def test_the_seed_copies_are_verbatim():
    for ref, digest in SEED_SHA256.items():
        (path,) = SEEDS.glob(f"{ref}_*.txt")
        assert hashlib.sha256(path.read_bytes()).hexdigest() == digest, f"{path} changed"


def test_every_must_rests_on_a_public_source():
    unsourced = [r.id for r in load().requirements if r.gating and not any(s.public for s in r.sources)]
    assert not unsourced, f"MUSTs resting only on peer platforms or the suite's choice: {unsourced}"


@pytest.mark.parametrize("requirement_id", load().ids())
def test_every_citation_points_at_a_real_passage(requirement_id):
    problems = [p for s in load()[requirement_id].sources if (p := citation_problem(s))]
    assert not problems, f"{requirement_id}: {problems}"


@pytest.mark.parametrize(
    "source",
    [
        Source("seed", "002", quote="kickAll() throws a ClientError with error code 1202"),
        Source("seed", "009", quote="anything"),
        Source("seed", "002"),
        Source("openapi", "KickAllParticipantz"),
        Source("openapi", "KickAllParticipants", quote="answers 404"),
        Source("openapi", "#/components/schemas/realtimekit_Nope"),
        Source("docs", "https://example.test/page"),
    ],
    ids=lambda s: f"{s.kind}-{s.ref or 'none'}-{(s.quote or '')[:12]}",
)
def test_the_citation_lint_catches_a_bad_citation(source):
    assert citation_problem(source) is not None


def test_a_must_without_a_public_source_is_refused(tmp_path):
    bad = tmp_path / "catalogue.toml"
    bad.write_text(
        'version = "0"\n[[requirement]]\nid = "X-01"\nlevel = "MUST"\nprofile = "api"\ntext = "t"\n'
        'sources = [{ kind = "peer" }]\n',
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match="public RealtimeKit source"):
        load(bad)
