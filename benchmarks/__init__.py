"""Benchmarks of p4dp-matcher (outside the test suite); entry point ``python -m benchmarks.run``."""
