"""Benchmarks: performance scripts (fanout.py, context_load.py, ...), long-context task suites
(benchmarks/suites), their runner (python -m benchmarks.run) and the report (benchmarks/report.py)."""
