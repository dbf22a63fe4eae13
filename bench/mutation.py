"""Mutation benchmark: what fraction of bugs nobody catalogued do the checks catch?

Mutates the reference implementation's state machine (sessions, hub, webhook delivery), one
mutant at a time, runs the scenario checks (every profile, webhooks included) against the
embedded reference carrying that mutant, and reports killed / survived / timed-out /
equivalent-looking, the surviving mutants' diffs, and the mutation score last: twice, without
and with the model phase (issue 15). A mutant the scenarios kill needs no model run; one they
miss is then run through the model phase, so the second figure costs only the survivors.

The mutating is our own (`ast`, ~100 lines) rather than mutmut or cosmic-ray: both rewrite the
source tree in place and drive a test command per mutant, but here the code under test runs
inside the pytest process as a threaded server, the checks select by requirement, and only
the state machine is worth mutating (not logging, messages or formatting), which is easiest
to say as an AST filter. Each mutant is written into a private copy of the `conformance`
package placed first on PYTHONPATH, so the working tree is never touched and two mutants can
run side by side.

    python bench/mutation.py                       # default budget: 24 mutants, seed 12, 2 at once
    python bench/mutation.py --limit 60 --module sessions --seed 3
    python bench/mutation.py --without-model       # the scenarios' score only
    python bench/mutation.py --dry-run             # the chosen mutants and commands; runs nothing
"""

from __future__ import annotations

import argparse
import ast
import concurrent.futures
import difflib
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODULES = {
    "sessions": "conformance/reference/sessions.py",
    "hub": "conformance/reference/hub.py",
    "webhooks": "conformance/reference/webhooks.py",
}
SWAPS = {"ended": "left", "left": "kicked", "kicked": "ended", "HOST_ENDED_MEETING": "ALL_PARTICIPANTS_LEFT"}
# Calls whose removal only changes what is logged or said, never the state machine.
NOT_STATE = ("log.", "logger.", "logging.", "print(")


@dataclass
class Mutant:
    module: str
    line: int
    operator: str
    source: str  # the whole mutated module

    def diff(self) -> str:
        """Against the original as `ast.unparse` prints it, so only the mutation shows."""
        original = ast.unparse(ast.parse((ROOT / self.module).read_text(encoding="utf-8")))
        lines = difflib.unified_diff(
            original.splitlines(), self.source.splitlines(), f"a/{self.module}", f"b/{self.module}", n=1, lineterm=""
        )
        return "\n".join(lines)


def _is_state(node: ast.stmt) -> bool:
    text = ast.unparse(node)
    return not any(text.startswith(prefix) or f" {prefix}" in text for prefix in NOT_STATE)


class _Sites(ast.NodeVisitor):
    """Every place an operator applies, as (operator, node) inside function bodies."""

    def __init__(self) -> None:
        self.sites: list[tuple[str, ast.AST]] = []
        self.depth = 0

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.depth += 1
        body = node.body[1:] if ast.get_docstring(node) else node.body
        for stmt in body:
            self.visit(stmt)
        self.depth -= 1

    visit_AsyncFunctionDef = visit_FunctionDef

    def generic_visit(self, node: ast.AST) -> None:
        if self.depth:
            if isinstance(node, ast.If | ast.While | ast.IfExp):
                self.sites.append(("negate condition", node))
            awaited = isinstance(node, ast.Expr) and isinstance(node.value, ast.Await)
            if isinstance(node, ast.Expr | ast.Assign | ast.AugAssign | ast.Return) and not awaited and _is_state(node):
                self.sites.append(("drop statement", node))
            if isinstance(node, ast.Constant) and node.value in SWAPS:
                self.sites.append(("swap state word", node))
            if isinstance(node, ast.Constant) and type(node.value) is int:
                self.sites.append(("off by one", node))
            if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _FLIP:
                self.sites.append(("flip comparison", node))
            if isinstance(node, ast.Expr) and isinstance(node.value, ast.Await) and _is_state(node):
                self.sites.append(("skip an await", node))
        super().generic_visit(node)


_FLIP = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq, ast.NotEq: ast.Eq}


