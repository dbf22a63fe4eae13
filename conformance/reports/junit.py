"""`junit.xml`: one testcase per check for CI dashboards, the requirement ID first in its name.

Outcomes map onto what JUnit knows: fail → <failure>; error and not_run → <error> (the suite
could not tell, which must not look green); expected_failure → <skipped> with the reason;
warning → passed, marked in a property. A claimed requirement that no check reported on, and
an unclaimed one, get a testcase of their own, so the matrix is complete in CI too.

Every text and attribute is stripped of what XML 1.0 forbids (control characters, lone
surrogates, U+FFFE/U+FFFF): a failure message may quote a response byte for byte, and one
`\x01` would make the whole file unparseable for CI.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from conformance.outcomes import INCONCLUSIVE, Outcome
from conformance.reports.names import check_name
from conformance.reports.stream import Check, Run

NAME = "junit.xml"

# Everything outside XML 1.0's Char production (https://www.w3.org/TR/xml/#charsets).
_NOT_XML_CHAR = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_safe(text: str) -> str:
    """`text` without the characters XML 1.0 cannot carry."""
    return _NOT_XML_CHAR.sub("", text)


def _make_safe(root: ET.Element) -> None:
    for element in root.iter():
        if element.text:
            element.text = xml_safe(element.text)
        if element.tail:
            element.tail = xml_safe(element.tail)
        for key, value in element.attrib.items():
            element.set(key, xml_safe(value))


def _testcase(parent: ET.Element, name: str, classname: str, seconds: float, props: dict[str, str]) -> ET.Element:
    case = ET.SubElement(parent, "testcase", name=name, classname=classname, time=f"{seconds:.3f}")
    properties = ET.SubElement(case, "properties")
    for key, value in props.items():
        ET.SubElement(properties, "property", name=key, value=value)
    return case


def _outcome(case: ET.Element, outcome: str, message: str) -> None:
    if outcome == Outcome.FAIL:
        ET.SubElement(case, "failure", message=message[:500], type=outcome).text = message
    elif outcome in INCONCLUSIVE:
        ET.SubElement(case, "error", message=message[:500], type=outcome).text = message
    elif outcome in (Outcome.EXPECTED_FAILURE, Outcome.DISABLED):
        ET.SubElement(case, "skipped", message=message[:500] or outcome, type=outcome)


def _check_case(suite: ET.Element, run: Run, check: Check) -> None:
    levels = {v.requirement.id: v.requirement.level for v in run.verdicts}
    ids = ",".join(check.requirements)
    module = check.nodeid.split("::")[0].removesuffix(".py").replace("/", ".")
    props = {
        "requirement": ids,
        "level": ",".join(levels.get(r, "?") for r in check.requirements),
        "profile": check.profile,
        "phase": check.phase,
        "outcome": check.outcome,
        "nodeid": check.nodeid,
    }
    if check.evidence:
        props["evidence"] = " ".join(check.evidence)
    # The suite's name for the check (`END-02 everyone gets roomLeft ended …`); the node id is a property.
    case = _testcase(suite, check_name(check.nodeid, check.requirements), module, check.duration, props)
    message = check.message
    if check.outcome == Outcome.EXPECTED_FAILURE:
        reasons = [
            v.expectation.reason
            for v in run.verdicts
            if v.requirement.id in check.requirements and v.expectation is not None
        ]
        message = f"expected failure: {'; '.join(reasons)} (observed: {check.message})"
    _outcome(case, check.outcome, message)


def write(run: Run) -> Path:
    root = ET.Element("testsuites", name=f"realtimekit-conformance {run.meta.run_id}")
    by_phase: dict[str, list[Check]] = {}
    for check in run.checks:
        by_phase.setdefault(check.phase, []).append(check)
    reported = {rid for c in run.checks for rid in c.requirements}
    orphans = [v for v in run.verdicts if v.requirement.id not in reported]
    for phase, checks in sorted(by_phase.items()):
        suite = ET.SubElement(root, "testsuite", name=phase)
        for check in checks:
            _check_case(suite, run, check)
    if orphans:
        suite = ET.SubElement(root, "testsuite", name="requirements")
        for v in orphans:
            r = v.requirement
            case = _testcase(
                suite,
                f"{r.id} (requirement)",
                "requirements",
                0.0,
                {"requirement": r.id, "level": r.level, "profile": r.profile, "outcome": v.outcome},
            )
            _outcome(case, v.outcome, v.message or ("profile not claimed" if v.outcome == Outcome.DISABLED else ""))
    for suite in root:
        cases = suite.findall("testcase")
        suite.set("tests", str(len(cases)))
        for tag, attr in (("failure", "failures"), ("error", "errors"), ("skipped", "skipped")):
            suite.set(attr, str(sum(1 for c in cases if c.find(tag) is not None)))
        suite.set("time", f"{sum(float(c.get('time', 0)) for c in cases):.3f}")
    _make_safe(root)
    ET.indent(root)
    path = run.run_dir / NAME
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
    return path
