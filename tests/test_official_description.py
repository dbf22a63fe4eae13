"""openapi/realtimekit.yaml is nowhere stricter than Cloudflare's own description, except
where openapi/additions.toml states an addition and names its source.

Operations are matched by method and path template (parameter names may differ). For each
one, the suite's description must:
- document every status Cloudflare documents, and every method Cloudflare has on its paths
  (the fuzz phase would otherwise expect 405 for it);
- accept in its response schemas every body Cloudflare's schemas accept (no extra required
  field, narrower type, enum, bound, format, `additionalProperties: false`, lost `nullable`);
- state the same request constraints as Cloudflare (body and query): looser, and the fuzzer
  sends as valid what Cloudflare may refuse; stricter, and it sends as invalid what
  Cloudflare accepts.
Anything else the suite's description says is a problem unless an addition covers it.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conformance.resources import read_yaml

ROOT = Path(__file__).parents[1]
SUITE_PATH = ROOT / "openapi" / "realtimekit.yaml"
OFFICIAL_PATH = ROOT / "openapi" / "cloudflare-realtimekit-openapi.yaml"
ADDITIONS_PATH = ROOT / "openapi" / "additions.toml"
OFFICIAL_SHA256 = "9186b41105c48d74dfd56a9021c311913a0a787ba24fc41a3b960313aeb08f7d"
PREFIX = "/accounts/{account_id}/realtime/kit/{app_id}"
METHODS = ("get", "put", "post", "patch", "delete")
README_SECTION = "## What the suite's OpenAPI description adds to Cloudflare's"

# Keywords that only narrow what a value may be; `min*`/`max*` compare by direction.
LOWER_BOUNDS = ("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties")
UPPER_BOUNDS = ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties")
EXACT = ("format", "pattern", "multipleOf")
# Keywords that say nothing about validity.
ANNOTATIONS = {"description", "example", "examples", "default", "title", "x-auditable", "readOnly", "writeOnly"}


# ------------------------------------------------------------------ documents
def load(path: Path) -> dict[str, Any]:
    return read_yaml(path)  # type: ignore[return-value]


@pytest.fixture(scope="module")
def suite() -> dict[str, Any]:
    return load(SUITE_PATH)


@pytest.fixture(scope="module")
def official() -> dict[str, Any]:
    return load(OFFICIAL_PATH)


@pytest.fixture(scope="module")
def additions() -> list[dict[str, str]]:
    return load_additions()


def load_additions() -> list[dict[str, str]]:
    with ADDITIONS_PATH.open("rb") as fh:
        return tomllib.load(fh)["addition"]


def resolve(doc: dict[str, Any], node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        target: Any = doc
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def template(path: str) -> str:
    """The path after the account/app prefix, with every parameter written `{}`."""
    return re.sub(r"\{[^}]*\}", "{}", path.removeprefix(PREFIX))


def operations(doc: dict[str, Any]) -> dict[tuple[str, str], tuple[str, dict, dict]]:
    """(METHOD, template) -> (path, path item, operation)."""
    found = {}
    for path, item in doc.get("paths", {}).items():
        for method in METHODS:
            if method in item:
                found[(method.upper(), template(path))] = (path, item, item[method])
    return found


def parameters(doc: dict[str, Any], path: str, item: dict, op: dict) -> dict[tuple[str, str], dict]:
    """(in, name) -> parameter; a path parameter's name is its position in the path, since
    the two descriptions name them differently."""
    slots = re.findall(r"\{([^}]*)\}", path)
    merged: dict[tuple[str, str], dict] = {}
    for raw in [*item.get("parameters", []), *op.get("parameters", [])]:
        param = resolve(doc, raw)
        name = param["name"] if param["in"] != "path" else f"#{slots.index(param['name'])}"
        merged[(param["in"], name)] = param
    return merged


def json_body(doc: dict[str, Any], holder: Any) -> Any:
    holder = resolve(doc, holder) or {}
    schema = (holder.get("content") or {}).get("application/json", {}).get("schema")
    return None if schema is None else schema


# ------------------------------------------------------------------ schemas
def types_of(doc: dict[str, Any], node: dict) -> set[str] | None:
    """The JSON types a schema node allows, None for any; 3.0 `nullable` becomes 'null'."""
    raw = node.get("type")
    if raw is None:
        return None
    kinds = set(raw) if isinstance(raw, list) else {raw}
    if node.get("nullable"):
        kinds.add("null")
    return kinds


def merged_all_of(doc: dict[str, Any], node: Any) -> dict:
    """One schema for an `allOf` (required and properties united), siblings kept."""
    node = resolve(doc, node)
    if not isinstance(node, dict) or "allOf" not in node:
        return node if isinstance(node, dict) else {}
    out = {k: v for k, v in node.items() if k != "allOf"}
    for part in node["allOf"]:
        part = merged_all_of(doc, part)
        for key, value in part.items():
            if key == "required":
                out["required"] = sorted({*out.get("required", []), *value})
            elif key == "properties":  # a property named twice must meet both schemas
                props = dict(out.get("properties", {}))
                for name, schema in value.items():
                    props[name] = {"allOf": [props[name], schema]} if name in props else schema
                out["properties"] = props
            elif key == "items" and "items" in out:
                out["items"] = {"allOf": [out["items"], value]}
            else:
                out.setdefault(key, value)
    return out


def constrained(doc: dict[str, Any], node: Any) -> bool:
    node = resolve(doc, node)
    return isinstance(node, dict) and any(k not in ANNOTATIONS for k in node)


def values(node: dict) -> list[str] | None:
    if "const" in node:
        return [json.dumps(node["const"])]
    if "enum" in node:
        return [json.dumps(v) for v in node["enum"]]
    return None


def loosened(s_doc: dict, s: Any, o_doc: dict, o: Any, where: str, seen: frozenset = frozenset()) -> Iterator[str]:
    """Problems where schema `s` (suite) refuses a value schema `o` (official) accepts."""
    s, o = resolve(s_doc, s), resolve(o_doc, o)
    if not isinstance(s, dict) or not constrained(s_doc, s) or (id(s), id(o)) in seen:
        return  # nothing to refuse, or a recursive schema met again
    seen = seen | {(id(s), id(o))}
    o = merged_all_of(o_doc, o)
    if "allOf" in s:  # every part must accept what Cloudflare accepts
        rest = {k: v for k, v in s.items() if k != "allOf"}
        for part in [rest, *s["allOf"]]:
            yield from loosened(s_doc, part, o_doc, o, where)
        return
    for key in ("anyOf", "oneOf"):
        if key in o:  # a value may come from any branch
            rest = {k: v for k, v in o.items() if k != key}
            for i, branch in enumerate(o[key]):
                option = {**merged_all_of(o_doc, branch), **rest}
                yield from loosened(s_doc, s, o_doc, option, f"{where}/{key}{i}", seen)
            return
    for key in ("anyOf", "oneOf"):
        if key in s:
            rest = {k: v for k, v in s.items() if k != key}
            tries = [list(loosened(s_doc, {**resolve(s_doc, b), **rest}, o_doc, o, where)) for b in s[key]]
            if not any(not t for t in tries):
                yield f"{where}: no branch of {key} accepts everything Cloudflare's schema does ({tries[0][0]})"
            return
    s_types, o_types = types_of(s_doc, s), types_of(o_doc, o)
    if s_types is not None:
        if o_types is None:
            yield f"{where}: type {sorted(s_types)} where Cloudflare allows any type"
        else:
            for kind in o_types - s_types:
                if not (kind == "integer" and "number" in s_types):
                    yield f"{where}: type {sorted(s_types)} refuses {kind!r} (Cloudflare: {sorted(o_types)})"
    s_values, o_values = values(s), values(o)
    if s_values is not None and (o_values is None or set(o_values) - set(s_values)):
        yield f"{where}: enum/const {s_values} narrower than Cloudflare's {o_values or 'open value'}"
    extra = set(s.get("required", [])) - set(o.get("required", []))
    if extra:
        yield f"{where}: requires {sorted(extra)}, Cloudflare does not"
    yield from bounds(s, o, where, tighter_only=True)
    if s.get("uniqueItems") and not o.get("uniqueItems"):
        yield f"{where}: uniqueItems, Cloudflare has not"
    if s.get("additionalProperties") is False and o.get("additionalProperties") is not False:
        yield f"{where}: additionalProperties false, Cloudflare allows more"
    o_props = o.get("properties", {})
    for name, s_prop in s.get("properties", {}).items():
        if name in o_props:
            yield from loosened(s_doc, s_prop, o_doc, o_props[name], f"{where}/{name}", seen)
        elif o.get("additionalProperties") is not False and constrained(s_doc, s_prop):
            yield f"{where}/{name}: constrained here, not in Cloudflare's schema"
    if "items" in s:
        yield from loosened(s_doc, s["items"], o_doc, o.get("items", {}), f"{where}/items", seen)


def bounds(s: dict, o: dict, where: str, tighter_only: bool) -> Iterator[str]:
    for key in LOWER_BOUNDS + UPPER_BOUNDS + EXACT:
        if key not in s and key not in o:
            continue
        if tighter_only:
            if key not in s:
                continue
            if key not in o:
                ok = False
            elif key in LOWER_BOUNDS:
                ok = s[key] <= o[key]
            else:
                ok = s[key] >= o[key] if key in UPPER_BOUNDS else s[key] == o[key]
        else:
            ok = s.get(key) == o.get(key)
        if not ok:
            yield f"{where}: {key} {s.get(key, 'absent')}, Cloudflare {o.get(key, 'absent')}"


def differences(s_doc: dict, s: Any, o_doc: dict, o: Any, where: str, seen: frozenset = frozenset()) -> Iterator[str]:
    """Problems where request schema `s` states other constraints than `o`, either way."""
    if (id(resolve(s_doc, s)), id(resolve(o_doc, o))) in seen:
        return  # a recursive schema met again
    seen = seen | {(id(resolve(s_doc, s)), id(resolve(o_doc, o)))}
    s, o = merged_all_of(s_doc, s), merged_all_of(o_doc, o)
    for key in ("anyOf", "oneOf"):
        if key in s or key in o:
            s_branches, o_branches = s.get(key, []), o.get(key, [])
            if len(s_branches) != len(o_branches):
                yield f"{where}: {key} with {len(s_branches)} branches, Cloudflare {len(o_branches)}"
            for i, (sb, ob) in enumerate(zip(s_branches, o_branches, strict=False)):
                yield from differences(s_doc, sb, o_doc, ob, f"{where}/{key}{i}", seen)
    s_types, o_types = types_of(s_doc, s), types_of(o_doc, o)
    if s_types != o_types:
        yield f"{where}: type {sorted(s_types or ['any'])}, Cloudflare {sorted(o_types or ['any'])}"
    s_values, o_values = values(s), values(o)
    if (s_values is not None or o_values is not None) and set(s_values or []) != set(o_values or []):
        yield f"{where}: enum/const {s_values}, Cloudflare {o_values}"
    if set(s.get("required", [])) != set(o.get("required", [])):
        yield f"{where}: requires {sorted(s.get('required', []))}, Cloudflare {sorted(o.get('required', []))}"
    yield from bounds(s, o, where, tighter_only=False)
    if bool(s.get("uniqueItems")) != bool(o.get("uniqueItems")):
        yield f"{where}: uniqueItems {s.get('uniqueItems')}, Cloudflare {o.get('uniqueItems')}"
    if (s.get("additionalProperties") is False) != (o.get("additionalProperties") is False):
        yield f"{where}: additionalProperties differs from Cloudflare's"
    s_props, o_props = s.get("properties", {}), o.get("properties", {})
    for name in sorted(set(s_props) | set(o_props)):
        if name in s_props and name in o_props:
            yield from differences(s_doc, s_props[name], o_doc, o_props[name], f"{where}/{name}", seen)
        elif name in s_props and constrained(s_doc, s_props[name]):
            yield f"{where}/{name}: constrained here, not in Cloudflare's schema"
        elif name in o_props and constrained(o_doc, o_props[name]):
            yield f"{where}/{name}: constrained by Cloudflare, left out here"
    if "items" in s or "items" in o:
        yield from differences(s_doc, s.get("items", {}), o_doc, o.get("items", {}), f"{where}/items", seen)


# ------------------------------------------------------------------ comparison
def stricter_places(s_doc: dict[str, Any], o_doc: dict[str, Any]) -> list[str]:
    """Every place the suite's description is stricter than Cloudflare's, as
    `METHOD /template part/pointer: what` (the template after the account/app prefix)."""
    problems: list[str] = []
    s_ops, o_ops = operations(s_doc), operations(o_doc)
    s_paths = {t for _, t in s_ops}
    for method, path in sorted(o_ops):
        if path in s_paths and (method, path) not in s_ops:
            problems.append(f"{method} {path} method: Cloudflare has it, the suite's description does not")
    for key in sorted(s_ops):
        if key not in o_ops:
            problems.append(f"{key[0]} {key[1]} operation: not in Cloudflare's description")
            continue
        at = f"{key[0]} {key[1]}"
        problems += [f"{at} {p}" for p in operation_problems(s_doc, s_ops[key], o_doc, o_ops[key])]
    return problems


def operation_problems(s_doc: dict, s_found: tuple, o_doc: dict, o_found: tuple) -> Iterator[str]:
    (s_path, s_item, s_op), (o_path, o_item, o_op) = s_found, o_found
    s_resp, o_resp = s_op.get("responses", {}), o_op.get("responses", {})
    for status in o_resp:
        if status not in s_resp:
            yield f"responses/{status}: documented by Cloudflare, not here"
    for status, response in s_resp.items():
        if status not in o_resp:
            yield f"responses/{status}: not documented by Cloudflare"
            continue
        s_schema, o_schema = json_body(s_doc, response), json_body(o_doc, o_resp[status])
        if s_schema is not None:
            yield from loosened(s_doc, s_schema, o_doc, o_schema or {}, f"responses/{status}")
    s_params, o_params = parameters(s_doc, s_path, s_item, s_op), parameters(o_doc, o_path, o_item, o_op)
    for key in sorted(set(s_params) | set(o_params)):
        where = f"parameters/{key[0]}/{key[1]}"
        if key not in o_params:
            if constrained(s_doc, s_params[key].get("schema", {})) or s_params[key].get("required"):
                yield f"{where}: not in Cloudflare's description"
            continue
        if key not in s_params:
            if o_params[key].get("required"):
                yield f"{where}: required by Cloudflare, left out here"
            continue
        if bool(s_params[key].get("required")) != bool(o_params[key].get("required")):
            yield f"{where}: required differs from Cloudflare's"
        if key[0] == "path":  # a run names real resources here: only "no stricter" matters
            yield from loosened(s_doc, s_params[key].get("schema", {}), o_doc, o_params[key].get("schema", {}), where)
            continue
        yield from differences(s_doc, s_params[key].get("schema", {}), o_doc, o_params[key].get("schema", {}), where)
    s_body = json_body(s_doc, s_op.get("requestBody"))
    o_body = json_body(o_doc, o_op.get("requestBody"))
    if s_body is not None or o_body is not None:
        yield from differences(s_doc, s_body or {}, o_doc, o_body or {}, "requestBody")


def covered(problem: str, location: str) -> bool:
    """An addition's `location` is `METHOD /template part` where METHOD and the template may
    be `*`; it covers every problem at or below that part."""
    method, path, part = location.split(" ", 2)
    p_method, p_path, rest = problem.split(" ", 2)
    p_part = rest.split(":", 1)[0]
    return method in ("*", p_method) and path in ("*", p_path) and (p_part == part or p_part.startswith(part + "/"))


def uncovered(problems: list[str], additions: list[dict[str, str]]) -> list[str]:
    return [p for p in problems if not any(covered(p, a["location"]) for a in additions if compared(a))]


def compared(addition: dict[str, str]) -> bool:
    """Additions about operations; the others (links, the webhooks section) change no answer."""
    return addition["location"].split(" ", 1)[0] in ("*", *(m.upper() for m in METHODS))


# ------------------------------------------------------------------ tests
def test_official_description_is_verbatim():
    assert hashlib.sha256(OFFICIAL_PATH.read_bytes()).hexdigest() == OFFICIAL_SHA256, (
        "openapi/cloudflare-realtimekit-openapi.yaml must stay a verbatim copy (see openapi/PROVENANCE.md)"
    )
    assert OFFICIAL_SHA256 in (ROOT / "openapi" / "PROVENANCE.md").read_text(encoding="utf-8")


def test_suite_description_is_nowhere_stricter_than_cloudflares(suite, official, additions):
    problems = uncovered(stricter_places(suite, official), additions)
    assert not problems, "stricter than Cloudflare's description, with no addition:\n" + "\n".join(problems)


def test_every_addition_names_a_source_and_is_used(suite, official, additions):
    problems = stricter_places(suite, official)
    for addition in additions:
        assert set(addition) == {"location", "adds", "source"}, addition
        assert addition["source"].strip() and addition["adds"].strip(), addition
        if compared(addition):
            assert any(covered(p, addition["location"]) for p in problems), f"unused addition: {addition['location']}"


def test_readme_lists_exactly_the_additions(additions):
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert README_SECTION in text
    section = text.split(README_SECTION, 1)[1].split("\n## ", 1)[0]
    listed = re.findall(r"^\| `([^`]+)` \|", section, flags=re.MULTILINE)
    assert listed == [a["location"] for a in additions]


# Each edit makes the suite's description stricter in one way; the comparison must say so.
STRICTER_EDITS = (
    "required field",
    "enum",
    "bound",
    "nullable lost",
    "additionalProperties",
    "status removed",
    "method removed",
    "request bound",
    "request required",
)


def make_stricter(doc: dict[str, Any], edit: str) -> None:
    schemas = doc["components"]["schemas"]
    meeting = schemas["realtimekit_Meeting"]
    meetings = doc["paths"][PREFIX + "/meetings"]
    if edit == "required field":
        meeting["required"] = [*meeting.get("required", []), "title"]
    elif edit == "enum":
        meeting["properties"]["status"] = {"type": "string", "enum": ["ACTIVE"]}
    elif edit == "bound":
        schemas["realtimekit_ActiveSession"]["properties"]["minutes_consumed"] = {"type": "number", "maximum": 10}
    elif edit == "nullable lost":
        schemas["realtimekit_Recording"]["properties"]["stopped_time"] = {"type": "string"}
    elif edit == "additionalProperties":
        schemas["realtimekit_Webhook"]["additionalProperties"] = False
    elif edit == "status removed":
        del meetings["post"]["responses"]["201"]
    elif edit == "method removed":
        del doc["paths"][PREFIX + "/meetings/{meeting_id}"]["put"]
    elif edit == "request bound":
        per_page = next(p for p in meetings["get"]["parameters"] if p.get("name") == "per_page")
        per_page["schema"] = {**per_page["schema"], "maximum": 100}
    elif edit == "request required":
        body = resolve(doc, meetings["post"]["requestBody"]["content"]["application/json"]["schema"])
        body["required"] = [*body.get("required", []), "title"]


@pytest.mark.parametrize("edit", STRICTER_EDITS)
def test_the_comparison_catches_a_stricter_edit(suite, official, additions, edit):
    doc = copy.deepcopy(suite)
    make_stricter(doc, edit)
    before = set(uncovered(stricter_places(suite, official), additions))
    after = set(uncovered(stricter_places(doc, official), additions))
    assert after - before, f"a stricter {edit} went unnoticed"
