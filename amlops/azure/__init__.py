"""The only code that calls Azure SDKs: typed gateway functions, one module per resource kind, returning
amlops.models. It imports models, never decision modules.

One rule for every layer: decisions in amlops/ (pure, unit-tested), I/O in amlops/azure/ and tasks/, ordering and
recording in flows/.
"""
