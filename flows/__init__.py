"""Prefect flows, one module per flow: they order tasks, pause for people and record progress (a move's manifest).
What to do is decided in amlops, never here.

One rule for every layer: decisions in amlops/ (pure, unit-tested), I/O in amlops/azure/ and tasks/, ordering and
recording in flows/.
"""
