"""The contracts phase: the target verified as the provider of the committed consumer pacts.

Every interaction of every pact in `contracts/pacts/` (bundled in the wheel) is one check,
tagged with the requirement it evidences. Provider states are set up on the target through
its own API and the participant driver, and torn down afterwards; message interactions are
produced by causing the real event on the target and capturing its webhook delivery.
"""

import os

# The pact FFI reports usage to a metrics service unless told not to; a conformance run does
# not phone home.
os.environ.setdefault("PACT_DO_NOT_TRACK", "true")
