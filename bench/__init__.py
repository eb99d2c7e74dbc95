"""The benchmark suite (``python -m bench`` or ``python bench/run.py``); see docs/BENCHMARKS.md. Never deployed."""
