"""The fuzz phase: property-based and stateful testing of the REST API from
openapi/realtimekit.yaml, with schemathesis.

Run it with `conformance run` (all phases) or `conformance run --phase fuzz`; replay a run
with `--seed N`; size it with `--fuzz-examples N`, `--fuzz-time S`, `--fuzz-preset nightly`.

How it works. One campaign per run drives the `st` command line in a child process
(campaign.py) against the configured target over its socket: the examples, coverage, fuzzing
and stateful (links, inferred links) phases, every check on, plus `error_envelope` (hooks.py).
Its NDJSON event stream is read back (findings.py) and each failure is judged (checks.py):
only what a public source backs FAILs a MUST — API-01 (a 5xx; a status, content type, header
or body the description does not allow), API-02 (the error envelope), PERM-04 (an operation
that works without credentials); what rests on the suite's own conventions (negative/positive
data, unlisted methods, use after free, resource availability, an undocumented 4xx) warns
under API-03, a SHOULD; a method Cloudflare's description has is no finding at all.

Why the command line in a child process, not schemathesis' pytest integration:
- Verdicts to trust: the CLI's engine is the one that runs all four phases, the stateful
  phase with link inference and the resource pool, and `ignored_auth` once per operation (in
  the pytest integration it adds two probes to every call and is the expensive part), and a
  run where everything is 401 can be made to fail (`[warnings] fail-on = ["missing_auth"]`,
  and the outcome's own count of refused requests).
- Reproducibility: one `seed`, one worker, no example database, no crash cache, a private
  working directory; the request sequence of a seeded run against a fresh target repeats
  (tests/test_fuzz.py compares two).
- Readable failures: the event stream holds every request of a failing chain, from which each
  failure gets a curl reproduction (the admin token written as $RTK_API_TOKEN); failures are
  grouped per requirement, with the full list filed as the check's evidence.
- Time: the child has its own interpreter, so on two cores it does not share a GIL with the
  embedded reference it fuzzes; and the CLI's budgets (max examples, max time) are the ones
  the `--fuzz-*` flags map to.
- Isolation: a hard deadline stops the child (and its process group) whatever it is doing.

Safe on a shared staging target: the hooks name what the fuzzer creates with the run id,
point its webhooks nowhere, confine every changing request to resources the campaign created
itself, pace requests to `limits.requests_per_10s` (not with the embedded reference, which has
no limit), wait out Retry-After; afterwards cleanup.py retires what was created (meetings
INACTIVE, webhooks and presets deleted) and lists anything left behind.
"""
