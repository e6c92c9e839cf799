"""The throughput and latency benchmark: the services under load, beside a bare chain.

`make bench` (or `python -m bench --help`) runs it; docs/performance.md says what it measures.
"""
