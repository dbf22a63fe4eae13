"""Mutation benchmark: what fraction of bugs nobody catalogued do the checks catch?

Mutates the reference implementation's state machine (sessions, hub, webhook delivery), one
mutant at a time, runs the scenario checks (every profile, webhooks included) against the
embedded reference carrying that mutant, and reports killed / survived / timed-out /
equivalent-looking, the surviving mutants' diffs, and the mutation score last.

The mutating is our own (`ast`, ~100 lines) rather than mutmut or cosmic-ray: both rewrite the
source tree in place and drive a test command per mutant, but here the code under test runs
inside the pytest process as a threaded server, the checks select by requirement, and only
the state machine is worth mutating (not logging, messages or formatting), which is easiest
to say as an AST filter. Each mutant is written into a private copy of the `conformance`
package placed first on PYTHONPATH, so the working tree is never touched and two mutants can
run side by side.

    python bench/mutation.py                       # default budget: 24 mutants, seed 12, 2 at once
    python bench/mutation.py --limit 60 --module sessions --seed 3
"""

from __future__ import annotations

import argparse
import ast
import concurrent.futures
import copy
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


def mutants(module: str) -> Iterator[Mutant]:
    original = (ROOT / module).read_text(encoding="utf-8")
    tree = ast.parse(original)
    sites = _Sites()
    sites.visit(tree)
    for index, (operator, node) in enumerate(sites.sites):
        mutated = copy.deepcopy(tree)
        target = list(_walk_sites(mutated))[index]
        _Apply(target, operator).visit(mutated)
        yield Mutant(module, getattr(node, "lineno", 0), operator, ast.unparse(ast.fix_missing_locations(mutated)))


def _walk_sites(tree: ast.AST) -> Iterator[ast.AST]:
    sites = _Sites()
    sites.visit(tree)
    for _, node in sites.sites:
        yield node


def run_mutant(mutant: Mutant, timeout: float) -> tuple[str, float]:
    """'killed' (a check failed), 'survived', 'timed-out', or 'equivalent-looking' (no change)."""
    baseline = ast.unparse(ast.parse((ROOT / mutant.module).read_text(encoding="utf-8")))
    if mutant.source == baseline:
        return "equivalent-looking", 0.0
    return run_checks(mutant.module, mutant.source, timeout)


def run_checks(module: str, source: str, timeout: float) -> tuple[str, float]:
    """Run the scenario checks against a private copy of the package with `module` replaced."""
    with tempfile.TemporaryDirectory(prefix="rtkc-mutant-") as tmp:
        shutil.copytree(ROOT / "conformance", Path(tmp) / "conformance", ignore=shutil.ignore_patterns("__pycache__"))
        (Path(tmp) / module).write_text(source, encoding="utf-8")
        for documents in ("openapi", "contracts"):  # read beside the package, as in a checkout
            (Path(tmp) / documents).symlink_to(ROOT / documents)
        env = {**os.environ, "PYTHONPATH": tmp, "RTKC_EVENT_TIMEOUT_SECONDS": "2", "PYTHONDONTWRITEBYTECODE": "1"}
        command = [
            sys.executable, "-m", "pytest", "--pyargs", "conformance.scenarios", "-x", "-q", "-p", "no:cacheprovider",
            "--timeout=60", "--rootdir", tmp,
        ]  # fmt: skip
        started = time.monotonic()
        try:
            done = subprocess.run(command, cwd=tmp, env=env, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return "timed-out", time.monotonic() - started
        # 0: every check passed; anything else is a failed check, or a mutant that broke loading.
        return ("survived" if done.returncode == 0 else "killed"), time.monotonic() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=24, help="mutants to run (a seeded sample)")
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--module", action="append", choices=sorted(MODULES), help="only these modules")
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=300, help="seconds per mutant before it counts as timed-out")
    args = parser.parse_args(argv)

    pool = [m for name in (args.module or sorted(MODULES)) for m in mutants(MODULES[name])]
    chosen = random.Random(args.seed).sample(pool, min(args.limit, len(pool)))
    print(f"{len(pool)} mutants possible; running {len(chosen)} (seed {args.seed}, {args.parallel} at once)")
    # The unmutated copy must pass, or every mutant would count as killed.
    outcome, seconds = run_checks(MODULES["sessions"], (ROOT / MODULES["sessions"]).read_text(), args.timeout)
    print(f"  baseline (no mutation): {'passes' if outcome == 'survived' else outcome} ({seconds:.0f} s)")
    if outcome != "survived":
        print("the unmutated reference does not pass the scenario checks: no score")
        return 2
    results: dict[str, list[Mutant]] = {"killed": [], "survived": [], "timed-out": [], "equivalent-looking": []}
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.parallel)) as workers:
        futures = {workers.submit(run_mutant, m, args.timeout): m for m in chosen}
        for future in concurrent.futures.as_completed(futures):
            mutant = futures[future]
            outcome, seconds = future.result()
            results[outcome].append(mutant)
            print(f"  {outcome:<19} {mutant.module}:{mutant.line} {mutant.operator} ({seconds:.0f} s)", flush=True)

    for mutant in sorted(results["survived"], key=lambda m: (m.module, m.line)):
        print(f"\nSURVIVED {mutant.module}:{mutant.line} ({mutant.operator})")
        print(mutant.diff())
    # Timed-out mutants hung the suite (an ERROR, not a FAIL): listed, left out of the score.
    counted = len(results["killed"]) + len(results["survived"])
    score = len(results["killed"]) / counted if counted else 0.0
    print("\n" + ", ".join(f"{k}: {len(v)}" for k, v in results.items()))
    print(f"mutation score: {score:.0%} ({len(results['killed'])} killed of {counted} killed or survived)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
