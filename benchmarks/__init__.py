"""Benchmarks of the QA engine (scripts, not tests); see bench.py."""
