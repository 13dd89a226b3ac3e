"""Benchmarks: one script per measurement (``bench/eft.py``, ``renders.py``, ``hits.py``,
``fits.py``, ``imports.py``, ``publish.py``) and the runner that runs them all and writes ``bench/REPORT.md``
(``.venv/bin/python bench/run.py``; ``make bench``)."""
