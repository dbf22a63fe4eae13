"""The catalogue is linted like Kubernetes conformance metadata: every requirement has a
check, every check names a requirement, and every requirement has a fault that proves its
check can fail."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import conformance.scenarios
from conformance.catalogue import PROFILES, load
from conformance.reference.faults import FAULTS


def scenario_checks() -> dict[str, list[str]]:
    """test name -> requirement IDs, read from the scenario modules' markers."""
    found: dict[str, list[str]] = {}
    for info in pkgutil.iter_modules(conformance.scenarios.__path__):
        if not info.name.startswith("test_"):
            continue
        module = importlib.import_module(f"conformance.scenarios.{info.name}")
        for name, fn in vars(module).items():
            if name.startswith("test_") and callable(fn):
                marks = [m for m in getattr(fn, "pytestmark", []) if m.name == "requirement"]
                found[f"{info.name}::{name}"] = [rid for m in marks for rid in m.args]
    return found


def test_catalogue_entries_are_well_formed():
    catalogue = load()
    ids = catalogue.ids()
    assert len(ids) == len(set(ids)), "duplicate requirement IDs"
    assert len(ids) >= 34
    for requirement in catalogue.requirements:
        assert requirement.level in ("MUST", "SHOULD")
        assert requirement.profile in PROFILES
        assert requirement.text and requirement.source


def test_every_check_names_a_known_requirement():
    known = set(load().ids())
    checks = scenario_checks()
    assert checks, "no scenario checks found"
    untagged = [name for name, ids in checks.items() if not ids]
    unknown = {name: ids for name, ids in checks.items() if set(ids) - known}
    assert not untagged, f"checks without a requirement ID: {untagged}"
    assert not unknown, f"checks naming IDs that are not in the catalogue: {unknown}"


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
