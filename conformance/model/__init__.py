"""The model phase: random interleavings of join, leave, kick, end and INACTIVE, each step
checked against an executable model of the catalogue's rules.

- rules.py   the model: pure Python, no I/O; every rule names the requirement IDs it stands for
- story.py   a run of steps in plain words, and the replay file format
- drive.py   carries a step out on any target through the suite's client, driver, receiver, clock
- machine.py the Hypothesis rule-based state machine, budgets, seeding, shrinking, replay
- test_model.py the phase's checks: one per requirement the model judges
- replays/    stored regression stories (each model fault's shrunk replay, and stories for the
              checks no other fault reached), told before every random walk

Run it with `conformance run --phase model`; replay a failure with `--replay FILE`.
"""
