"""The application: the `amlops` command. It may import flows and deployments (and so Prefect); the
library, ``amlops``, imports nothing from here or from flows, tasks and deployments.

Layers: app -> deployments -> flows -> tasks -> amlops.azure -> Azure SDKs.
"""