class _Apply(ast.NodeTransformer):
    def __init__(self, target: ast.AST, operator: str) -> None:
        self.target, self.operator = target, operator

    def visit(self, node: ast.AST) -> ast.AST | None:
        if node is not self.target:
            return super().visit(node)
        op = self.operator
        if op == "negate condition":
            node.test = ast.UnaryOp(ast.Not(), node.test)  # type: ignore[attr-defined]
        elif op in ("drop statement", "skip an await"):
            return ast.Pass()
        elif op == "swap state word":
            node.value = SWAPS[node.value]  # type: ignore[attr-defined]
        elif op == "off by one":
            node.value = node.value + 1  # type: ignore[attr-defined]
        elif op == "flip comparison":
            node.ops = [_FLIP[type(node.ops[0])]()]  # type: ignore[attr-defined]
        return node


def mutant_sites(module: str) -> list[tuple[str, int]]:
    """Every mutant of a module as (module, site index): cheap to list and sample; built on demand."""
    sites = _Sites()
    sites.visit(ast.parse((ROOT / module).read_text(encoding="utf-8")))
    return [(module, index) for index in range(len(sites.sites))]


def build_mutant(module: str, index: int) -> Mutant:
    tree = ast.parse((ROOT / module).read_text(encoding="utf-8"))
    operator, node = list(_site_list(tree))[index]
    _Apply(node, operator).visit(tree)
    return Mutant(module, getattr(node, "lineno", 0), operator, ast.unparse(ast.fix_missing_locations(tree)))


def mutants(module: str) -> Iterator[Mutant]:
    for _, index in mutant_sites(module):
        yield build_mutant(module, index)


def _site_list(tree: ast.AST) -> list[tuple[str, ast.AST]]:
    sites = _Sites()
    sites.visit(tree)
    return sites.sites


# The phases a mutant is run through, in order; the model phase only for the scenarios' survivors.
SCENARIOS, MODEL = "conformance.scenarios", "conformance.model"
OUTCOMES = ("killed", "survived", "timed-out", "equivalent-looking")


@dataclass
class Judged:
    """One mutant's outcome without and with the model phase ("" with: not run, --without-model)."""

    mutant: Mutant
    without_model: str
    with_model: str
    seconds: float


def judge(mutant: Mutant, timeout: float, with_model: bool) -> Judged:
    """'killed' (a check failed), 'survived', 'timed-out', or 'equivalent-looking' (no change)."""
    baseline = ast.unparse(ast.parse((ROOT / mutant.module).read_text(encoding="utf-8")))
    if mutant.source == baseline:
        return Judged(mutant, "equivalent-looking", "equivalent-looking" if with_model else "", 0.0)
    outcome, seconds = run_checks(mutant.module, mutant.source, timeout, SCENARIOS)
    if not with_model:
        return Judged(mutant, outcome, "", seconds)
    if outcome != "survived":  # a kill (or a hang) of the scenarios stands with the model phase too
        return Judged(mutant, outcome, outcome, seconds)
    model_outcome, model_seconds = run_checks(mutant.module, mutant.source, timeout, MODEL)
    return Judged(mutant, outcome, model_outcome, seconds + model_seconds)


def pytest_command(tmp: str, package: str) -> list[str]:
    return [
        sys.executable, "-m", "pytest", "-p", "conformance.plugin", "--pyargs", package, "-x", "-q",
        "-p", "no:cacheprovider", "--timeout=60", "--rootdir", tmp,
    ]  # fmt: skip


def run_checks(module: str, source: str, timeout: float, package: str = SCENARIOS) -> tuple[str, float]:
    """Run one phase's checks against a private copy of the package with `module` replaced."""
    with tempfile.TemporaryDirectory(prefix="rtkc-mutant-") as tmp:
        shutil.copytree(ROOT / "conformance", Path(tmp) / "conformance", ignore=shutil.ignore_patterns("__pycache__"))
        (Path(tmp) / module).write_text(source, encoding="utf-8")
        for documents in ("openapi", "contracts"):  # read beside the package, as in a checkout
            (Path(tmp) / documents).symlink_to(ROOT / documents)
        env = {**os.environ, "PYTHONPATH": tmp, "RTKC_EVENT_TIMEOUT_SECONDS": "2", "PYTHONDONTWRITEBYTECODE": "1"}
        started = time.monotonic()
        try:
            done = subprocess.run(
                pytest_command(tmp, package), cwd=tmp, env=env, capture_output=True, text=True, timeout=timeout
            )
        except subprocess.TimeoutExpired:
            return "timed-out", time.monotonic() - started
        # 0: every check passed; anything else is a failed check, or a mutant that broke loading.
        return ("survived" if done.returncode == 0 else "killed"), time.monotonic() - started


