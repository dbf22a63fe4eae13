"""The command line: `conformance serve | run | init | diff | selftest | faults`. Thin on purpose: each
command parses flags and hands over to the module that does the work."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

from conformance import __version__
from conformance.errors import ConfigError, ConformanceError


def _serve(args: argparse.Namespace) -> int:
    import tempfile

    from conformance.reference.app import Credentials, ReferenceSettings, build
    from conformance.reference.server import Endpoints, bind, configure_logging, serve_foreground

    configure_logging(args.log_level.upper())
    creds = Credentials()
    for field, env in (
        ("admin_token", "RTK_REFERENCE_ADMIN_TOKEN"),
        ("readonly_token", "RTK_REFERENCE_READONLY_TOKEN"),
        ("no_permission_token", "RTK_REFERENCE_NO_PERMISSION_TOKEN"),
        ("other_token", "RTK_REFERENCE_OTHER_TOKEN"),
    ):
        if os.environ.get(env):
            setattr(creds, field, os.environ[env])
    creds.account_id = args.account_id or creds.account_id
    creds.app_id = args.app_id or creds.app_id
    db = args.db or str(Path(tempfile.mkdtemp(prefix="rtk-reference-")) / "reference.sqlite3")
    settings = ReferenceSettings(
        db_path=db,
        credentials=creds,
        host_grace_seconds=args.host_grace_seconds,
        test_clock=args.test_clock,
        faults=tuple(args.fault),
        requests_per_10s=args.requests_per_10s,
    )
    reference = build(settings)
    sock = bind(args.host, args.port)
    serve_foreground(reference, sock, Endpoints(args.host, sock.getsockname()[1]), args.log_level)
    return 0


def _run(args: argparse.Namespace) -> int:
    from conformance import run_flags
    from conformance.runner import RunRequest, list_checks, resolve, run, summary

    request = RunRequest(
        config_path=Path(args.config) if args.config else None,
        overrides=run_flags.overrides(args),
        requirements=args.requirement or [],
        faults=args.reference_fault or [],
        workers=args.workers,
        phases=args.phase or [],
        expect=Path(args.expect) if args.expect else None,
        rerun_failed=Path(args.rerun_failed) if args.rerun_failed else None,
        compare=Path(args.compare) if args.compare else None,
        model_replay=str(Path(args.replay).resolve()) if args.replay else None,
        model_preset=args.model_preset,
    )
    if args.list:
        text, code = list_checks(request)
        print(text)
        return code
    if args.repeat > 1:
        from conformance.flake import repeat

        base = resolve(request)[1].run_id
        report = repeat(request, args.repeat, base)
        print(report.summary())
        return report.exit_code
    outcome = run(request)
    print(summary(outcome))
    return outcome.exit_code


def _diff(args: argparse.Namespace) -> int:
    from conformance.compare import diff_dirs, render

    comparison = diff_dirs(Path(args.before), Path(args.after))
    print(render(comparison))
    return 1 if comparison.new_failures else 0


def _selftest(args: argparse.Namespace) -> int:
    from conformance import kill_matrix
    from conformance.selftest import matrix, selftest

    clean, results = selftest(args.fault or None, full=args.full, parallel=args.parallel, late_only=args.late)
    print(matrix(clean, results))
    kills = kill_matrix.build(clean, results)
    print("\n" + kills.summary())
    if args.json:
        kills.write(Path(args.json))
    survivors = [r.fault.name for r in results if not r.caught]
    if args.record_known and clean.exit_code == 0 and not survivors:
        # Only a selftest that proved itself says what a fault is seen breaking.
        from conformance import known_breaks

        print(f"\nrecorded what {len(results)} fault(s) were seen breaking in {known_breaks.record(kills, args.full)}")
    if clean.exit_code != 0:
        print(f"\nthe clean reference did not pass every check (exit {clean.exit_code}); see {clean.run_dir}")
        return 1
    if survivors:
        print(f"\n{len(survivors)} fault(s) survived: {', '.join(survivors)}")
        return 1
    # Only the whole fault list can prove a check is never red; a --fault subset just reports.
    if kills.never_red and not (args.fault or args.late):
        print(f"\n{len(kills.never_red)} check(s) no fault turned red (listed above)")
        return 1
    print(f"\nall {len(results)} faults caught; the clean reference passed every check")
    return 0


def _faults(args: argparse.Namespace) -> int:
    from conformance import known_breaks
    from conformance.reference.faults import FAULTS

    known = known_breaks.load()
    print(f"{'fault':<36} {'declared':<22} {'also seen breaking':<22} what it does")
    for fault in FAULTS.values():
        row = known.get(fault.name)
        seen = [rid for rid in row["seen"] if rid not in fault.requirements] if row else []
        also = ",".join(seen) if row else "(not yet seen)"
        print(f"{fault.name:<36} {','.join(fault.requirements):<22} {also or '-':<22} {fault.description}")
    print(
        "\ndeclared: the requirements whose checks must catch the fault; also seen breaking: other requirements "
        f"whose checks the selftest saw it turn red ({known_breaks.KNOWN.name}; refresh: {known_breaks.REFRESH})"
    )
    return 0


def _init(args: argparse.Namespace) -> int:
    from conformance import init

    if args.from_serve:
        text = sys.stdin.read() if args.from_serve == "-" else Path(args.from_serve).read_text(encoding="utf-8")
        plan = init.from_serve(init.read_ready_line(text), classroom=args.classroom)
    elif args.base_url:
        if args.classroom:
            raise ConfigError("--classroom only with --from-serve --test-clock; add it to target.profiles by hand")
        missing = [flag for flag, value in (("--account-id", args.account_id), ("--app-id", args.app_id)) if not value]
        if missing:
            raise ConfigError(f"--base-url needs {' and '.join(missing)}")
        plan = init.from_base_url(
            args.base_url, args.account_id, args.app_id, args.realtime_url, args.test_clock, dict(os.environ)
        )
    else:
        raise ConfigError("init needs --from-serve FILE (or - for stdin) or --base-url URL")
    written = init.write(plan, Path(args.dir), force=args.force)
    for path in written:
        print(f"wrote {path}")
    for note in plan.notes:
        print(f"note: {note}")
    print(f"next: conformance run --config {written[0]}")
    return 0


def parser() -> argparse.ArgumentParser:
    from conformance import run_flags

    top = argparse.ArgumentParser(prog="conformance", description="RealtimeKit end-session conformance suite")
    top.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = top.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the bundled reference implementation")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=0, help="0 picks a free port")
    serve.add_argument("--db", default=None, help="SQLite file (default: a new temporary file)")
    serve.add_argument("--host-grace-seconds", type=float, default=900.0)
    serve.add_argument("--account-id", default=None)
    serve.add_argument("--app-id", default=None)
    serve.add_argument("--test-clock", action="store_true", help="enable POST /_conformance/clock/advance")
    serve.add_argument("--fault", action="append", default=[], help="switch a fault on (see `conformance faults`)")
    serve.add_argument(
        "--requests-per-10s",
        type=int,
        default=None,
        help="answer 429 + Retry-After past N REST requests per account in any 10 s (RealtimeKit: 250)",
    )
    serve.add_argument("--log-level", default="info")
    serve.set_defaults(func=_serve)

    run = sub.add_parser("run", help="run the conformance suite (default: against the bundled reference)")
    run.add_argument("--config", help="target configuration TOML (see README)")
    run_flags.add_to(run)  # the flags that set a configuration value (one table: run_flags.py)
    run.add_argument("--requirement", action="append", help="run only this requirement (repeatable)")
    run.add_argument("--reference-fault", action="append", help="embedded reference only: switch a fault on")
    run.add_argument("--phase", action="append", help="only this phase: scenarios, fuzz, contracts (repeatable)")
    run.add_argument("--workers", type=int, default=None, help="parallel test processes")
    run.add_argument(
        "--repeat", type=int, default=1, help="flake gate: run N times in random orders, report checks that flip"
    )
    run.add_argument("--replay", metavar="FILE", help="model phase: run this saved story (evidence/model/*.json)")
    run.add_argument("--model-preset", choices=["default", "nightly"], help="model phase budget preset")
    run.add_argument("--expect", metavar="FILE", help="expectation file: known failures by requirement ID")
    run.add_argument("--rerun-failed", metavar="RUN_DIR", help="run only the checks that did not pass in that run")
    run.add_argument("--list", action="store_true", help="show the checks this run would run, and run nothing")
    run.add_argument(
        "--compare",
        metavar="RUN_DIR",
        help="compare with that run (default: the newest earlier run of the same target and selection)",
    )
    run.set_defaults(func=_run)

    diff = sub.add_parser("diff", help="compare two runs: new failures, fixes, flips (exit 1 on a new failure)")
    diff.add_argument("before", help="the earlier run folder (reports/<run-id> or reports/latest)")
    diff.add_argument("after", help="the later run folder")
    diff.set_defaults(func=_diff)

    st = sub.add_parser("selftest", help="prove every check can fail: run the suite against each fault")
    st.add_argument("--fault", action="append", help="only this fault (repeatable)")
    st.add_argument("--full", action="store_true", help="run every check against every fault")
    st.add_argument("--parallel", type=int, default=3, help="runs at once (they mostly wait on the target)")
    st.add_argument("--late", action="store_true", help="only the late faults (run without the test clock)")
    st.add_argument("--json", metavar="PATH", help="write the per-check kill matrix (checks x faults) as JSON")
    st.add_argument(
        "--record-known",
        action="store_true",
        help="after a passing selftest, record what each fault run was seen breaking (`conformance faults`)",
    )
    st.set_defaults(func=_selftest)

    ini = sub.add_parser("init", help="write a commented target.toml and a git-ignored secrets/ folder")
    ini.add_argument("--from-serve", metavar="FILE", help="the ready line of `conformance serve` (- reads stdin)")
    ini.add_argument("--base-url", help="your implementation's REST base URL (…/client/v4)")
    ini.add_argument("--account-id")
    ini.add_argument("--app-id")
    ini.add_argument("--realtime-url", help="websocket endpoint for the suite's participants")
    ini.add_argument("--test-clock", action="store_true", help="your server offers POST /_conformance/clock/advance")
    ini.add_argument("--classroom", action="store_true", help="also claim classroom (needs serve --test-clock)")
    ini.add_argument("--dir", default=".", help="where to write target.toml and secrets/ (default: here)")
    ini.add_argument("--force", action="store_true", help="overwrite an existing target.toml")
    ini.set_defaults(func=_init)

    faults = sub.add_parser(
        "faults", help="list the reference implementation's faults: requirements declared, and seen breaking"
    )
    faults.set_defaults(func=_faults)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        return args.func(args)
    except ConformanceError as error:
        print(f"conformance: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("conformance: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
