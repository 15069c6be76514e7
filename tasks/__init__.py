"""Prefect tasks: thin wrappers over amlops.azure that add retries, logging and concurrency."""