def score(judged: list[Judged], with_model: bool) -> tuple[int, int]:
    """(killed, killed or survived). Timed-out mutants hung the suite (an ERROR, not a FAIL):
    listed, left out of the score; so are equivalent-looking ones."""
    outcomes = [j.with_model if with_model else j.without_model for j in judged]
    killed = outcomes.count("killed")
    return killed, killed + outcomes.count("survived")


def report(judged: list[Judged], with_model: bool) -> str:
    lines = []
    for j in sorted(judged, key=lambda j: (j.mutant.module, j.mutant.line)):
        if (j.with_model if with_model else j.without_model) == "survived":
            lines += [f"\nSURVIVED {j.mutant.module}:{j.mutant.line} ({j.mutant.operator})", j.mutant.diff()]
    for j in judged:
        if with_model and j.without_model == "survived" and j.with_model == "killed":
            lines.append(f"\nkilled only by the model phase: {j.mutant.module}:{j.mutant.line} ({j.mutant.operator})")
    counts = {o: sum(1 for j in judged if j.without_model == o) for o in OUTCOMES}
    lines.append("\nscenarios: " + ", ".join(f"{k}: {v}" for k, v in counts.items()))
    for label, model in (("without", False), ("with", True)) if with_model else (("without", False),):
        killed, counted = score(judged, model)
        share = killed / counted if counted else 0.0
        lines.append(
            f"mutation score {label} the model phase: {share:.0%} ({killed} killed of {counted} killed or survived)"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=24, help="mutants to run (a seeded sample)")
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--module", action="append", choices=sorted(MODULES), help="only these modules")
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=300, help="seconds per mutant before it counts as timed-out")
    parser.add_argument("--without-model", action="store_true", help="the scenarios only: one score, no model runs")
    parser.add_argument("--dry-run", action="store_true", help="list the chosen mutants and commands; run nothing")
    args = parser.parse_args(argv)
    with_model = not args.without_model

    pool = [site for name in (args.module or sorted(MODULES)) for site in mutant_sites(MODULES[name])]
    chosen = [build_mutant(*site) for site in random.Random(args.seed).sample(pool, min(args.limit, len(pool)))]
    phases = "scenarios, then the model phase for their survivors" if with_model else "scenarios only"
    print(f"{len(pool)} mutants possible; running {len(chosen)} (seed {args.seed}, {args.parallel} at once; {phases})")
    if args.dry_run:
        for mutant in chosen:
            print(f"  {mutant.module}:{mutant.line} {mutant.operator}")
        for package in (SCENARIOS, MODEL) if with_model else (SCENARIOS,):
            print("  command: " + " ".join(pytest_command("<copy>", package)[1:]))
        return 0
    # The unmutated copy must pass, or every mutant would count as killed.
    for package in (SCENARIOS, MODEL) if with_model else (SCENARIOS,):
        outcome, seconds = run_checks(
            MODULES["sessions"], (ROOT / MODULES["sessions"]).read_text(), args.timeout, package
        )
        print(
            f"  baseline of {package} (no mutation): {'passes' if outcome == 'survived' else outcome} ({seconds:.0f} s)"
        )
        if outcome != "survived":
            print(f"the unmutated reference does not pass {package}: no score")
            return 2
    judged: list[Judged] = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.parallel)) as workers:
        futures = [workers.submit(judge, m, args.timeout, with_model) for m in chosen]
        for future in concurrent.futures.as_completed(futures):
            j = future.result()
            judged.append(j)
            shown = j.without_model + (f" / with model: {j.with_model}" if with_model else "")
            print(
                f"  {shown:<38} {j.mutant.module}:{j.mutant.line} {j.mutant.operator} ({j.seconds:.0f} s)", flush=True
            )
    print(report(judged, with_model))
    return 0


if __name__ == "__main__":
    sys.exit(main())
