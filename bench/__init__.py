"""Benchmarks of kie-instrumental: `make bench` (python -m bench). Times are reported as ratios
against a baseline measured in the same run; counts and microseconds as they are."""
