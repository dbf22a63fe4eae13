"""Deliberately broken behaviours, each proving that some check of the suite can fail.

Every fault names the requirement(s) whose checks must catch it. A fault is applied from
outside: it wraps methods on one built `Reference` instance (or wraps its ASGI app), so the
reference implementation itself carries no test-only branches. `conformance serve --fault
NAME` and `conformance selftest` switch them on. One module per area; importing this package
registers them all.
"""

from conformance.reference.faults import contracts, fuzz, late, model, rest, sessions, webhooks  # noqa: F401  (registers)
from conformance.reference.faults.base import FAULTS, Fault, apply_faults, fault

__all__ = ["FAULTS", "Fault", "apply_faults", "fault"]
