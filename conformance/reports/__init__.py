"""The reports of a run: one model (stream.py) read from the results stream, and one writer
module per format, each a consumer of that model.

    reports/<run-id>/
      results.jsonl     the stream: one JSON object per check (written by the pytest plugin)
      evidence/         what each check exchanged and saw (see evidence_files.py for the layout)
      results.json      machine-readable: versioned schema, redacted configuration (json_report.py)
      junit.xml         one testcase per check, for CI (junit.py)
      report.html       one self-contained page for people (html.py)
      certificate.json  only when every claimed MUST passed (certificate.py)
    reports/latest      the newest run (latest.py)
"""
