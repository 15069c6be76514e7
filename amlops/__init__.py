"""The library (no Prefect): models and the decisions, pure (amlops.move, fleet, training, approvals, pacing), and
the gateway to Azure (amlops.azure, the only code that calls Azure SDKs).

One rule for every layer: decisions in amlops/ (pure, unit-tested), I/O in amlops/azure/ and tasks/, ordering and
recording in flows/.
"""
