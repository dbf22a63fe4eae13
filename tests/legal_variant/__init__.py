"""A second RealtimeKit implementation for the project's own tests: the bundled reference,
wrapped from outside so that it makes the *other* legal choice wherever Cloudflare's public
material allows two (issue 11, point 8).

The suite must pass it. A check that fails it is judging the suite's own choices, not
RealtimeKit's, so every future over-specification shows up as a red project test.

`python -m tests.legal_variant --port 0 --test-clock` serves it and prints one JSON line when
ready, exactly like `conformance serve`.
"""
