"""The scenario suite: one file per behaviour family, each test tagged with its requirement IDs.

Run it through `conformance run`, or directly: `pytest --pyargs conformance.scenarios`.
"""
