"""Benchmarks: ``python -m bench`` (``make bench``) runs them all, ``python -m bench firms`` one.

Each benchmark is a module of this package with ``run(env, *, requests)`` that prints its
figures; ``bench.__main__.BENCHMARKS`` lists them in the order they run. They share one
``harness.Environment``: a database migrated and seeded once (``seed-demo``, district scale
unless told otherwise). Figures are printed, never asserted.
"""
