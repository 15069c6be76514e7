"""Prefect tasks: reads and writes through amlops.azure, with retries, logging and concurrency. They gather facts
and carry out actions; every decision is a call into amlops.

One rule for every layer: decisions in amlops/ (pure, unit-tested), I/O in amlops/azure/ and tasks/, ordering and
recording in flows/.
"""
