"""Benchmarks of the toolkit's cycle (issue 8): `python -m benchmarks.generate`, `python -m benchmarks.run`."""
