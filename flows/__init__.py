"""Prefect flows: one module per flow. A flow composes tasks and holds the decisions."""
