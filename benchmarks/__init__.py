"""Benchmarks: ``python -m benchmarks NAME`` prints figures as ratios to a baseline measured in the same run.

They are never pass/fail: targets are named in the issues and the figures reached in docs/benchmarks.md.
"""
